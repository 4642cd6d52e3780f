#include "common/store_support.h"

#include "absl/strings/str_cat.h"
#include "common/audit.h"
#include "common/errors.h"
#include "common/resource_name.h"
#include "google/protobuf/util/time_util.h"

namespace outreach {

db::MigrationSet CommonMigrations() {
  return {"common",
          {{1, "request ledger and outbox",
            "CREATE TABLE request_ledger ("
            "  force TEXT NOT NULL,"
            "  method TEXT NOT NULL,"
            "  request_id TEXT NOT NULL,"
            "  request_hash TEXT NOT NULL,"
            "  response BLOB NOT NULL,"
            "  created_time INTEGER NOT NULL,"
            "  PRIMARY KEY (force, method, request_id));"
            "CREATE INDEX request_ledger_age ON request_ledger (created_time);"
            "CREATE TABLE outbox ("
            "  sequence INTEGER PRIMARY KEY AUTOINCREMENT,"
            "  event_id TEXT NOT NULL UNIQUE,"
            "  force TEXT NOT NULL,"
            "  payload BLOB NOT NULL,"
            "  created_time INTEGER NOT NULL,"
            "  sent_time INTEGER);"
            "CREATE INDEX outbox_unsent ON outbox (sequence) WHERE sent_time IS NULL;"},
           audit::AuditMigration(2)}};
}

absl::Status ValidateRequestId(absl::string_view request_id) {
  if (request_id.size() > 64) return InvalidArgument("request_id", "must be at most 64 characters");
  for (char c : request_id) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidArgument("request_id", "must be printable ASCII without spaces");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> RequestLedger::Find(db::Connection& tx,
                                                               absl::string_view force,
                                                               absl::string_view method,
                                                               absl::string_view request_id,
                                                               absl::string_view request_hash) {
  if (request_id.empty()) return std::optional<std::string>();
  auto q = tx.Prepare(
      "SELECT request_hash, response FROM request_ledger "
      "WHERE force = ? AND method = ? AND request_id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, force).Bind(2, method).Bind(3, request_id);
  auto row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::string>();
  if (q->Text(0) != request_hash) {
    return FailedPrecondition(
        "REQUEST_ID_REUSED",
        absl::StrCat("request_id \"", request_id,
                     "\" was already used with a different request; use a new request_id"));
  }
  return std::optional<std::string>(q->Blob(1));
}

absl::Status RequestLedger::Remember(db::Connection& tx, absl::string_view force,
                                     absl::string_view method, absl::string_view request_id,
                                     absl::string_view request_hash, absl::string_view response,
                                     absl::Time now) {
  if (request_id.empty()) return absl::OkStatus();
  auto q = tx.Prepare(
      "INSERT INTO request_ledger (force, method, request_id, request_hash, response, "
      "created_time) VALUES (?, ?, ?, ?, ?, ?)");
  if (!q.ok()) return q.status();
  q->Bind(1, force)
      .Bind(2, method)
      .Bind(3, request_id)
      .Bind(4, request_hash)
      .BindBlob(5, response)
      .Bind(6, db::ToMicros(now));
  return q->Run();
}

absl::Status RequestLedger::Forget(db::Connection& tx, absl::Time cutoff) {
  auto q = tx.Prepare("DELETE FROM request_ledger WHERE created_time < ?");
  if (!q.ok()) return q.status();
  q->Bind(1, db::ToMicros(cutoff));
  return q->Run();
}

absl::Status Outbox::Append(db::Connection& tx, outreach::events::v1::OutreachEvent event,
                            absl::Time now) {
  if (event.event_id().empty()) event.set_event_id(GenerateResourceId("ev"));
  if (event.force().empty() || event.source().empty() || !event.has_occurred_time()) {
    return absl::InternalError("outbox event lacks force, source or occurred_time");
  }
  // One force's events take their sequence numbers in commit order, also when several replicas
  // write at once (PostgreSQL), so the publisher delivers them in order and MarkSent's range can
  // never cover an event that was still uncommitted when the publisher read the outbox.
  if (absl::Status s = tx.SerializeOn(absl::StrCat("outbox.", event.force())); !s.ok()) return s;
  auto q =
      tx.Prepare("INSERT INTO outbox (event_id, force, payload, created_time) VALUES (?, ?, ?, ?)");
  if (!q.ok()) return q.status();
  q->Bind(1, event.event_id())
      .Bind(2, event.force())
      .BindBlob(3, event.SerializeAsString())
      .Bind(4, db::ToMicros(now));
  if (absl::Status s = q->Run(); !s.ok()) return s;
  // Wakes this process's publisher once the transaction commits (common/publisher.h).
  tx.NotifyOnCommit();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PendingEvent>> Outbox::Pending(db::Connection& tx, int limit) {
  auto q = tx.Prepare(
      "SELECT sequence, payload, created_time FROM outbox WHERE sent_time IS NULL "
      "ORDER BY sequence LIMIT ?");
  if (!q.ok()) return q.status();
  q->Bind(1, limit);
  std::vector<PendingEvent> out;
  while (true) {
    auto row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    PendingEvent e;
    e.sequence = q->Int64(0);
    if (!e.event.ParseFromString(q->Blob(1))) {
      return absl::DataLossError(absl::StrCat("outbox row ", e.sequence, " does not parse"));
    }
    e.created = db::FromMicros(q->Int64(2));
    out.push_back(std::move(e));
  }
  return out;
}

absl::Status Outbox::MarkSent(db::Connection& tx, absl::string_view force, int64_t first,
                              int64_t last, absl::Time now) {
  auto q = tx.Prepare(
      "UPDATE outbox SET sent_time = ? WHERE force = ? AND sequence >= ? AND sequence <= ? "
      "AND sent_time IS NULL");
  if (!q.ok()) return q.status();
  q->Bind(1, db::ToMicros(now)).Bind(2, force).Bind(3, first).Bind(4, last);
  return q->Run();
}

absl::StatusOr<OutboxStats> Outbox::Stats(db::Connection& tx) {
  auto q = tx.Prepare("SELECT COUNT(*), MIN(created_time) FROM outbox WHERE sent_time IS NULL");
  if (!q.ok()) return q.status();
  auto row = q->Step();
  if (!row.ok()) return row.status();
  OutboxStats stats;
  stats.backlog = q->Int64(0);
  if (!q->IsNull(1)) stats.oldest_unsent = db::FromMicros(q->Int64(1));
  return stats;
}

}  // namespace outreach
