// outreach-migrate's copy and proof (migrate.h). Only common/db.h's interface is used on both
// sides: tables and columns are found from the SQLite file (sqlite_master, pragma_table_info),
// so a table a later migration adds is copied without a change here.

#include "tools/migrate/migrate.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace outreach::migrate {
namespace {

constexpr int kTargetPageRows = 10000;

std::string Quote(absl::string_view name) {
  return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\"", "\"\""}}), "\"");
}

Kind KindOf(absl::string_view pg_type) {
  if (pg_type == "bigint" || pg_type == "integer" || pg_type == "smallint" ||
      pg_type == "boolean") {
    return Kind::kInt;
  }
  if (pg_type == "double precision" || pg_type == "real" || pg_type == "numeric") {
    return Kind::kReal;
  }
  if (pg_type == "bytea") return Kind::kBlob;
  return Kind::kText;
}

// One value as read from the source: its SQLite storage class and its content.
struct Value {
  char type = 'n';  // 'n' NULL, 'i' integer, 'r' real, 's' text or blob
  int64_t integer = 0;
  double real = 0;
  std::string bytes;
};
using Row = std::vector<Value>;

// `SELECT typeof(c1), c1, typeof(c2), c2, ... FROM t`: column i's class at 2i, value at 2i+1.
std::string SourceSelect(const Table& t) {
  std::vector<std::string> parts;
  for (const std::string& c : t.columns) {
    parts.push_back(absl::StrCat("typeof(", Quote(c), "), ", Quote(c)));
  }
  return absl::StrCat("SELECT ", absl::StrJoin(parts, ", "), " FROM ", Quote(t.name));
}

Row ReadSourceRow(const db::Statement& s, size_t columns) {
  Row row(columns);
  for (size_t i = 0; i < columns; ++i) {
    const int type_col = static_cast<int>(2 * i);
    const int value_col = type_col + 1;
    const std::string type = s.Text(type_col);
    Value& v = row[i];
    if (type == "integer") {
      v.type = 'i';
      v.integer = s.Int64(value_col);
    } else if (type == "real") {
      v.type = 'r';
      v.real = s.Double(value_col);
    } else if (type == "text") {
      v.type = 's';
      v.bytes = s.Text(value_col);
    } else if (type == "blob") {
      v.type = 's';
      v.bytes = s.Blob(value_col);
    }
  }
  return row;
}

Row ReadTargetRow(const db::Statement& s, const Table& t) {
  Row row(t.columns.size());
  for (size_t i = 0; i < row.size(); ++i) {
    const int col = static_cast<int>(i);
    Value& v = row[i];
    if (s.IsNull(col)) continue;
    switch (t.kinds[i]) {
      case Kind::kInt:
        v.type = 'i';
        v.integer = s.Int64(col);
        break;
      case Kind::kReal:
        v.type = 'r';
        v.real = s.Double(col);
        break;
      case Kind::kText:
        v.type = 's';
        v.bytes = s.Text(col);
        break;
      case Kind::kBlob:
        v.type = 's';
        v.bytes = s.Blob(col);
        break;
    }
  }
  return row;
}

void Encode(const Row& row, std::string* out) {
  out->clear();
  for (const Value& v : row) {
    switch (v.type) {
      case 'i':
        absl::StrAppend(out, "i", v.integer, ";");
        break;
      case 'r':
        absl::StrAppend(out, "r", absl::StrFormat("%.17g", v.real), ";");
        break;
      case 's':
        absl::StrAppend(out, "s", v.bytes.size(), ":", v.bytes);
        break;
      default:
        out->push_back('n');
    }
  }
}

// SHA-256 over the rows, fed one encoded row at a time.
class Hasher {
 public:
  Hasher() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void Add(const Row& row) {
    Encode(row, &buffer_);
    EVP_DigestUpdate(ctx_.get(), buffer_.data(), buffer_.size());
    ++rows_;
  }
  Digest Finish() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    Digest d;
    d.rows = rows_;
    for (unsigned int i = 0; i < len; ++i) absl::StrAppendFormat(&d.sha256, "%02x", md[i]);
    return d;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
  std::string buffer_;
  int64_t rows_ = 0;
};

