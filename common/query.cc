#include "common/query.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace outreach {
namespace {

constexpr size_t kMaxFilterLength = 2000;
constexpr int kMaxTerms = 20;

struct Token {
  enum Kind { kWord, kString, kOp, kEnd } kind;
  std::string text;
};

absl::Status FilterError(absl::string_view why) { return InvalidArgument("filter", why); }

// The years google.protobuf.Timestamp can hold (UTC); a filter value further out cannot be any
// stored time, only a caller's mistake.
bool InTimestampYears(absl::civil_year_t year) { return year >= 1 && year <= 9999; }

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view in) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '"') {
      std::string value;
      ++i;
      bool closed = false;
      while (i < in.size()) {
        if (in[i] == '\\' && i + 1 < in.size()) {
          value.push_back(in[i + 1]);
          i += 2;
        } else if (in[i] == '"') {
          closed = true;
          ++i;
          break;
        } else {
          value.push_back(in[i++]);
        }
      }
      if (!closed) return FilterError("has an unterminated string");
      out.push_back({Token::kString, value});
    } else if (c == '=' || c == '!' || c == '<' || c == '>') {
      std::string op(1, c);
      if (i + 1 < in.size() && in[i + 1] == '=') op.push_back('=');
      if (op == "!") return FilterError("has \"!\" without \"=\"");
      i += op.size();
      out.push_back({Token::kOp, op});
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
               c == ':' || c == '+') {
      size_t start = i;
      while (i < in.size() && (std::isalnum(static_cast<unsigned char>(in[i])) || in[i] == '_' ||
                               in[i] == '-' || in[i] == '.' || in[i] == ':' || in[i] == '+')) {
        ++i;
      }
      out.push_back({Token::kWord, std::string(in.substr(start, i - start))});
    } else {
      return FilterError(absl::StrCat("has an unexpected character '", std::string(1, c), "'"));
    }
  }
  out.push_back({Token::kEnd, ""});
  return out;
}

}  // namespace

QuerySchema::QuerySchema(std::vector<QueryField> fields, std::string tie_breaker)
    : fields_(std::move(fields)), tie_breaker_(std::move(tie_breaker)) {}

