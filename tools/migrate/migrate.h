#pragma once

// outreach-migrate's work (tools/migrate/main.cc parses the flags): copies one service's SQLite
// store into an empty PostgreSQL database of the same schema and proves the copy equal.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/db.h"

namespace outreach::migrate {

// How a column's values are read and written on the target (PostgreSQL's declared type).
enum class Kind { kInt, kReal, kText, kBlob };

// A table as the source (SQLite) describes it, with the target's types of its columns.
struct Table {
  std::string name;
  std::vector<std::string> columns;  // in declaration order (PRAGMA table_info)
  std::vector<Kind> kinds;           // the target's type of each column
  std::vector<int> order;            // primary-key columns in key order, else every column
};

// Row count and SHA-256 (hex) of a table's rows in key order, each value encoded canonically:
// NULL "n"; integer "i<decimal>;"; real "r<%.17g>;"; text or blob "s<length>:<bytes>" (a text
// that the target keeps as bytes, or the reverse, sums the same).
struct Digest {
  int64_t rows = 0;
  std::string sha256;
  bool operator==(const Digest& other) const = default;
};

// The source's tables (every table but SQLite's own and schema_migrations, which each side's
// migrations fill), described against the target: an error names a table or column the target
// lacks.
absl::StatusOr<std::vector<Table>> DescribeTables(db::Database& source, db::Database& target);

// Every table of `target` except schema_migrations holds nothing beyond what `pristine` (a
// database freshly made with the same schema, SQLite) holds after its migrations (a seeded row
// such as audit_chain's). Returns FAILED_PRECONDITION naming the first table that does.
absl::Status CheckTargetEmpty(db::Database& target, db::Database& pristine,
                              const std::vector<Table>& tables);

struct CopyOptions {
  int batch_rows = 1000;
  bool progress = false;  // a progress line per table on stderr
};
// Copies every row of `tables` from one snapshot of `source`, in write transactions of
// `batch_rows` rows; a table's seeded rows on the target are removed by its first batch. Then
// moves every identity/serial sequence of the target past the largest copied value.
absl::Status CopyTables(db::Database& source, db::Database& target,
                        const std::vector<Table>& tables, const CopyOptions& options);

// The table's digest on either backend.
absl::StatusOr<Digest> TableDigest(db::Database& database, const Table& table);

}  // namespace outreach::migrate
