#pragma once

// The wire side of common/errors.h: the one place a domain status becomes a grpc::Status, and
// the one wrapper every handler runs in. Only service classes (and common's runtime) include
// this; domain and store code stay on absl::Status.

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
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
//   return kHandlers.Run("GetVenue", [&]() -> absl::Status { ... });
struct ServiceHandlers {
  absl::string_view domain;         // e.g. "outreach.workshops.v1"
  absl::string_view method_prefix;  // e.g. "/outreach.workshops.v1.WorkshopsService/"

  template <typename Fn>
  grpc::Status Run(absl::string_view method, Fn&& fn) const {
    const absl::Status status = std::forward<Fn>(fn)();
    if (status.ok()) return grpc::Status::OK;
    return ToGrpcStatus(status, domain, absl::StrCat(method_prefix, method));
  }
};

}  // namespace outreach
