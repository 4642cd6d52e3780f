#pragma once

// The wire side of common/errors.h: the one place a domain status becomes a grpc::Status, and
// the one wrapper every handler runs in. Only service classes (and common's runtime) include
// this; domain and store code stay on absl::Status.

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/security/interceptor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace outreach {

// Maps a status to the wire: a grpc::Status carrying a google.rpc.Status with ErrorInfo (reason,
// `domain`, metadata) first and BadRequest field violations for invalid input. Internal statuses
// are logged (with `method` for context) and answered with a generic message.
grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view domain,
                          absl::string_view method = "");

// UNAVAILABLE with reason SERVER_DRAINING: the server is shutting down; the caller reconnects
// (to another replica) and continues. Ends long-lived streams on drain.
grpc::Status ServerDraining(absl::string_view domain);

// One service's handlers: its ErrorInfo domain and the fully-qualified method prefix, so that a
// handler body returns an absl::Status and Run maps it to the wire in one place:
//   return kHandlers.Run(ctx, "GetVenue", [&]() -> absl::Status { ... });
// Run is also where the security layer's decision is enforced for every handler: the body runs
// only when the interceptor authenticated the caller, found the method in the policy for one of
// its roles and every force the request names among its forces (common/security/interceptor.h);
// a call it never saw is refused. The call's audit record is written from here.
struct ServiceHandlers {
  absl::string_view domain;         // e.g. "outreach.workshops.v1"
  absl::string_view method_prefix;  // e.g. "/outreach.workshops.v1.WorkshopsService/"

  template <typename Fn>
  grpc::Status Run(const grpc::ServerContextBase* context, absl::string_view method,
                   Fn&& fn) const {
    security::CallGuard guard(context);
    absl::Status status = guard.status();
    if (status.ok()) status = std::forward<Fn>(fn)();
    guard.Finish(status);
    return Wire(status, method);
  }

  // `status` as this service's method `method` answers it.
  grpc::Status Wire(const absl::Status& status, absl::string_view method) const {
    if (status.ok()) return grpc::Status::OK;
    return ToGrpcStatus(status, domain, absl::StrCat(method_prefix, method));
  }
};

}  // namespace outreach
