#include "common/audit.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace outreach::audit {
namespace {

// --- the canonical encoding ---------------------------------------------------------------
// Every value is length-prefixed (8 bytes, big-endian), lists carry their count, integers are
// 8 bytes: no two different records encode the same, whatever bytes their strings hold.
void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}
void PutString(std::string* out, absl::string_view s) {
  PutU64(out, s.size());
  out->append(s.data(), s.size());
}
void PutList(std::string* out, const std::vector<std::string>& list) {
  PutU64(out, list.size());
  for (const std::string& s : list) PutString(out, s);
}
std::string EncodeList(const std::vector<std::string>& list) {
  std::string out;
  PutList(&out, list);
  return out;
}

bool GetU64(absl::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = 0;
  for (int i = 0; i < 8; ++i) *v = (*v << 8) | static_cast<unsigned char>((*in)[i]);
  in->remove_prefix(8);
  return true;
}
// The stored form of a list column is its canonical encoding.
bool DecodeList(absl::string_view in, std::vector<std::string>* out) {
  uint64_t count = 0;
  if (!GetU64(&in, &count)) return false;
  out->clear();
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t size = 0;
    if (!GetU64(&in, &size) || size > in.size()) return false;
    out->emplace_back(in.substr(0, size));
    in.remove_prefix(size);
  }
  return in.empty();
}

std::string RecordHash(int64_t seq, const std::string& prev_hash, const Record& r) {
  std::string message;
  PutString(&message, "outreach.audit.v1.record");  // versions the encoding itself
  PutString(&message, prev_hash);
  PutU64(&message, static_cast<uint64_t>(seq));
  PutString(&message, r.force);
  PutString(&message, r.subject);
  PutList(&message, r.roles);
  PutString(&message, r.peer);
  PutString(&message, r.method);
  PutList(&message, r.resources);
  PutList(&message, r.field_paths);
  PutString(&message, r.justification);
  PutU64(&message, static_cast<uint64_t>(db::ToMicros(r.time)));
  PutU64(&message, static_cast<uint64_t>(static_cast<int64_t>(r.code)));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(message.data(), message.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

// Cuts to at most `max` bytes without splitting a UTF-8 sequence.
std::string CutUtf8(absl::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end));
}

// --- the chain's ends ------------------------------------------------------------------------
struct Chain {
  int64_t anchor_seq = 0;  // last pruned record (0: none pruned)
  std::string anchor_hash;
  int64_t head_seq = 0;  // newest appended record
  std::string head_hash;
};

absl::StatusOr<Chain> ReadChain(db::Connection& c) {
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement q,
      c.Prepare("SELECT anchor_seq, anchor_hash, head_seq, head_hash FROM audit_chain "
                "WHERE id = 1"));
  OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return absl::DataLossError("audit_chain row is missing");
  return Chain{q.Int64(0), q.Text(1), q.Int64(2), q.Text(3)};
}

constexpr absl::string_view kColumns =
    "r.seq, r.force, r.subject, r.roles, r.peer, r.method, r.resources, r.field_paths, "
    "r.justification, r.time, r.code, r.prev_hash, r.hash";

absl::StatusOr<StoredRecord> ReadRow(const db::Statement& q) {
  StoredRecord out;
  out.seq = q.Int64(0);
  Record& r = out.record;
  r.force = q.Text(1);
  r.subject = q.Text(2);
  r.peer = q.Text(4);
  r.method = q.Text(5);
  if (!DecodeList(q.Blob(3), &r.roles) || !DecodeList(q.Blob(6), &r.resources) ||
      !DecodeList(q.Blob(7), &r.field_paths)) {
    return absl::DataLossError(absl::StrCat("audit record ", out.seq, " has a malformed list"));
  }
  r.justification = q.Text(8);
  r.time = db::FromMicros(q.Int64(9));
  r.code = static_cast<int>(q.Int64(10));
  out.prev_hash = q.Text(11);
  out.hash = q.Text(12);
  return out;
}

// Checks the chain after (from_seq, from_hash) in seq order, record by record, until `stop`
// says a record is not to be checked (it is then neither checked nor counted) or the records
// end. `last` is the last record that verified (or the starting point).
struct Walk {
  VerifyResult result;
  int64_t last_seq = 0;
  std::string last_hash;
};

