// The filter and order_by parser (common/query.h QuerySchema) over a schema with every field
// type. Input: the filter, then '\n', then the order_by. What the parser accepts must be SQL
// that SQLite runs as it is (SelectPage over a real table), with one bound parameter per '?'
// and no caller text in the SQL; what it refuses is INVALID_ARGUMENT naming filter/order_by.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/db.h"
#include "common/errors.h"
#include "common/query.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/support/temp_dir.h"

namespace outreach {
namespace {

constexpr db::Migration kTable{1, "the table the schema below describes", R"sql(
  CREATE TABLE t (name TEXT PRIMARY KEY, force TEXT, area TEXT, roll INTEGER, accredited INTEGER,
                  state INTEGER, start_micros INTEGER, day TEXT, topics TEXT, body BLOB);
  INSERT INTO t VALUES ('forces/f/x/a', 'f', 'DE1', 30, 1, 1, 0, '2025-01-15', ',a,b,', x'00');
)sql"};

const QuerySchema& Schema() {
  static const auto* schema = new QuerySchema(
      {
          {"area", "t.area", QueryFieldType::kString},
          {"pupil_roll", "t.roll", QueryFieldType::kInt},
          {"accredited", "t.accredited", QueryFieldType::kBool},
          {"state", "t.state", QueryFieldType::kEnum, true, true,
           [](absl::string_view name, int64_t* out) {
             if (name != "SCHEDULED" && name != "DELIVERED") return false;
             *out = name == "SCHEDULED" ? 1 : 2;
             return true;
           }},
          {"start_time", "t.start_micros", QueryFieldType::kTimestamp},
          {"day", "t.day", QueryFieldType::kDate, true, /*orderable=*/false},
          {"topics", "t.topics", QueryFieldType::kStringList, true, /*orderable=*/false},
          {"display_name", "t.name", QueryFieldType::kString, /*filterable=*/false, true},
      },
      "t.name");
  return *schema;
}

db::Database& Db() {
  static auto* dir = new TempDir();
  static db::Database* database = [] {
    db::Options options;
    options.readers = 1;
    options.synchronous_full = false;
    auto opened = db::Database::Open(dir->File("query.db"), {{"fuzz", {kTable}}}, options);
    FUZZ_CHECK(opened.ok());
    return opened->release();
  }();
  return *database;
}

// The refusal names the field the caller got wrong, and nothing else.
void CheckRefusal(const absl::Status& status, const char* field) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  std::vector<FieldViolation> violations = FieldViolations(status);
  FUZZ_CHECK(violations.size() == 1 && violations[0].field == field);
}

// SQL built from the schema alone: columns, operators, placeholders, keywords.
bool HasOnlySchemaText(absl::string_view sql) {
  return std::all_of(sql.begin(), sql.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == ' ' ||
           c == '?' || c == '(' || c == ')' || c == ',' || c == '=' || c == '<' || c == '>' ||
           c == '0' || c == '1';
  });
}

}  // namespace
}  // namespace outreach

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace outreach;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string filter = input.substr(0, newline);
  const std::string order_by = newline == std::string::npos ? "" : input.substr(newline + 1);

  absl::StatusOr<SqlFragment> where = Schema().Where(filter);
  absl::StatusOr<std::string> order = Schema().OrderBy(order_by, "area desc");
  if (!where.ok()) CheckRefusal(where.status(), "filter");
  if (!order.ok()) CheckRefusal(order.status(), "order_by");
  if (!where.ok() || !order.ok()) return 0;

  FUZZ_CHECK(HasOnlySchemaText(where->sql) && HasOnlySchemaText(*order));
  FUZZ_CHECK(static_cast<size_t>(std::count(where->sql.begin(), where->sql.end(), '?')) ==
             where->params.size());
  FUZZ_CHECK(absl::EndsWith(*order, "t.name ASC"));

  absl::Status ran = Db().Read([&](db::Connection& connection) -> absl::Status {
    absl::StatusOr<RowPage> page = SelectRowPage(connection, "t", "t.body", "t.force = ?",
                                                 {std::string("f")}, *where, *order, 10, 0);
    if (!page.ok()) return page.status();
    FUZZ_CHECK(page->total_size >= 0 && page->total_size <= 1);
    FUZZ_CHECK(page->bodies.size() == static_cast<size_t>(page->total_size));
    return absl::OkStatus();
  });
  FUZZ_CHECK(ran.ok());
  return 0;
}
