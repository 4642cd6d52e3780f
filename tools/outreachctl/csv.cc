#include "tools/outreachctl/csv.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace outreach::ctl {

namespace {

// A reader over the text that keeps the line number of the current position.
class CsvScanner {
 public:
  explicit CsvScanner(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  int line() const { return line_; }

  // Reads one record starting at the current position (which is at the start of a line).
  CsvRecord Next() {
    CsvRecord record;
    record.line = line_;
    std::string field;
    bool quoted = false;      // inside a quoted field
    bool was_quoted = false;  // the current field was quoted and its quote closed
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (quoted) {
        ++pos_;
        if (c == '"') {
          if (pos_ < text_.size() && text_[pos_] == '"') {
            field.push_back('"');
            ++pos_;
          } else {
            quoted = false;
            was_quoted = true;
          }
        } else {
          if (c == '\n') ++line_;
          field.push_back(c);
        }
        continue;
      }
      if (c == ',') {
        ++pos_;
        record.fields.push_back(std::move(field));
        field.clear();
        was_quoted = false;
        continue;
      }
      if (c == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') {
        pos_ += 2;
        ++line_;
        record.fields.push_back(std::move(field));
        return record;
      }
      if (c == '\n') {
        ++pos_;
        ++line_;
        record.fields.push_back(std::move(field));
        return record;
      }
      if (c == '"') {
        if (field.empty() && !was_quoted) {
          quoted = true;
          ++pos_;
          continue;
        }
        Fail(&record,
             was_quoted ? "text after a closing quote" : "a quote inside an unquoted field");
        return record;
      }
      if (was_quoted) {
        Fail(&record, "text after a closing quote");
        return record;
      }
      field.push_back(c);
      ++pos_;
    }
    if (quoted) {
      record.error = "a quoted field is never closed";
      return record;
    }
    record.fields.push_back(std::move(field));
    return record;
  }

 private:
  // Marks the record bad and skips to the end of its line.
  void Fail(CsvRecord* record, const char* why) {
    record->error = why;
    while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
    if (pos_ < text_.size()) {
      ++pos_;
      ++line_;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
};

bool Blank(const CsvRecord& record) {
  return record.error.empty() && record.fields.size() == 1 &&
         absl::StripAsciiWhitespace(record.fields[0]).empty();
}

}  // namespace

std::vector<CsvRecord> ParseCsv(std::string_view text) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  std::vector<CsvRecord> records;
  CsvScanner scanner(text);
  while (!scanner.AtEnd()) {
    CsvRecord record = scanner.Next();
    if (!Blank(record)) records.push_back(std::move(record));
  }
  return records;
}

std::string CsvField(std::string_view value) {
  const bool needs_quotes = value.find_first_of(",\"\r\n") != std::string_view::npos ||
                            (!value.empty() && (value.front() == ' ' || value.back() == ' '));
  if (!needs_quotes) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += CsvField(fields[i]);
  }
  out += "\r\n";
  return out;
}

CsvHeader::CsvHeader(const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(names[i]));
    names_.push_back(name);
    index_.emplace(std::move(name), i);
  }
}

std::optional<std::string> CsvHeader::Get(const CsvRecord& record, const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end() || it->second >= record.fields.size()) return std::nullopt;
  return std::string(absl::StripAsciiWhitespace(record.fields[it->second]));
}

std::vector<std::string> CsvHeader::Unknown(const std::vector<std::string>& known) const {
  std::vector<std::string> out;
  for (const auto& name : names_) {
    if (!name.empty() && std::find(known.begin(), known.end(), name) == known.end()) {
      out.push_back(name);
    }
  }
  return out;
}

absl::StatusOr<CsvFile> ParseCsvFile(std::string_view path, std::string_view text,
                                     const std::vector<std::string>& known) {
  std::vector<CsvRecord> rows = ParseCsv(text);
  if (rows.empty() || !rows[0].error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(path), ": no header row"));
  }
  CsvHeader header(rows[0].fields);
  if (auto unknown = header.Unknown(known); !unknown.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(path), ": unknown column(s) ", absl::StrJoin(unknown, ", "),
                     "; the columns are ", absl::StrJoin(known, ", ")));
  }
  return CsvFile{std::move(rows), std::move(header)};
}

}  // namespace outreach::ctl