absl::StatusOr<Walk> WalkChain(db::Connection& c, int64_t from_seq, std::string from_hash,
                               absl::FunctionRef<bool(const StoredRecord&)> stop) {
  Walk walk;
  walk.last_seq = from_seq;
  walk.last_hash = std::move(from_hash);
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement rows,
      c.Prepare(absl::StrCat("SELECT ", kColumns,
                             " FROM audit_records r WHERE r.seq > ? ORDER BY r.seq")));
  rows.Bind(1, from_seq);
  // The resource index is merged in step, so an index row edited or removed (which would hide
  // a record from a resource search) is caught too.
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement index,
      c.Prepare("SELECT seq, resource FROM audit_record_resources WHERE seq > ? "
                "ORDER BY seq, position"));
  index.Bind(1, from_seq);
  OUTREACH_ASSIGN_OR_RETURN(bool index_row, index.Step());
  const auto fail = [&walk](int64_t seq, std::string problem) {
    walk.result.ok = false;
    walk.result.first_bad_seq = seq;
    walk.result.problem = std::move(problem);
  };
  while (true) {
    OUTREACH_ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    absl::StatusOr<StoredRecord> got = ReadRow(rows);
    if (!got.ok()) {
      fail(rows.Int64(0), absl::StrCat("record ", rows.Int64(0), " cannot be read"));
      break;
    }
    const StoredRecord& r = *got;
    if (stop(r)) break;
    if (r.seq != walk.last_seq + 1) {
      fail(walk.last_seq + 1, absl::StrCat("record ", walk.last_seq + 1, " is missing"));
      break;
    }
    if (r.prev_hash != walk.last_hash) {
      fail(r.seq, absl::StrCat("record ", r.seq, " does not follow record ", walk.last_seq,
                               " (its prev_hash differs): one was changed or replaced"));
      break;
    }
    if (RecordHash(r.seq, r.prev_hash, r.record) != r.hash) {
      fail(r.seq, absl::StrCat("record ", r.seq, " was changed (its hash does not match)"));
      break;
    }
    std::vector<std::string> indexed;
    while (index_row && index.Int64(0) <= r.seq) {
      if (index.Int64(0) == r.seq) indexed.push_back(index.Text(1));
      OUTREACH_ASSIGN_OR_RETURN(index_row, index.Step());
    }
    if (indexed != r.record.resources) {
      fail(r.seq, absl::StrCat("the resource index of record ", r.seq, " was changed"));
      break;
    }
    ++walk.result.records_checked;
    walk.last_seq = r.seq;
    walk.last_hash = r.hash;
  }
  return walk;
}

}  // namespace

db::Migration AuditMigration(int version) {
  return {version, "audit log",
          // seq is assigned by Append (last + 1), never by the database, so a gap is evidence.
          "CREATE TABLE audit_records ("
          "  seq INTEGER PRIMARY KEY,"
          "  force TEXT NOT NULL,"
          "  subject TEXT NOT NULL,"
          "  roles BLOB NOT NULL,"
          "  peer TEXT NOT NULL,"
          "  method TEXT NOT NULL,"
          "  resources BLOB NOT NULL,"
          "  field_paths BLOB NOT NULL,"
          "  justification TEXT NOT NULL,"
          "  time INTEGER NOT NULL,"
          "  code INTEGER NOT NULL,"
          "  prev_hash TEXT NOT NULL,"
          "  hash TEXT NOT NULL);"
          "CREATE INDEX audit_records_force ON audit_records (force, seq);"
          // Resource searches: one row per resource a record names.
          "CREATE TABLE audit_record_resources ("
          "  seq INTEGER NOT NULL,"
          "  position INTEGER NOT NULL,"
          "  resource TEXT NOT NULL,"
          "  PRIMARY KEY (seq, position));"
          "CREATE INDEX audit_record_resources_name ON audit_record_resources (resource, seq);"
          // The chain's two ends: the retention anchor and the newest record. The head is what
          // reveals removed newest records, which the chain alone cannot.
          "CREATE TABLE audit_chain ("
          "  id INTEGER PRIMARY KEY CHECK (id = 1),"
          "  anchor_seq INTEGER NOT NULL,"
          "  anchor_hash TEXT NOT NULL,"
          "  head_seq INTEGER NOT NULL,"
          "  head_hash TEXT NOT NULL);"
          "INSERT INTO audit_chain VALUES (1, 0, "
          "'0000000000000000000000000000000000000000000000000000000000000000', 0, "
          "'0000000000000000000000000000000000000000000000000000000000000000');"};
}