const QueryField* QuerySchema::Find(absl::string_view name) const {
  for (const auto& f : fields_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

namespace {

// One comparison of a filter as SQL over the field's column, its value appended to `params`.
absl::StatusOr<std::string> Compile(const QueryField& field, const std::string& sql_op,
                                    const Token& value, std::vector<SqlValue>* params) {
  const bool quoted = value.kind == Token::kString;
  const auto bad_value = [&](absl::string_view expected) {
    return FilterError(absl::StrCat("value for \"", field.name, "\" must be ", expected));
  };
  switch (field.type) {
    case QueryFieldType::kString:
      if (!quoted) return bad_value("a double-quoted string");
      params->emplace_back(value.text);
      return absl::StrCat(field.column, " ", sql_op, " ?");
    case QueryFieldType::kDate: {
      absl::CivilDay day;
      if (!quoted || !absl::ParseCivilTime(value.text, &day) || !InTimestampYears(day.year())) {
        return bad_value("a quoted date like \"2024-09-01\" in years 0001-9999");
      }
      params->emplace_back(absl::FormatCivilTime(day));
      return absl::StrCat(field.column, " ", sql_op, " ?");
    }
    case QueryFieldType::kTimestamp: {
      absl::Time t;
      std::string err;
      if (!quoted || !absl::ParseTime(absl::RFC3339_full, value.text, &t, &err) ||
          !InTimestampYears(absl::ToCivilSecond(t, absl::UTCTimeZone()).year())) {
        return bad_value("a quoted RFC 3339 time like \"2024-09-01T09:00:00Z\" in years 0001-9999");
      }
      params->emplace_back(absl::ToUnixMicros(t));
      return absl::StrCat(field.column, " ", sql_op, " ?");
    }
    case QueryFieldType::kInt: {
      int64_t n = 0;
      if (quoted || !absl::SimpleAtoi(value.text, &n)) return bad_value("an integer");
      params->emplace_back(n);
      return absl::StrCat(field.column, " ", sql_op, " ?");
    }
    case QueryFieldType::kBool: {
      if (quoted || (value.text != "true" && value.text != "false")) {
        return bad_value("true or false");
      }
      if (sql_op != "=" && sql_op != "<>") return bad_value("compared with = or !=");
      params->emplace_back(int64_t{value.text == "true" ? 1 : 0});
      return absl::StrCat(field.column, " ", sql_op, " ?");
    }
    case QueryFieldType::kEnum: {
      int64_t n = 0;
      if (quoted || !field.parse_enum || !field.parse_enum(value.text, &n)) {
        return bad_value("one of its enum value names, unquoted");
      }
      if (sql_op != "=" && sql_op != "<>") return bad_value("compared with = or !=");
      params->emplace_back(n);
      return absl::StrCat(field.column, " ", sql_op, " ?");
    }
    case QueryFieldType::kStringList: {
      if (!quoted) return bad_value("a double-quoted string");
      if (sql_op != "=") return bad_value("compared with = (contains)");
      params->emplace_back(absl::StrCat(",", value.text, ","));
      return absl::StrCat("instr(", field.column, ", ?) > 0");
    }
  }
  return FilterError("has a field of an unknown type");
}

}  // namespace

absl::StatusOr<SqlFragment> QuerySchema::Where(absl::string_view filter) const {
  SqlFragment out;
  if (absl::StripAsciiWhitespace(filter).empty()) {
    out.sql = "1 = 1";
    return out;
  }
  if (filter.size() > kMaxFilterLength) {
    return FilterError(absl::StrCat("is longer than ", kMaxFilterLength, " characters"));
  }
  auto tokens = Tokenize(filter);
  if (!tokens.ok()) return tokens.status();
  std::vector<std::string> terms;
  size_t i = 0;
  while (true) {
    if (static_cast<int>(terms.size()) >= kMaxTerms) {
      return FilterError(absl::StrCat("has more than ", kMaxTerms, " comparisons"));
    }
    const Token& field_token = (*tokens)[i];
    if (field_token.kind != Token::kWord) return FilterError("expected a field name");
    const QueryField* field = Find(field_token.text);
    if (field == nullptr || !field->filterable) {
      std::vector<std::string> allowed;
      for (const auto& f : fields_) {
        if (f.filterable) allowed.push_back(f.name);
      }
      return FilterError(absl::StrCat("cannot filter on \"", field_token.text,
                                      "\"; filterable fields: ", absl::StrJoin(allowed, ", ")));
    }
    const Token& op = (*tokens)[i + 1];
    if (op.kind != Token::kOp) {
      return FilterError(absl::StrCat("expected an operator after \"", field->name, "\""));
    }
    const Token& value = (*tokens)[i + 2];
    if (value.kind != Token::kWord && value.kind != Token::kString) {
      return FilterError(
          absl::StrCat("expected a value after \"", field->name, " ", op.text, "\""));
    }
    const std::string sql_op = op.text == "=" ? "=" : op.text == "!=" ? "<>" : op.text;
    OUTREACH_ASSIGN_OR_RETURN(std::string term, Compile(*field, sql_op, value, &out.params));
    terms.push_back(std::move(term));
    i += 3;
    if ((*tokens)[i].kind == Token::kEnd) break;
    if ((*tokens)[i].kind != Token::kWord || (*tokens)[i].text != "AND") {
      return FilterError("comparisons must be joined with AND (OR and NOT are not supported)");
    }
    ++i;
  }
  out.sql = absl::StrCat("(", absl::StrJoin(terms, " AND "), ")");
  return out;
}

absl::StatusOr<std::string> QuerySchema::OrderBy(absl::string_view order_by,
                                                 absl::string_view default_order) const {
  absl::string_view spec = absl::StripAsciiWhitespace(order_by);
  if (spec.empty()) spec = default_order;
  if (spec.size() > 500) return InvalidArgument("order_by", "is longer than 500 characters");
  std::vector<std::string> parts;
  for (absl::string_view item : absl::StrSplit(spec, ',')) {
    std::vector<absl::string_view> words =
        absl::StrSplit(absl::StripAsciiWhitespace(item), ' ', absl::SkipEmpty());
    if (words.empty() || words.size() > 2 ||
        (words.size() == 2 && words[1] != "desc" && words[1] != "asc")) {
      return InvalidArgument("order_by", "must look like \"field [desc], field [desc]\"");
    }
    const QueryField* field = Find(words[0]);
    if (field == nullptr || !field->orderable) {
      std::vector<std::string> allowed;
      for (const auto& f : fields_) {
        if (f.orderable) allowed.push_back(f.name);
      }
      return InvalidArgument("order_by",
                             absl::StrCat("cannot order by \"", words[0],
                                          "\"; orderable fields: ", absl::StrJoin(allowed, ", ")));
    }
    const bool desc = words.size() == 2 && words[1] == "desc";
    parts.push_back(absl::StrCat(field->column, desc ? " DESC" : " ASC"));
  }
  parts.push_back(absl::StrCat(tie_breaker_, " ASC"));
  return absl::StrJoin(parts, ", ");
}

int BindAll(db::Statement& statement, const std::vector<SqlValue>& params, int first) {
  int index = first;
  for (const auto& p : params) {
    if (const auto* n = std::get_if<int64_t>(&p)) {
      statement.Bind(index++, *n);
    } else {
      statement.Bind(index++, std::get<std::string>(p));
    }
  }
  return index;
}

absl::StatusOr<RowPage> SelectPage(db::Connection& connection, absl::string_view from,
                                   absl::string_view columns, absl::string_view scope_sql,
                                   const std::vector<SqlValue>& scope_params,
                                   const SqlFragment& where, absl::string_view order_sql,
                                   int32_t page_size, int64_t offset,
                                   const std::function<absl::Status(db::Statement&)>& on_row,
                                   const std::function<bool()>& page_full) {
  const std::string condition =
      absl::StrCat(" FROM ", from, " WHERE ", scope_sql, " AND ", where.sql);
  RowPage page;
  {
    auto count = connection.Prepare(absl::StrCat("SELECT COUNT(*)", condition));
    if (!count.ok()) return count.status();
    int next = BindAll(*count, scope_params);
    BindAll(*count, where.params, next);
    auto row = count->Step();
    if (!row.ok()) return row.status();
    page.total_size = *row ? static_cast<int32_t>(count->Int64(0)) : 0;
  }
  auto rows = connection.Prepare(
      absl::StrCat("SELECT ", columns, condition, " ORDER BY ", order_sql, " LIMIT ? OFFSET ?"));
  if (!rows.ok()) return rows.status();
  int next = BindAll(*rows, scope_params);
  next = BindAll(*rows, where.params, next);
  // One extra row tells whether another page follows.
  rows->Bind(next, static_cast<int64_t>(page_size) + 1).Bind(next + 1, offset);
  int32_t returned = 0;
  while (true) {
    auto row = rows->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (returned == page_size || (returned > 0 && page_full && page_full())) {
      page.more = true;
      break;
    }
    if (absl::Status s = on_row(*rows); !s.ok()) return s;
    ++returned;
  }
  return page;
}

absl::StatusOr<RowPage> SelectRowPage(db::Connection& connection, absl::string_view from,
                                      absl::string_view body_column, absl::string_view scope_sql,
                                      const std::vector<SqlValue>& scope_params,
                                      const SqlFragment& where, absl::string_view order_sql,
                                      int32_t page_size, int64_t offset) {
  std::vector<std::string> bodies;
  size_t bytes = 0;
  auto page = SelectPage(
      connection, from, body_column, scope_sql, scope_params, where, order_sql, page_size, offset,
      [&](db::Statement& row) {
        bodies.push_back(row.Blob(0));
        bytes += bodies.back().size();
        return absl::OkStatus();
      },
      [&] { return bytes >= kMaxListResponseBytes; });
  if (!page.ok()) return page.status();
  page->bodies = std::move(bodies);
  return page;
}

std::string JoinStringList(const std::vector<std::string>& values) {
  if (values.empty()) return "";
  return absl::StrCat(",", absl::StrJoin(values, ","), ",");
}

std::vector<std::string> SplitStringList(absl::string_view stored) {
  std::vector<std::string> out;
  for (absl::string_view v : absl::StrSplit(stored, ',', absl::SkipEmpty())) out.emplace_back(v);
  return out;
}

}  // namespace outreach
