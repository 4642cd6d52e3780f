#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace outreach {

// Domain errors are absl::Status values built with the helpers below. Their messages are written
// for callers and are marked as such; any other status (SQLite text, exceptions, a library's
// message) is treated as internal: its text is logged and replaced before it reaches a caller.
// PublicView turns either kind into what a caller may see; ToGrpcStatus (common/grpc_status.h)
// puts that on the wire as a google.rpc.Status with ErrorInfo (reason, domain) and, for invalid
// input, BadRequest field violations, and ToHttpError gives the same answer to HTTP routes.
// This header is absl-only so that domain and store code never depend on gRPC.

struct FieldViolation {
  std::string field;        // dotted path, e.g. "workshop.venue" or "page_size"
  std::string description;  // what is wrong and what is allowed
  // A refusal with a reason of its own (e.g. PERSONAL_DATA_REFUSED, common/validation.h), or
  // empty. BadRequest has no per-field reason, so InvalidArguments sends the first one as the
  // ErrorInfo reason with metadata `field` naming the violation it belongs to.
  std::string reason = {};
};

// INVALID_ARGUMENT for one field (reason INVALID_ARGUMENT).
absl::Status InvalidArgument(absl::string_view field, absl::string_view description);
// INVALID_ARGUMENT listing every bad field at once; reason INVALID_ARGUMENT, or the reason of
// the first violation that has one.
absl::Status InvalidArguments(std::vector<FieldViolation> violations);
// INVALID_ARGUMENT with a specific reason (e.g. INVALID_PAGE_TOKEN) and the field at fault.
absl::Status InvalidArgumentWithReason(absl::string_view reason, absl::string_view field,
                                       absl::string_view description);
// NOT_FOUND (reason RESOURCE_NOT_FOUND) naming the resource.
absl::Status NotFound(absl::string_view resource_name);
// ALREADY_EXISTS (reason RESOURCE_ALREADY_EXISTS) naming the resource.
absl::Status AlreadyExists(absl::string_view resource_name);
// FAILED_PRECONDITION with a domain reason such as "PRESENTER_DOUBLE_BOOKED".
absl::Status FailedPrecondition(absl::string_view reason, absl::string_view message);
// ABORTED with reason ETAG_MISMATCH.
absl::Status EtagMismatch(absl::string_view resource_name);
// UNAVAILABLE (reason STORAGE_UNAVAILABLE): the store cannot be reached; retry with backoff.
absl::Status StorageUnavailable();
// RESOURCE_EXHAUSTED (reason OVERLOADED): more calls are waiting than the server takes on;
// retry with backoff.
absl::Status Overloaded();
// INVALID_ARGUMENT: the request's bytes are not a valid message of the method (invalid UTF-8 in
// a string field, truncated or foreign bytes). The caller's fault, never the server's.
absl::Status UnreadableRequest();
// PERMISSION_DENIED with a reason.
absl::Status PermissionDenied(absl::string_view reason, absl::string_view message);
// UNAUTHENTICATED with a reason such as TOKEN_EXPIRED: the caller's credentials were missing or
// refused. The message must not quote the credential.
absl::Status Unauthenticated(absl::string_view reason, absl::string_view message);

// Adds ErrorInfo metadata (e.g. {"presenter", name}, {"conflicting_workshop", name}) to a status
// built by the helpers above, so a caller can act without parsing the message. Other statuses
// are returned unchanged.
absl::Status WithMetadata(absl::Status status,
                          const std::vector<std::pair<std::string, std::string>>& metadata);

// True when the status was built by one of the helpers above (its message is caller-safe).
bool IsPublicError(const absl::Status& status);
// The ErrorInfo reason attached by the helpers, or "" when none.
std::string ErrorReason(const absl::Status& status);
// The field violations attached by the helpers.
std::vector<FieldViolation> FieldViolations(const absl::Status& status);

// What a caller may see of a status: its code, ErrorInfo reason and metadata, a caller-safe
// message and the field violations. Internal statuses are logged (with `context`, e.g. the
// method) and answered with a generic message and reason for their code.
struct PublicError {
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string reason;
  std::string message;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<FieldViolation> violations;
};
PublicError PublicView(const absl::Status& status, absl::string_view context = "");

// The same answer for an HTTP route: the status code google.rpc.Code documents for the gRPC
// code (400, 404, 409, 412, 429, 503, ...) and a JSON body {"error": {"code", "reason",
// "message", "field_violations"}} with every string escaped.
struct HttpError {
  int status = 200;
  std::string json_body;
};
HttpError ToHttpError(const absl::Status& status, absl::string_view context = "");
int HttpStatusFor(absl::StatusCode code);

}  // namespace outreach
