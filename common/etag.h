#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"

namespace outreach {

// An etag is a hash of the resource's deterministic serialization with its etag field cleared;
// any change (including update_time) changes it. Returned as 16 hex digits in quotes-free form.
std::string ComputeEtag(const google::protobuf::Message& resource);

// INVALID_ARGUMENT naming `field` when `etag` is empty: every Update, Delete and state change
// must say which version it changes. Checked with the other input, before any store access.
absl::Status RequireEtag(absl::string_view field, absl::string_view etag);

// OK when `provided` equals `current`. An empty `provided` is INVALID_ARGUMENT naming `field`
// (every Update, Delete and state change must say which version it changes); any other value
// is ABORTED with reason ETAG_MISMATCH naming `resource_name`.
absl::Status CheckEtag(absl::string_view field, absl::string_view resource_name,
                       absl::string_view provided, absl::string_view current);

// Stamps a resource that has create_time, update_time and etag fields: update_time (and, when
// `created`, create_time) become `now`, then the etag is recomputed. The one etag strategy of
// the suite: stamped into the stored body on every write, returned as stored.
void StampResource(google::protobuf::Message* resource, absl::Time now, bool created);

// A stable hash of a request body, for request_id idempotency (same id, different body).
std::string RequestHash(const google::protobuf::Message& request);

}  // namespace outreach
