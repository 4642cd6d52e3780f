#pragma once

// Unary handlers on gRPC's callback API. A call is answered on gRPC's own thread when the answer
// needs no I/O (e.g. a near-cache hit: no hand-off between threads, which is most of what a
// cached read costs on the sync API) and otherwise on a WorkPool, so that no gRPC thread ever
// waits on the store. Both paths run inside the security decision exactly like
// ServiceHandlers::Run (common/grpc_status.h), which the pool's part is.
//
// A raw method (the generated WithRawCallbackMethod_X: request and reply as bytes) lets a cached
// reply go out as the stored bytes, without parsing and re-serializing the message. Its handler
// parses the request itself (RawQuickOrBlocking), so bytes that do not parse are the caller's
// INVALID_ARGUMENT, and the security interceptor, which cannot read a raw request, leaves the
// request's scope (its forces) to the handler's CallGuard: the service declares such methods
// with security::DeclareRawRequestMethods when it is built.

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/security/interceptor.h"
#include "common/work_pool.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/server_callback.h"

namespace outreach {

// `text` (a serialized message) as a raw reply.
inline grpc::ByteBuffer ReplyBytes(const std::string& text) {
  grpc::Slice slice(text);
  return grpc::ByteBuffer(&slice, 1);
}

struct CallbackHandlers {
  const ServiceHandlers* handlers;
  WorkPool* pool;

  // Runs `fn` (absl::Status(), may block) on the pool and finishes the call with its outcome;
  // RESOURCE_EXHAUSTED (OVERLOADED) at once when the pool's queue is full.
  template <typename Fn>
  grpc::ServerUnaryReactor* Blocking(grpc::CallbackServerContext* context, absl::string_view method,
                                     Fn fn) const {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    Offload(context, reactor, method, std::move(fn));
    return reactor;
  }

  // A raw-request method: parses `bytes` as a Request and takes the security decision with it;
  // once the caller is admitted runs `quick` (absl::StatusOr<bool>(const Request&,
  // grpc::ByteBuffer* reply), must not block) on gRPC's thread: true means it filled `reply`
  // (the call ends OK), false hands the call to `slow` (absl::StatusOr<Response>(const
  // Request&), may block) on the pool, whose message becomes the reply; an error ends the call
  // with it. A refused caller never reaches either.
  template <typename Request, typename Quick, typename Slow>
  grpc::ServerUnaryReactor* RawQuickOrBlocking(grpc::CallbackServerContext* context,
                                               absl::string_view method,
                                               const grpc::ByteBuffer* bytes,
                                               grpc::ByteBuffer* reply, Quick quick,
                                               Slow slow) const {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    Request request;
    grpc::ByteBuffer view(*bytes);  // shares the slices: Deserialize consumes its input
    const bool parsed = grpc::SerializationTraits<Request>::Deserialize(&view, &request).ok();
    {
      security::CallGuard guard(context, parsed ? &request : nullptr);
      absl::Status status = guard.status();
      bool answered = false;
      if (status.ok()) {
        absl::StatusOr<bool> got = quick(request, reply);
        if (got.ok()) {
          answered = *got;
        } else {
          status = got.status();
        }
      }
      if (!status.ok() || answered) {
        guard.Finish(status);
        reactor->Finish(handlers->Wire(status, method));
        return reactor;
      }
    }
    Offload(context, reactor, method,
            [request = std::move(request), reply, slow = std::move(slow)]() mutable {
              auto response = slow(request);
              if (!response.ok()) return response.status();
              *reply = ReplyBytes(response->SerializeAsString());
              return absl::OkStatus();
            });
    return reactor;
  }

 private:
  template <typename Fn>
  void Offload(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
               absl::string_view method, Fn fn) const {
    const bool queued = pool->TrySubmit(
        [h = handlers, context, reactor, name = std::string(method), fn = std::move(fn)]() mutable {
          reactor->Finish(h->Run(context, name, fn));
        });
    if (!queued) {
      reactor->Finish(handlers->Wire(Overloaded(), method));
    }
  }
};

}  // namespace outreach