absl::Status Append(db::Connection& c, const Record& record) {
  OUTREACH_ASSIGN_OR_RETURN(Chain chain, ReadChain(c));
  Record r = record;
  r.justification = CutUtf8(r.justification, kMaxJustificationBytes);
  // Stored at microsecond precision; the hash must cover what is stored.
  r.time = db::FromMicros(db::ToMicros(r.time));
  const int64_t seq = chain.head_seq + 1;
  const std::string hash = RecordHash(seq, chain.head_hash, r);
  // Replicas on PostgreSQL append at once: each read the same head, so both take the same seq.
  // Looking for the seq first makes the loser's INSERT a serialization failure (40001, retried
  // as often as any conflict) rather than a unique violation (23505, retried at most twice):
  // PostgreSQL reports 40001 when a SERIALIZABLE transaction read the key a concurrent one
  // inserted. Eight writes racing across two replicas lost a third round to INTERNAL before.
  OUTREACH_ASSIGN_OR_RETURN(db::Statement taken,
                            c.Prepare("SELECT 1 FROM audit_records WHERE seq = ?"));
  taken.Bind(1, seq);
  OUTREACH_ASSIGN_OR_RETURN(bool exists, taken.Step());
  if (exists)
    return absl::InternalError(
        absl::StrCat("audit chain head ", chain.head_seq, " is behind its records"));
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement insert,
      c.Prepare("INSERT INTO audit_records (seq, force, subject, roles, peer, method, resources, "
                "field_paths, justification, time, code, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  insert.Bind(1, seq)
      .Bind(2, r.force)
      .Bind(3, r.subject)
      .BindBlob(4, EncodeList(r.roles))
      .Bind(5, r.peer)
      .Bind(6, r.method)
      .BindBlob(7, EncodeList(r.resources))
      .BindBlob(8, EncodeList(r.field_paths))
      .Bind(9, r.justification)
      .Bind(10, db::ToMicros(r.time))
      .Bind(11, r.code)
      .Bind(12, chain.head_hash)
      .Bind(13, hash);
  OUTREACH_RETURN_IF_ERROR(insert.Run());
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement index,
      c.Prepare("INSERT INTO audit_record_resources (seq, position, resource) VALUES (?, ?, ?)"));
  for (size_t i = 0; i < r.resources.size(); ++i) {
    OUTREACH_RETURN_IF_ERROR(index.Reset());
    index.Bind(1, seq).Bind(2, static_cast<int64_t>(i)).Bind(3, r.resources[i]);
    OUTREACH_RETURN_IF_ERROR(index.Run());
  }
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement head,
      c.Prepare("UPDATE audit_chain SET head_seq = ?, head_hash = ? WHERE id = 1"));
  head.Bind(1, seq).Bind(2, hash);
  OUTREACH_RETURN_IF_ERROR(head.Run());
  // Written before COMMIT: a line may exist for a record that rolled back, never the reverse.
  OUTREACH_LOG(kInfo, "audit")
      .Kv("seq", seq)
      .Kv("hash", hash)
      .Kv("force", r.force)
      .Kv("subject", r.subject)
      .Kv("roles", absl::StrJoin(r.roles, ","))
      .Kv("peer", r.peer)
      .Kv("method", r.method)
      .Kv("resources", absl::StrJoin(r.resources, ","))
      .Kv("field_paths", absl::StrJoin(r.field_paths, ","))
      .Kv("justification", r.justification)
      .Kv("audit_time", absl::FormatTime(absl::RFC3339_full, r.time, absl::UTCTimeZone()))
      .Kv("code", r.code);
  return absl::OkStatus();
}

