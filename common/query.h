#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "common/db.h"
#include "common/pagination.h"

namespace outreach {

// List filters and ordering shared by every service (AIP-160 subset, AIP-132 order_by):
//   filter:   field op value [AND field op value ...]   op: = != < <= > >=
//   order_by: field [desc] [, field [desc] ...]
// Each List method declares the fields a caller may use; anything else is INVALID_ARGUMENT
// naming "filter" or "order_by". The output is a parameterised SQL fragment: caller text never
// becomes SQL.
enum class QueryFieldType {
  kString,      // quoted string, stored as TEXT
  kInt,         // plain integer, stored as INTEGER
  kBool,        // true/false, stored as INTEGER 0/1
  kEnum,        // full enum value name unquoted, stored as INTEGER (its number)
  kTimestamp,   // quoted RFC 3339, stored as INTEGER microseconds since the epoch (UTC)
  kDate,        // quoted YYYY-MM-DD, stored as TEXT
  kStringList,  // repeated string stored as TEXT ",a,b,": only `=` (contains) is allowed
};

struct QueryField {
  std::string name;    // as callers write it, e.g. "start_time"
  std::string column;  // SQL column, e.g. "w.start_micros"
  QueryFieldType type = QueryFieldType::kString;
  bool filterable = true;
  bool orderable = true;
  // For kEnum: maps a value name to its number; false when unknown.
  std::function<bool(absl::string_view, int64_t*)> parse_enum;
};

using SqlValue = std::variant<int64_t, std::string>;
struct SqlFragment {
  std::string sql;  // e.g. "(w.area = ? AND w.state = ?)", or "1 = 1"
  std::vector<SqlValue> params;
};

class QuerySchema {
 public:
  // `tie_breaker` is the column that makes every order total (the resource name).
  QuerySchema(std::vector<QueryField> fields, std::string tie_breaker);

  absl::StatusOr<SqlFragment> Where(absl::string_view filter) const;
  // An empty order_by gives `default_order` (itself in the same syntax).
  absl::StatusOr<std::string> OrderBy(absl::string_view order_by,
                                      absl::string_view default_order) const;

 private:
  const QueryField* Find(absl::string_view name) const;
  std::vector<QueryField> fields_;
  std::string tie_breaker_;
};

// Binds fragment parameters to a statement starting at 1-based `first`; returns the next index.
int BindAll(db::Statement& statement, const std::vector<SqlValue>& params, int first = 1);

// One page of rows that keep their resource as a serialized message in a BLOB column (the
// layout every service store uses), plus the total across pages.
struct RowPage {
  std::vector<std::string> bodies;  // serialized resources, in order
  int32_t total_size = 0;           // rows matching scope + filter, across pages
  bool more = false;                // rows exist after this page
};
// The general form: SELECT <columns> FROM <from> WHERE <scope_sql> AND <where> ORDER BY
// <order_sql> LIMIT page_size OFFSET offset, calling `on_row` for each row of the page. Returns
// the page's total_size and more; bodies stay empty.
absl::StatusOr<RowPage> SelectPage(db::Connection& connection, absl::string_view from,
                                   absl::string_view columns, absl::string_view scope_sql,
                                   const std::vector<SqlValue>& scope_params,
                                   const SqlFragment& where, absl::string_view order_sql,
                                   int32_t page_size, int64_t offset,
                                   const std::function<absl::Status(db::Statement&)>& on_row,
                                   const std::function<bool()>& page_full = {});
// SELECT <body_column> FROM <from> WHERE <scope_sql> AND <where> ORDER BY <order_sql>
// LIMIT page_size (+1 to learn whether more exist) OFFSET offset, and the matching COUNT(*).
// The page also ends (with `more`) once its bodies reach kMaxListResponseBytes (at least one
// row is always returned), so a page of large resources cannot make a reply of megabytes.
// `scope_sql` carries the tenant condition (e.g. "t.force = ?") with `scope_params`.
absl::StatusOr<RowPage> SelectRowPage(db::Connection& connection, absl::string_view from,
                                      absl::string_view body_column, absl::string_view scope_sql,
                                      const std::vector<SqlValue>& scope_params,
                                      const SqlFragment& where, absl::string_view order_sql,
                                      int32_t page_size, int64_t offset);

// Stores a repeated string field in the kStringList form: ",a,b,".
std::string JoinStringList(const std::vector<std::string>& values);
std::vector<std::string> SplitStringList(absl::string_view stored);

}  // namespace outreach