// ORDER BY the key; on PostgreSQL text compares bytewise ("C") and NULLs sort first, as in
// SQLite, so both sides hash the rows in the same order whatever the database's collation.
std::string OrderBy(const Table& t, db::Backend backend) {
  std::vector<std::string> keys;
  for (int i : t.order) {
    std::string key = Quote(t.columns[static_cast<size_t>(i)]);
    if (backend == db::Backend::kPostgres) {
      if (t.kinds[static_cast<size_t>(i)] == Kind::kText) absl::StrAppend(&key, " COLLATE \"C\"");
      absl::StrAppend(&key, " NULLS FIRST");
    }
    keys.push_back(std::move(key));
  }
  return absl::StrCat(" ORDER BY ", absl::StrJoin(keys, ", "));
}

absl::StatusOr<int64_t> CountRows(db::Connection& c, absl::string_view table) {
  auto q = c.Prepare(absl::StrCat("SELECT COUNT(*) FROM ", Quote(table)));
  if (!q.ok()) return q.status();
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  return *row ? q->Int64(0) : 0;
}

absl::StatusOr<std::vector<std::string>> Strings(db::Connection& c, absl::string_view sql,
                                                 absl::string_view bind = {}) {
  auto q = c.Prepare(sql);
  if (!q.ok()) return q.status();
  if (!bind.empty()) q->Bind(1, bind);
  std::vector<std::string> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(q->Text(0));
  }
}

// The source's columns and key order of table `t.name`.
absl::Status DescribeSourceColumns(db::Connection& c, Table& t) {
  auto q = c.Prepare("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid");
  if (!q.ok()) return q.status();
  q->Bind(1, t.name);
  std::vector<std::pair<int64_t, int>> key;  // (pk position, column)
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const int column = static_cast<int>(t.columns.size());
    t.columns.push_back(q->Text(0));
    if (q->Int64(1) > 0) key.emplace_back(q->Int64(1), column);
  }
  std::sort(key.begin(), key.end());
  for (const auto& [position, column] : key) t.order.push_back(column);
  if (t.order.empty()) {
    for (size_t i = 0; i < t.columns.size(); ++i) t.order.push_back(static_cast<int>(i));
  }
  return absl::OkStatus();
}

// The target's type of each of the source's columns.
absl::Status DescribeTargetColumns(db::Connection& c, Table& t) {
  auto q = c.Prepare(
      "SELECT column_name, data_type FROM information_schema.columns "
      "WHERE table_schema = current_schema() AND table_name = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, t.name);
  std::vector<std::pair<std::string, std::string>> found;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    found.emplace_back(q->Text(0), q->Text(1));
  }
  if (found.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("the target has no table ", t.name));
  }
  for (const std::string& column : t.columns) {
    auto it =
        std::find_if(found.begin(), found.end(), [&](const auto& f) { return f.first == column; });
    if (it == found.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the target's table ", t.name, " has no column ", column));
    }
    t.kinds.push_back(KindOf(it->second));
  }
  return absl::OkStatus();
}