absl::StatusOr<Page> List(db::Connection& c, const Query& query) {
  std::string sql = absl::StrCat("SELECT ", kColumns, " FROM audit_records r WHERE r.force = ?");
  if (!query.subject.empty()) sql += " AND r.subject = ?";
  if (!query.method.empty()) sql += " AND r.method = ?";
  if (!query.resource.empty()) {
    sql += " AND r.seq IN (SELECT seq FROM audit_record_resources WHERE resource = ?)";
  }
  if (query.since) sql += " AND r.time >= ?";
  if (query.until) sql += " AND r.time < ?";
  if (query.before_seq > 0) sql += " AND r.seq < ?";
  sql += " ORDER BY r.seq DESC LIMIT ?";
  OUTREACH_ASSIGN_OR_RETURN(db::Statement q, c.Prepare(sql));
  int i = 1;
  q.Bind(i++, query.force);
  if (!query.subject.empty()) q.Bind(i++, query.subject);
  if (!query.method.empty()) q.Bind(i++, query.method);
  if (!query.resource.empty()) q.Bind(i++, query.resource);
  if (query.since) q.Bind(i++, db::ToMicros(*query.since));
  if (query.until) q.Bind(i++, db::ToMicros(*query.until));
  if (query.before_seq > 0) q.Bind(i++, query.before_seq);
  q.Bind(i++, static_cast<int64_t>(query.page_size) + 1);  // one more says there is a next page
  Page page;
  while (true) {
    OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    if (page.records.size() == static_cast<size_t>(query.page_size)) {
      page.next_before_seq = page.records.back().seq;
      break;
    }
    OUTREACH_ASSIGN_OR_RETURN(StoredRecord r, ReadRow(q));
    page.records.push_back(std::move(r));
  }
  return page;
}

absl::StatusOr<VerifyResult> Verify(db::Connection& c) {
  OUTREACH_ASSIGN_OR_RETURN(Chain chain, ReadChain(c));
  OUTREACH_ASSIGN_OR_RETURN(Walk walk, WalkChain(c, chain.anchor_seq, chain.anchor_hash,
                                                 [](const StoredRecord&) { return false; }));
  VerifyResult& result = walk.result;
  if (!result.ok) return result;
  if (walk.last_seq < chain.head_seq) {
    result.ok = false;
    result.first_bad_seq = walk.last_seq + 1;
    result.problem = absl::StrCat("records ", walk.last_seq + 1, "..", chain.head_seq,
                                  " are missing (the newest records were removed)");
  } else if (walk.last_seq > chain.head_seq) {
    result.ok = false;
    result.first_bad_seq = chain.head_seq + 1;
    result.problem = absl::StrCat("records after ", chain.head_seq,
                                  " were added outside the audit log (the head is older)");
  } else if (walk.last_hash != chain.head_hash) {
    result.ok = false;
    result.first_bad_seq = chain.head_seq;
    result.problem = absl::StrCat("record ", chain.head_seq,
                                  " is not the one last appended (the head hash differs)");
  }
  return result;
}

absl::StatusOr<int64_t> Prune(db::Connection& c, absl::Time before) {
  OUTREACH_ASSIGN_OR_RETURN(Chain chain, ReadChain(c));
  const int64_t cutoff = db::ToMicros(before);
  // Records are appended in time order within one process, so the old ones are a prefix of the
  // chain; the first record at or after `before` ends it, even if a later one is older.
  OUTREACH_ASSIGN_OR_RETURN(
      Walk walk, WalkChain(c, chain.anchor_seq, chain.anchor_hash, [cutoff](const StoredRecord& r) {
        return db::ToMicros(r.record.time) >= cutoff;
      }));
  if (!walk.result.ok) {
    return absl::DataLossError(absl::StrCat("audit log does not verify (", walk.result.problem,
                                            "); not pruning the evidence"));
  }
  if (walk.last_seq == chain.anchor_seq) return 0;
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement del_index,
      c.Prepare("DELETE FROM audit_record_resources WHERE seq > ? AND seq <= ?"));
  del_index.Bind(1, chain.anchor_seq).Bind(2, walk.last_seq);
  OUTREACH_RETURN_IF_ERROR(del_index.Run());
  OUTREACH_ASSIGN_OR_RETURN(db::Statement del,
                            c.Prepare("DELETE FROM audit_records WHERE seq > ? AND seq <= ?"));
  del.Bind(1, chain.anchor_seq).Bind(2, walk.last_seq);
  OUTREACH_RETURN_IF_ERROR(del.Run());
  const int64_t deleted = c.Changes();
  OUTREACH_ASSIGN_OR_RETURN(
      db::Statement anchor,
      c.Prepare("UPDATE audit_chain SET anchor_seq = ?, anchor_hash = ? WHERE id = 1"));
  anchor.Bind(1, walk.last_seq).Bind(2, walk.last_hash);
  OUTREACH_RETURN_IF_ERROR(anchor.Run());
  return deleted;
}

}  // namespace outreach::audit
