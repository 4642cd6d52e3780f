#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db.h"
#include "common/pagination.h"

// The audit log (DPA 2018 Part 3 s62): one record per audited call, appended in the caller's
// transaction, chained by SHA-256 so that an edited, removed or reordered record is detected.
// Which calls are audited and what their records say is decided by the security interceptor;
// this file only stores, lists, verifies and prunes.
namespace outreach::audit {

struct Record {
  std::string force;    // first force the request named; "" between services
  std::string subject;  // token sub, or "spiffe://outreach/workshops"
  std::vector<std::string> roles;
  std::string peer;                      // "ipv4:127.0.0.1:5555"
  std::string method;                    // "/outreach.training.v1.TrainingService/GetOfficer"
  std::vector<std::string> resources;    // resource names / parents named by the request
  std::vector<std::string> field_paths;  // changed paths (update_mask), never values
  std::string justification;             // metadata "x-outreach-justification", ≤ 256 chars
  absl::Time time;
  int code = 0;  // grpc/absl canonical code of the outcome
};

// A record as stored: its place in the chain and its hash (64 lowercase hex digits).
struct StoredRecord {
  int64_t seq = 0;
  Record record;
  std::string prev_hash;
  std::string hash;
};

// The longest justification kept; longer ones are cut (at a UTF-8 boundary) by Append.
inline constexpr size_t kMaxJustificationBytes = 256;

// The audit tables' migration, part of CommonMigrations() (common/store_support.cc) so every
// service's store has them. `version` is its place in the "common" component.
db::Migration AuditMigration(int version);

// Appends one record inside the caller's write transaction: seq = last+1, prev_hash = last
// hash, hash = SHA-256 over prev_hash and a canonical, length-prefixed encoding of every field.
// Also writes one structured log line (event "audit") with seq and hash, which is the witness
// of the chain outside the database.
absl::Status Append(db::Connection& c, const Record& record);

// One page of a force's records, newest first. Filters are exact matches; empty means any.
struct Query {
  std::string force;
  std::string subject;
  std::string resource;
  std::string method;
  std::optional<absl::Time> since;       // time >= since
  std::optional<absl::Time> until;       // time < until
  int32_t page_size = kDefaultPageSize;  // already normalised (NormalizePageSize)
  // Keyset cursor: only records with seq < before_seq (0 = from the newest). Records appended
  // while a caller pages never shift its later pages.
  int64_t before_seq = 0;
};
struct Page {
  std::vector<StoredRecord> records;
  int64_t next_before_seq = 0;  // 0 on the last page
};
absl::StatusOr<Page> List(db::Connection& c, const Query& query);

struct VerifyResult {
  bool ok = true;
  int64_t records_checked = 0;
  int64_t first_bad_seq = 0;  // 0 when ok
  std::string problem;        // for an operator; "" when ok
};
// Walks the whole chain (from the retention anchor) and compares its end with the head kept
// beside it. Detects an edited record, a removed one (seq gap / prev_hash mismatch), a
// reordered one and removed newest records. A broken chain is an OK status with ok=false; an
// error status means the store could not be read. Limit: the hash has no key, so someone who
// can write the database can recompute the chain (or the head) after an edit or truncation;
// only the "audit" log lines, with seq and hash, shipped off the host, witness that.
absl::StatusOr<VerifyResult> Verify(db::Connection& c);

// Retention: deletes the oldest records, up to (not including) the first one made at or after
// `before`, in the caller's write transaction, and moves the anchor (seq and hash of the last
// deleted record) so the rest still verifies. Refuses (DATA_LOSS) to delete a stretch of the
// chain that does not verify: that would destroy the evidence. Returns how many were deleted.
absl::StatusOr<int64_t> Prune(db::Connection& c, absl::Time before);

}  // namespace outreach::audit
