#pragma once

// Unary handlers on gRPC's callback API. A call is answered on gRPC's own thread when the answer
// needs no I/O (e.g. a near-cache hit: no hand-off between threads, which is most of what a
// cached read costs on the sync API) and otherwise on a WorkPool, so that no gRPC thread ever
// waits on the store. Both paths run inside the security decision exactly like
// ServiceHandlers::Run (common/grpc_status.h), which the pool's part is.

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/security/interceptor.h"
#include "common/work_pool.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

namespace outreach {

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

  // Runs `quick` (absl::StatusOr<bool>(), must not block) on gRPC's thread once the caller is
  // admitted: true means it filled the response (the call ends OK), false hands the call to
  // `fn` on the pool, an error ends the call with it. A refused caller never reaches either.
  template <typename Quick, typename Fn>
  grpc::ServerUnaryReactor* QuickOrBlocking(grpc::CallbackServerContext* context,
                                            absl::string_view method, Quick quick, Fn fn) const {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    {
      security::CallGuard guard(context);
      absl::Status status = guard.status();
      bool answered = false;
      if (status.ok()) {
        absl::StatusOr<bool> got = quick();
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
    Offload(context, reactor, method, std::move(fn));
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
