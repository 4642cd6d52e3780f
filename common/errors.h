#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace outreach {

// Domain errors are absl::Status values built with the helpers below. Their messages are written
// for callers and are marked as such; any other status (SQLite text, exceptions, a library's
// message) is treated as internal: its text is logged and replaced before it reaches a caller.
// One function, ToGrpcStatus, turns either kind into a grpc::Status carrying a google.rpc.Status
// with ErrorInfo (reason, domain) and, for invalid input, BadRequest field violations.

struct FieldViolation {
  std::string field;        // dotted path, e.g. "workshop.venue" or "page_size"
  std::string description;  // what is wrong and what is allowed
};

// INVALID_ARGUMENT for one field (reason INVALID_ARGUMENT).
absl::Status InvalidArgument(absl::string_view field, absl::string_view description);
// INVALID_ARGUMENT listing every bad field at once.
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
// PERMISSION_DENIED with a reason.
absl::Status PermissionDenied(absl::string_view reason, absl::string_view message);

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

// Maps a status to the wire. `domain` is the ErrorInfo domain, e.g. "outreach.workshops.v1".
// Internal statuses are logged (with `method` for context) and answered with a generic message.
grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view domain,
                          absl::string_view method = "");

}  // namespace outreach
