#pragma once

// Messages in and out: protobuf's JSON mapping (and YAML of the same tree) for -o json|yaml,
// and for -o table|csv rows of fields picked by path ("delivery.headcount.parents"), with the
// well-known and suite types written as people read them (RFC 3339 times, YYYY-MM-DD dates,
// enum values without their type prefix in tables). Also the reverse: a field set from a
// command-line value, and a message read from a JSON (or YAML) file.
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"

namespace outreach::ctl {

enum class Format { kTable, kJson, kYaml, kCsv };
absl::StatusOr<Format> ParseFormat(const std::string& text);

// One column of a table or CSV: a header and a field path, or a function of the message.
// A path through a repeated field gives every element's value joined by ", "; "sum:" before a
// path adds the elements up (e.g. "sum:delivery.headcount.pupils.pupils"); "id:" keeps the last
// segment of resource names (forces/derbyshire/venues/x -> x).
struct Column {
  std::string header;
  std::string path;
  std::function<std::string(const google::protobuf::Message&)> compute = nullptr;
};

std::string ToJson(const google::protobuf::Message& message);
std::string ToYaml(const google::protobuf::Message& message);

// The text of the field at `path` (see Column); "" when unset. `short_enums` drops the enum's
// type prefix (WORKSHOP_STATE_DELIVERED -> DELIVERED).
std::string FieldText(const google::protobuf::Message& message, const std::string& path,
                      bool short_enums);
// Every set field as (path, text), depth first, for a one-object table.
std::vector<std::pair<std::string, std::string>> Flatten(const google::protobuf::Message& message);

// Rows of `messages` as a table (fitting `width`, 0 = no limit) or CSV.
std::string RenderRows(Format format, const std::vector<Column>& columns,
                       const std::vector<const google::protobuf::Message*>& messages, size_t width);
// A table or CSV of plain string rows.
std::string RenderStrings(Format format, const std::vector<std::string>& headers,
                          const std::vector<std::vector<std::string>>& rows, size_t width);
// One message: JSON, YAML, or FIELD/VALUE rows.
std::string RenderMessage(Format format, const google::protobuf::Message& message, size_t width);

// Sets the field at `path` of `message` from command-line text: strings, numbers, booleans,
// enums ("delivered", "WORKSHOP_STATE_DELIVERED"), google.protobuf.Timestamp (RFC 3339, or a
// local date YYYY-MM-DD meaning its local midnight), outreach.common.v1.Date (YYYY-MM-DD);
// repeated fields take comma-separated values (appended).
absl::Status SetField(google::protobuf::Message* message, const std::string& path,
                      const std::string& text);

// An enum value from "academic-year", "ACADEMIC_YEAR" or "PERIOD_KIND_ACADEMIC_YEAR".
absl::StatusOr<int> ParseEnum(const google::protobuf::EnumDescriptor* type,
                              const std::string& text);
// The names an operator may type for `type` ("academic-year", …), for help and errors.
std::vector<std::string> EnumChoices(const google::protobuf::EnumDescriptor* type);
// An AIP-160 filter with enum values written as operators do ("state = \"DELIVERED\"",
// "state = delivered") rewritten to what the servers take (state = WORKSHOP_STATE_DELIVERED),
// for the enum fields of `item` (the listed message). Everything else is left as typed, so the
// server still judges the filter and names the field at fault.
std::string NormalizeFilter(const google::protobuf::Descriptor* item, const std::string& filter);

// "2025-06-01T10:00:00Z" (any RFC 3339) or a local date "2025-06-01" (its local midnight).
absl::StatusOr<absl::Time> ParseTime(const std::string& text);
absl::StatusOr<absl::CivilDay> ParseDay(const std::string& text);

// Reads `path` ("-" = stdin) into `message`: JSON (protobuf's mapping, unknown fields refused),
// or YAML when built with libyaml. `contents` receives the bytes read (for request ids).
absl::Status ReadMessageFile(const std::string& path, google::protobuf::Message* message,
                             std::string* contents);
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace outreach::ctl
