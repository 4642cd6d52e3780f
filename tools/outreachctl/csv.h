#pragma once

// RFC 4180 CSV, as spreadsheets and learning platforms write it: fields separated by commas,
// records by LF or CRLF, a field in double quotes may hold commas, quotes (doubled) and line
// breaks; a UTF-8 byte-order mark at the start is skipped. A malformed record (a stray quote
// in an unquoted field, text after a closing quote, a quote never closed) is returned with its
// error so the caller can report it by line and carry on with the next one.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace outreach::ctl {

struct CsvRecord {
  int line = 0;  // the line the record starts on, from 1
  std::vector<std::string> fields;
  std::string error;  // empty when the record is well formed
};

// Every record of `text`, blank lines skipped.
std::vector<CsvRecord> ParseCsv(std::string_view text);

// A field for a CSV writer: quoted when it holds a comma, quote, CR or LF, or starts or ends
// with a space; quotes doubled.
std::string CsvField(std::string_view value);
// One record, fields joined by commas, ending in "\r\n" (RFC 4180).
std::string CsvLine(const std::vector<std::string>& fields);

// The header row of an import file: column name (lower case, trimmed) -> index.
class CsvHeader {
 public:
  explicit CsvHeader(const std::vector<std::string>& names);
  // The value of column `name` in `record`, or nullopt when there is no such column or the
  // record is short. Values are trimmed of spaces.
  std::optional<std::string> Get(const CsvRecord& record, const std::string& name) const;
  bool Has(const std::string& name) const { return index_.count(name) > 0; }
  // Columns not in `known`, in file order (for a usage error naming them).
  std::vector<std::string> Unknown(const std::vector<std::string>& known) const;

 private:
  std::vector<std::string> names_;
  std::map<std::string, size_t> index_;
};

// An import file: its records (rows[0] is the header row) and its header.
struct CsvFile {
  std::vector<CsvRecord> rows;
  CsvHeader header;
};
// Parses `text`, read from `path`, as an import file whose columns must all be in `known`:
// INVALID_ARGUMENT naming the file when it has no header row, or naming the unknown columns
// (and listing the known ones).
absl::StatusOr<CsvFile> ParseCsvFile(std::string_view path, std::string_view text,
                                     const std::vector<std::string>& known);

}  // namespace outreach::ctl
