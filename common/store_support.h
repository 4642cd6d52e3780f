#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db.h"
#include "common/etag.h"
#include "outreach/events/v1/events.pb.h"

namespace outreach {

// Tables every service store shares: the request_id ledger, the transactional outbox and the
// audit log (common/audit.h). Add
// CommonMigrations() to the schema passed to db::Database::Open.
db::MigrationSet CommonMigrations();

// --- request_id idempotency (AIP-155) ----------------------------------------------------
// request_id idempotency of one create (AIP-155): the client's id (empty = none) and the hash
// of the request body, so the same id with another body is refused.
struct RequestKey {
  std::string request_id;
  std::string request_hash;
};
template <typename Request>
RequestKey RequestKeyOf(const Request& request) {
  return {request.request_id(), RequestHash(request)};
}

// Inside the write transaction of a create: look the request up first; if it was seen, return
// the stored response instead of acting again. Remember the response in the same transaction
// as the change, so a crash can never leave one without the other.
class RequestLedger {
 public:
  // The response stored for (method, request_id), or nullopt when unseen. FAILED_PRECONDITION
  // reason REQUEST_ID_REUSED when the id was used with a different request body.
  // Requests are scoped to a force and a method: the same request_id under two forces is two
  // requests.
  static absl::StatusOr<std::optional<std::string>> Find(db::Connection& tx,
                                                         absl::string_view force,
                                                         absl::string_view method,
                                                         absl::string_view request_id,
                                                         absl::string_view request_hash);
  static absl::Status Remember(db::Connection& tx, absl::string_view force,
                               absl::string_view method, absl::string_view request_id,
                               absl::string_view request_hash, absl::string_view response,
                               absl::Time now);
  // Forgets requests remembered before `cutoff` (the API promises at least 7 days).
  static absl::Status Forget(db::Connection& tx, absl::Time cutoff);
};

// Validates a client request_id: empty (no idempotency) or 1..64 printable ASCII characters.
absl::Status ValidateRequestId(absl::string_view request_id);

// --- transactional outbox (docs/architecture.md "Events") --------------------------------
struct PendingEvent {
  int64_t sequence = 0;
  outreach::events::v1::OutreachEvent event;
  absl::Time created;
};

struct OutboxStats {
  int64_t backlog = 0;                      // unsent events
  std::optional<absl::Time> oldest_unsent;  // created time of the oldest unsent event
};

class Outbox {
 public:
  // Stores `event` in the caller's write transaction. Assigns event_id when empty. The event
  // must name its force, source and occurred_time. Marks the transaction with
  // Connection::NotifyOnCommit, so this process's publisher wakes once it commits.
  static absl::Status Append(db::Connection& tx, outreach::events::v1::OutreachEvent event,
                             absl::Time now);
  // Unsent events in commit order, at most `limit`.
  static absl::StatusOr<std::vector<PendingEvent>> Pending(db::Connection& tx, int limit);
  // Marks the unsent events of `force` with sequence in [first, last] as sent: the run the
  // publisher read and delivered. (Not "everything up to last": on PostgreSQL an event of another
  // transaction may still commit with a lower sequence; Append's per-force lock keeps such a late
  // event out of this force's delivered range.)
  static absl::Status MarkSent(db::Connection& tx, absl::string_view force, int64_t first,
                               int64_t last, absl::Time now);
  static absl::StatusOr<OutboxStats> Stats(db::Connection& tx);
};

}  // namespace outreach