absl::Status InsertRows(db::Connection& c, const Table& t, const std::vector<Row>& rows) {
  std::vector<std::string> names, marks;
  for (const std::string& column : t.columns) {
    names.push_back(Quote(column));
    marks.push_back("?");
  }
  auto q = c.Prepare(absl::StrCat("INSERT INTO ", Quote(t.name), " (", absl::StrJoin(names, ", "),
                                  ") VALUES (", absl::StrJoin(marks, ", "), ")"));
  if (!q.ok()) return q.status();
  for (const Row& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      const Value& v = row[i];
      if (v.type == 'i') {
        q->Bind(index, v.integer);
      } else if (v.type == 'r') {
        q->Bind(index, v.real);
      } else if (v.type == 's' && t.kinds[i] == Kind::kBlob) {
        q->BindBlob(index, v.bytes);  // a text kept in a BLOB column becomes bytes
      } else if (v.type == 's') {
        q->Bind(index, v.bytes);
      } else {
        q->BindNull(index);
      }
    }
    if (absl::Status s = q->Run(); !s.ok()) return s;
    if (absl::Status s = q->Reset(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void ShowProgress(const CopyOptions& options, const Table& t, int64_t copied, int64_t total,
                  bool done) {
  if (!options.progress) return;
  std::fprintf(stderr, "\rcopying %s: %lld/%lld rows%s", t.name.c_str(),
               static_cast<long long>(copied), static_cast<long long>(total), done ? "\n" : "");
  std::fflush(stderr);
}

// Copies one table from the source's open snapshot `src`.
absl::Status CopyTable(db::Connection& src, db::Database& target, const Table& t,
                       const CopyOptions& options) {
  absl::StatusOr<int64_t> total = CountRows(src, t.name);
  if (!total.ok()) return total.status();
  auto q = src.Prepare(SourceSelect(t));
  if (!q.ok()) return q.status();
  std::vector<Row> batch;
  int64_t copied = 0;
  bool first = true;
  const auto flush = [&]() -> absl::Status {
    absl::Status s = target.Write([&](db::Connection& c) -> absl::Status {
      // The first batch removes what the target's migrations seeded (CheckTargetEmpty allowed
      // only that), so the source's version of those rows replaces it.
      if (first) {
        if (absl::Status d = c.Exec(absl::StrCat("DELETE FROM ", Quote(t.name))); !d.ok()) return d;
      }
      return InsertRows(c, t, batch);
    });
    if (!s.ok()) return s;
    first = false;
    copied += static_cast<int64_t>(batch.size());
    batch.clear();
    ShowProgress(options, t, copied, *total, false);
    return absl::OkStatus();
  };
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    batch.push_back(ReadSourceRow(*q, t.columns.size()));
    if (static_cast<int>(batch.size()) >= options.batch_rows) {
      if (absl::Status s = flush(); !s.ok()) return s;
    }
  }
  if (!batch.empty() || first) {
    if (absl::Status s = flush(); !s.ok()) return s;
  }
  ShowProgress(options, t, copied, *total, true);
  return absl::OkStatus();
}

// Every identity or serial column's sequence past the largest value now in its column, so the
// next insert that takes a default (the outbox's sequence) does not collide with a copied row.
absl::Status AdvanceSequences(db::Database& target) {
  return target.Write([&](db::Connection& c) -> absl::Status {
    auto q = c.Prepare(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() "
        "AND (is_identity = 'YES' OR column_default LIKE 'nextval(%') "
        "ORDER BY table_name, column_name");
    if (!q.ok()) return q.status();
    std::vector<std::pair<std::string, std::string>> columns;
    while (true) {
      absl::StatusOr<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      columns.emplace_back(q->Text(0), q->Text(1));
    }
    for (const auto& [table, column] : columns) {
      auto set = c.Prepare(absl::StrCat("SELECT setval(pg_get_serial_sequence(?, ?), (SELECT MAX(",
                                        Quote(column), ") FROM ", Quote(table), "))"));
      if (!set.ok()) return set.status();
      set->Bind(1, Quote(table)).Bind(2, column);
      absl::StatusOr<bool> row = set->Step();
      if (!row.ok()) return row.status();
      if (*row && !set->IsNull(0)) {
        std::fprintf(stderr, "sequence of %s.%s set to %lld\n", table.c_str(), column.c_str(),
                     static_cast<long long>(set->Int64(0)));
      }
    }
    return absl::OkStatus();
  });
}

}  // namespace

absl::StatusOr<std::vector<Table>> DescribeTables(db::Database& source, db::Database& target) {
  std::vector<Table> tables;
  absl::Status s = source.Read([&](db::Connection& c) -> absl::Status {
    auto names = Strings(c,
                         "SELECT name FROM sqlite_master WHERE type = 'table' "
                         "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                         "AND name <> 'schema_migrations' ORDER BY name");
    if (!names.ok()) return names.status();
    for (std::string& name : *names) {
      Table t;
      t.name = std::move(name);
      if (absl::Status d = DescribeSourceColumns(c, t); !d.ok()) return d;
      tables.push_back(std::move(t));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  s = target.Read([&](db::Connection& c) -> absl::Status {
    for (Table& t : tables) {
      if (absl::Status d = DescribeTargetColumns(c, t); !d.ok()) return d;
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return tables;
}

absl::Status CheckTargetEmpty(db::Database& target, db::Database& pristine,
                              const std::vector<Table>& tables) {
  std::vector<std::pair<std::string, int64_t>> counts;
  absl::Status s = target.Read([&](db::Connection& c) -> absl::Status {
    auto names = Strings(c,
                         "SELECT table_name FROM information_schema.tables "
                         "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
                         "ORDER BY table_name");
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      if (name == "schema_migrations") continue;
      absl::StatusOr<int64_t> n = CountRows(c, name);
      if (!n.ok()) return n.status();
      counts.emplace_back(name, *n);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  for (const auto& [table_name, rows] : counts) {
    const std::string& name = table_name;  // a lambda below captures it (clang: no bindings)
    if (rows == 0) continue;
    const auto it =
        std::find_if(tables.begin(), tables.end(), [&](const Table& t) { return t.name == name; });
    bool seeded = false;
    if (it != tables.end()) {
      absl::StatusOr<Digest> here = TableDigest(target, *it);
      if (!here.ok()) return here.status();
      absl::StatusOr<Digest> fresh = TableDigest(pristine, *it);
      if (!fresh.ok()) return fresh.status();
      seeded = *here == *fresh;
    }
    if (!seeded) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the target is not empty: table ", name, " has ", rows, rows == 1 ? " row" : " rows"));
    }
  }
  return absl::OkStatus();
}

absl::Status CopyTables(db::Database& source, db::Database& target,
                        const std::vector<Table>& tables, const CopyOptions& options) {
  absl::Status s = source.Read([&](db::Connection& src) -> absl::Status {
    for (const Table& t : tables) {
      if (absl::Status c = CopyTable(src, target, t, options); !c.ok()) {
        return absl::Status(c.code(), absl::StrCat("copying ", t.name, ": ", c.message()));
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return AdvanceSequences(target);
}

absl::StatusOr<Digest> TableDigest(db::Database& database, const Table& t) {
  const bool sqlite = database.backend() == db::Backend::kSqlite;
  Hasher hasher;
  absl::Status s = database.Read([&](db::Connection& c) -> absl::Status {
    std::vector<std::string> columns;
    for (const std::string& column : t.columns) columns.push_back(Quote(column));
    const std::string sql =
        sqlite ? absl::StrCat(SourceSelect(t), OrderBy(t, db::Backend::kSqlite))
               : absl::StrCat("SELECT ", absl::StrJoin(columns, ", "), " FROM ", Quote(t.name),
                              OrderBy(t, db::Backend::kPostgres), " LIMIT ? OFFSET ?");
    // PostgreSQL hands a statement's whole result over at once: read it in pages, all in this
    // one snapshot. SQLite steps through its rows as they are read.
    for (int64_t offset = 0;; offset += kTargetPageRows) {
      auto q = c.Prepare(sql);
      if (!q.ok()) return q.status();
      if (!sqlite) q->Bind(1, int64_t{kTargetPageRows}).Bind(2, offset);
      int64_t page_rows = 0;
      while (true) {
        absl::StatusOr<bool> row = q->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        hasher.Add(sqlite ? ReadSourceRow(*q, t.columns.size()) : ReadTargetRow(*q, t));
        ++page_rows;
      }
      if (sqlite || page_rows < kTargetPageRows) return absl::OkStatus();
    }
  });
  if (!s.ok()) return s;
  return hasher.Finish();
}

}  // namespace outreach::migrate
