#include "tools/outreachctl/output.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/calendar.h"
#include "google/protobuf/struct.pb.h"  // google.protobuf.Value: a JSON string for YAML input
#include "google/protobuf/util/json_util.h"
#include "tools/outreachctl/csv.h"
#include "tools/outreachctl/table.h"
#ifdef OUTREACHCTL_HAVE_YAML
#include <yaml.h>
#endif

namespace outreach::ctl {

namespace pb = google::protobuf;

absl::StatusOr<Format> ParseFormat(const std::string& text) {
  if (text == "table") return Format::kTable;
  if (text == "json") return Format::kJson;
  if (text == "yaml") return Format::kYaml;
  if (text == "csv") return Format::kCsv;
  return absl::InvalidArgumentError(
      absl::StrCat("--output: \"", text, "\" is not one of table, json, yaml, csv"));
}

std::string ToJson(const pb::Message& message) {
  pb::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string out;
  if (!pb::util::MessageToJsonString(message, &out, options).ok()) return "{}\n";
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  return out;
}

namespace {

std::string FormatNumber(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrFormat("%.0f", v);
  }
  if (std::fabs(v) >= 100) return absl::StrFormat("%.1f", v);
  return absl::StrFormat("%.4g", v);
}

bool PlainYamlScalar(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  static const char* const kWords[] = {"true", "false", "null", "yes", "no",
                                       "on",   "off",   "~",    "y",   "n"};
  const std::string lower = absl::AsciiStrToLower(s);
  for (const char* w : kWords) {
    if (lower == w) return false;
  }
  // Numbers, and what YAML 1.1 reads as a date, time or number in another base, are quoted.
  if (absl::ascii_isdigit(static_cast<unsigned char>(s.front()))) return false;
  double ignored = 0;
  if (absl::SimpleAtod(s, &ignored)) return false;
  if (std::string("-?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string::npos) return false;
  if (absl::StrContains(s, ": ") || absl::StrContains(s, " #")) return false;
  for (unsigned char c : s) {
    if (c < 0x20) return false;
  }
  return s.back() != ':';
}

std::string QuotedYaml(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\x%02x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
}

// The JSON text of a message as an ordered tree, so YAML keeps the fields in proto order.
struct JsonNode {
  enum Kind { kNull, kBool, kNumber, kString, kObject, kArray } kind = kNull;
  std::string text;               // a number's or boolean's literal, a string's decoded value
  std::vector<std::string> keys;  // an object's keys, in order; its values are `items`
  std::vector<JsonNode> items;    // an array's elements or an object's values
};

class JsonReader {
 public:
  explicit JsonReader(absl::string_view text) : text_(text) {}

  bool Parse(JsonNode* node) {
    if (!Value(node, 0)) return false;
    Space();
    return pos_ == text_.size();
  }

 private:
  void Space() {
    while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_])))
      ++pos_;
  }
  bool Eat(char c) {
    Space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool Hex4(uint32_t* out) {
    if (pos_ + 4 > text_.size()) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    *out = v;
    return true;
  }
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return false;
      const char e = text_[pos_++];
      switch (e) {
        case 'n':
          out->push_back('\n');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 1 < text_.size() && text_[pos_] == '\\' &&
              text_[pos_ + 1] == 'u') {
            pos_ += 2;
            uint32_t low = 0;
            if (!Hex4(&low)) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          out->push_back(e);
      }
    }
    return false;
  }
  bool Value(JsonNode* node, int depth) {
    if (depth > 100) return false;
    Space();
    if (pos_ >= text_.size()) return false;
    const char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      node->kind = JsonNode::kObject;
      if (Eat('}')) return true;
      do {
        std::string key;
        JsonNode child;
        if (!String(&key) || !Eat(':') || !Value(&child, depth + 1)) return false;
        node->keys.push_back(std::move(key));
        node->items.push_back(std::move(child));
      } while (Eat(','));
      return Eat('}');
    }
    if (c == '[') {
      ++pos_;
      node->kind = JsonNode::kArray;
      if (Eat(']')) return true;
      do {
        JsonNode child;
        if (!Value(&child, depth + 1)) return false;
        node->items.push_back(std::move(child));
      } while (Eat(','));
      return Eat(']');
    }
    if (c == '"') {
      node->kind = JsonNode::kString;
      return String(&node->text);
    }
    const size_t start = pos_;
    while (pos_ < text_.size() &&
           std::string_view(",}] \t\r\n").find(text_[pos_]) == std::string_view::npos)
      ++pos_;
    node->text = std::string(text_.substr(start, pos_ - start));
    if (node->text == "null") {
      node->kind = JsonNode::kNull;
    } else if (node->text == "true" || node->text == "false") {
      node->kind = JsonNode::kBool;
    } else {
      node->kind = JsonNode::kNumber;
    }
    return !node->text.empty();
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

std::string YamlScalar(const JsonNode& v) {
  switch (v.kind) {
    case JsonNode::kNull:
      return "null";
    case JsonNode::kBool:
    case JsonNode::kNumber:
      return v.text;
    case JsonNode::kString:
      return PlainYamlScalar(v.text) ? v.text : QuotedYaml(v.text);
    case JsonNode::kObject:
      return "{}";
    case JsonNode::kArray:
      return "[]";
  }
  return "null";
}

bool IsCollection(const JsonNode& v) {
  return (v.kind == JsonNode::kObject && !v.items.empty()) ||
         (v.kind == JsonNode::kArray && !v.items.empty());
}

void EmitYaml(const JsonNode& v, int indent, std::string* out) {
  if (v.kind == JsonNode::kObject && !v.items.empty()) {
    for (size_t i = 0; i < v.items.size(); ++i) {
      const std::string& k = v.keys[i];
      const JsonNode& child = v.items[i];
      absl::StrAppend(out, std::string(indent, ' '), PlainYamlScalar(k) ? k : QuotedYaml(k), ":");
      if (IsCollection(child)) {
        out->push_back('\n');
        EmitYaml(child, child.kind == JsonNode::kArray ? indent : indent + 2, out);
      } else {
        absl::StrAppend(out, " ", YamlScalar(child), "\n");
      }
    }
    return;
  }
  if (v.kind == JsonNode::kArray && !v.items.empty()) {
    for (const auto& item : v.items) {
      absl::StrAppend(out, std::string(indent, ' '), "-");
      if (IsCollection(item)) {
        // "- " then the item's first line, its other lines at indent + 2.
        std::string nested;
        EmitYaml(item, indent + 2, &nested);
        absl::StrAppend(out, " ", nested.substr(static_cast<size_t>(indent) + 2));
      } else {
        absl::StrAppend(out, " ", YamlScalar(item), "\n");
      }
    }
    return;
  }
  absl::StrAppend(out, std::string(indent, ' '), YamlScalar(v), "\n");
}

std::string ShortEnumName(const pb::EnumValueDescriptor* value) {
  const pb::EnumDescriptor* type = value->type();
  std::string prefix;
  if (type->value_count() > 0 && absl::EndsWith(type->value(0)->name(), "_UNSPECIFIED")) {
    prefix = type->value(0)->name().substr(0, type->value(0)->name().size() - 11);
  }
  if (!prefix.empty() && absl::StartsWith(value->name(), prefix)) {
    return value->name().substr(prefix.size());
  }
  return value->name();
}

std::string DateText(const pb::Message& m) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  const auto* y = d->FindFieldByName("year");
  const auto* mo = d->FindFieldByName("month");
  const auto* da = d->FindFieldByName("day");
  if (y == nullptr || mo == nullptr || da == nullptr) return "";
  if (r->GetInt32(m, y) == 0) return "";
  return absl::StrFormat("%04d-%02d-%02d", r->GetInt32(m, y), r->GetInt32(m, mo),
                         r->GetInt32(m, da));
}

std::string MessageText(const pb::Message& m, bool brief) {
  const std::string& type = m.GetDescriptor()->full_name();
  const auto* r = m.GetReflection();
  const auto* d = m.GetDescriptor();
  if (type == "google.protobuf.Timestamp") {
    const int64_t seconds = r->GetInt64(m, d->FindFieldByName("seconds"));
    const int32_t nanos = r->GetInt32(m, d->FindFieldByName("nanos"));
    const absl::Time t = absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos);
    // Tables show minutes (UTC); CSV and the rest RFC 3339 to the second.
    return absl::FormatTime(brief ? "%Y-%m-%d %H:%MZ" : "%Y-%m-%dT%H:%M:%SZ", t,
                            absl::UTCTimeZone());
  }
  if (type == "outreach.common.v1.Date") return DateText(m);
  if (type == "outreach.common.v1.DateRange") {
    const auto* start = d->FindFieldByName("start_date");
    const auto* end = d->FindFieldByName("end_date");
    return absl::StrCat(DateText(r->GetMessage(m, start)), "..", DateText(r->GetMessage(m, end)));
  }
  std::string json;
  (void)pb::util::MessageToJsonString(m, &json);
  return json;
}

std::string ValueText(const pb::Message& m, const pb::FieldDescriptor* f, int index,
                      bool short_enums) {
  const auto* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return FormatNumber(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return FormatNumber(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const auto* v = rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f);
      return short_enums ? ShortEnumName(v) : v->name();
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageText(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f),
                         short_enums);
  }
  return "";
}

// Collects the values at parts[i..] of `m`.
void Collect(const pb::Message& m, const std::vector<std::string>& parts, size_t i,
             bool short_enums, std::vector<std::string>* out) {
  const auto* f = m.GetDescriptor()->FindFieldByName(parts[i]);
  if (f == nullptr) return;
  const auto* r = m.GetReflection();
  const bool last = i + 1 == parts.size();
  if (last) {
    if (f->is_repeated()) {
      for (int k = 0; k < r->FieldSize(m, f); ++k) out->push_back(ValueText(m, f, k, short_enums));
    } else if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || r->HasField(m, f)) {
      out->push_back(ValueText(m, f, -1, short_enums));
    }
    return;
  }
  if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) return;
  if (f->is_repeated()) {
    for (int k = 0; k < r->FieldSize(m, f); ++k) {
      Collect(r->GetRepeatedMessage(m, f, k), parts, i + 1, short_enums, out);
    }
  } else if (r->HasField(m, f)) {
    Collect(r->GetMessage(m, f), parts, i + 1, short_enums, out);
  }
}

bool IsLeafMessage(const pb::Descriptor* d) {
  const std::string& n = d->full_name();
  return n == "google.protobuf.Timestamp" || n == "outreach.common.v1.Date" ||
         n == "outreach.common.v1.DateRange" || n == "google.protobuf.Duration";
}

void FlattenInto(const pb::Message& m, const std::string& prefix,
                 std::vector<std::pair<std::string, std::string>>* out) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->is_repeated()) {
      const int n = r->FieldSize(m, f);
      if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE &&
          !IsLeafMessage(f->message_type())) {
        for (int k = 0; k < n; ++k) {
          FlattenInto(r->GetRepeatedMessage(m, f, k), absl::StrCat(path, "[", k, "]"), out);
        }
      } else if (n > 0) {
        std::vector<std::string> values;
        values.reserve(static_cast<size_t>(n));
        for (int k = 0; k < n; ++k) values.push_back(ValueText(m, f, k, true));
        out->emplace_back(path, absl::StrJoin(values, ", "));
      }
      continue;
    }
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        if (!r->HasField(m, f)) break;
        if (IsLeafMessage(f->message_type())) {
          out->emplace_back(path, ValueText(m, f, -1, true));
        } else {
          FlattenInto(r->GetMessage(m, f), path, out);
        }
        break;
      case pb::FieldDescriptor::CPPTYPE_STRING:
        if (f->has_presence() ? r->HasField(m, f) : !r->GetString(m, f).empty()) {
          out->emplace_back(path, ValueText(m, f, -1, true));
        }
        break;
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        if (r->GetEnumValue(m, f) != 0) out->emplace_back(path, ValueText(m, f, -1, true));
        break;
      default:
        // Numbers and switches: a zero count is an answer, so it is shown (unless a oneof
        // member or optional field that is not set).
        if (f->has_presence() && !r->HasField(m, f)) break;
        out->emplace_back(path, ValueText(m, f, -1, true));
    }
  }
}

std::string ToLowerDashed(const std::string& name) {
  std::string out = absl::AsciiStrToLower(name);
  for (char& c : out) {
    if (c == '_') c = '-';
  }
  return out;
}

std::string EnumPrefix(const pb::EnumDescriptor* type) {
  if (type->value_count() > 0 && absl::EndsWith(type->value(0)->name(), "_UNSPECIFIED")) {
    return type->value(0)->name().substr(0, type->value(0)->name().size() - 11);
  }
  return "";
}

absl::Status SetScalar(pb::Message* m, const pb::FieldDescriptor* f, const std::string& text) {
  const auto* r = m->GetReflection();
  const bool rep = f->is_repeated();
  auto bad = [&](const char* what) {
    return absl::InvalidArgumentError(absl::StrCat(f->name(), ": \"", text, "\" is not ", what));
  };
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      rep ? r->AddString(m, f, text) : r->SetString(m, f, text);
      return absl::OkStatus();
    case pb::FieldDescriptor::CPPTYPE_BOOL: {
      bool v = false;
      if (!absl::SimpleAtob(text, &v)) return bad("true or false");
      rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_INT32: {
      int32_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return bad("a whole number");
      rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return bad("a whole number");
      rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_DOUBLE: {
      double v = 0;
      if (!absl::SimpleAtod(text, &v)) return bad("a number");
      rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      auto v = ParseEnum(f->enum_type(), text);
      if (!v.ok())
        return absl::InvalidArgumentError(absl::StrCat(f->name(), ": ", v.status().message()));
      rep ? r->AddEnumValue(m, f, *v) : r->SetEnumValue(m, f, *v);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
      pb::Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      const auto* d = sub->GetDescriptor();
      const auto* sr = sub->GetReflection();
      if (d->full_name() == "google.protobuf.Timestamp") {
        auto t = ParseTime(text);
        if (!t.ok())
          return absl::InvalidArgumentError(absl::StrCat(f->name(), ": ", t.status().message()));
        const int64_t seconds = absl::ToUnixSeconds(*t);
        sr->SetInt64(sub, d->FindFieldByName("seconds"), seconds);
        sr->SetInt32(
            sub, d->FindFieldByName("nanos"),
            static_cast<int32_t>(absl::ToInt64Nanoseconds(*t - absl::FromUnixSeconds(seconds))));
        return absl::OkStatus();
      }
      if (d->full_name() == "outreach.common.v1.Date") {
        auto day = ParseDay(text);
        if (!day.ok())
          return absl::InvalidArgumentError(absl::StrCat(f->name(), ": ", day.status().message()));
        sr->SetInt32(sub, d->FindFieldByName("year"), static_cast<int32_t>(day->year()));
        sr->SetInt32(sub, d->FindFieldByName("month"), day->month());
        sr->SetInt32(sub, d->FindFieldByName("day"), day->day());
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError(absl::StrCat(
          f->name(), ": a ", d->name(), " cannot be given on the command line; use -f FILE"));
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(f->name(), ": this type is not settable here"));
  }
}

}  // namespace

std::string ToYaml(const pb::Message& message) {
  std::string json;
  JsonNode tree;
  if (!pb::util::MessageToJsonString(message, &json).ok() || !JsonReader(json).Parse(&tree))
    return "{}\n";
  if (!IsCollection(tree)) return YamlScalar(tree) + "\n";
  std::string out;
  EmitYaml(tree, 0, &out);
  return out;
}

std::string FieldText(const pb::Message& message, const std::string& path, bool short_enums) {
  std::string p = path;
  const bool sum = absl::StartsWith(p, "sum:");
  const bool id = absl::StartsWith(p, "id:");
  if (sum) p = p.substr(4);
  if (id) p = p.substr(3);
  std::vector<std::string> parts = absl::StrSplit(p, '.');
  std::vector<std::string> values;
  Collect(message, parts, 0, short_enums, &values);
  if (id) {
    for (auto& v : values) v = v.substr(v.rfind('/') + 1);
  }
  if (!sum) return absl::StrJoin(values, ", ");
  double total = 0;
  for (const auto& v : values) {
    double x = 0;
    if (absl::SimpleAtod(v, &x)) total += x;
  }
  return values.empty() ? "" : FormatNumber(total);
}

std::vector<std::pair<std::string, std::string>> Flatten(const pb::Message& message) {
  std::vector<std::pair<std::string, std::string>> out;
  FlattenInto(message, "", &out);
  return out;
}

std::string RenderStrings(Format format, const std::vector<std::string>& headers,
                          const std::vector<std::vector<std::string>>& rows, size_t width) {
  if (format == Format::kCsv) {
    std::string out = CsvLine(headers);
    for (const auto& row : rows) out += CsvLine(row);
    return out;
  }
  return RenderTable(headers, rows, width);
}

std::string RenderRows(Format format, const std::vector<Column>& columns,
                       const std::vector<const pb::Message*>& messages, size_t width) {
  std::vector<std::string> headers;
  headers.reserve(columns.size());
  for (const auto& c : columns) headers.push_back(c.header);
  std::vector<std::vector<std::string>> rows;
  rows.reserve(messages.size());
  for (const pb::Message* m : messages) {
    std::vector<std::string> row;
    row.reserve(columns.size());
    for (const auto& c : columns) {
      row.push_back(c.compute ? c.compute(*m) : FieldText(*m, c.path, format == Format::kTable));
    }
    rows.push_back(std::move(row));
  }
  return RenderStrings(format, headers, rows, width);
}

std::string RenderMessage(Format format, const pb::Message& message, size_t width) {
  switch (format) {
    case Format::kJson:
      return ToJson(message);
    case Format::kYaml:
      return ToYaml(message);
    case Format::kTable:
    case Format::kCsv: {
      std::vector<std::vector<std::string>> rows;
      for (auto& [path, value] : Flatten(message)) rows.push_back({path, value});
      return RenderStrings(format, {"FIELD", "VALUE"}, rows, width);
    }
  }
  return "";
}

absl::Status SetField(pb::Message* message, const std::string& path, const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  pb::Message* m = message;
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto* f = m->GetDescriptor()->FindFieldByName(parts[i]);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(m->GetDescriptor()->name(), " has no field ", parts[i]));
    }
    if (i + 1 < parts.size()) {
      if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": ", parts[i], " is not a message field"));
      }
      m = m->GetReflection()->MutableMessage(m, f);
      continue;
    }
    if (f->is_repeated() && f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
        if (absl::Status s = SetScalar(m, f, std::string(absl::StripAsciiWhitespace(item)));
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    }
    return SetScalar(m, f, text);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ParseEnum(const pb::EnumDescriptor* type, const std::string& text) {
  std::string upper = absl::AsciiStrToUpper(text);
  for (char& c : upper) {
    if (c == '-' || c == ' ') c = '_';
  }
  const pb::EnumValueDescriptor* v = type->FindValueByName(upper);
  if (v == nullptr) v = type->FindValueByName(EnumPrefix(type) + upper);
  if (v == nullptr || v->number() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not one of ", absl::StrJoin(EnumChoices(type), ", ")));
  }
  return v->number();
}

std::vector<std::string> EnumChoices(const pb::EnumDescriptor* type) {
  std::vector<std::string> out;
  const std::string prefix = EnumPrefix(type);
  for (int i = 0; i < type->value_count(); ++i) {
    const auto* v = type->value(i);
    if (v->number() == 0) continue;
    std::string name = v->name();
    if (!prefix.empty() && absl::StartsWith(name, prefix)) name = name.substr(prefix.size());
    out.push_back(ToLowerDashed(name));
  }
  return out;
}

namespace {

struct FilterToken {
  size_t begin, end;
  enum Kind { kWord, kString, kOp, kOther } kind;
};

std::vector<FilterToken> TokenizeFilter(const std::string& f) {
  std::vector<FilterToken> out;
  size_t i = 0;
  auto word_char = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  };
  while (i < f.size()) {
    const char c = f[i];
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '"') {
      size_t j = i + 1;
      while (j < f.size() && f[j] != '"') j += f[j] == '\\' ? 2 : 1;
      j = std::min(j + 1, f.size());
      out.push_back({i, j, FilterToken::kString});
      i = j;
    } else if (word_char(c)) {
      size_t j = i;
      while (j < f.size() && word_char(f[j])) ++j;
      out.push_back({i, j, FilterToken::kWord});
      i = j;
    } else if (c == '=' || c == '!' || c == '<' || c == '>' || c == ':') {
      size_t j = i;
      while (j < f.size() &&
             (f[j] == '=' || f[j] == '!' || f[j] == '<' || f[j] == '>' || f[j] == ':'))
        ++j;
      out.push_back({i, j, FilterToken::kOp});
      i = j;
    } else {
      out.push_back({i, i + 1, FilterToken::kOther});
      ++i;
    }
  }
  return out;
}

const pb::FieldDescriptor* FieldByPath(const pb::Descriptor* type, const std::string& path) {
  const pb::FieldDescriptor* f = nullptr;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (type == nullptr) return nullptr;
    f = type->FindFieldByName(std::string(part));
    if (f == nullptr) return nullptr;
    type = f->message_type();
  }
  return f;
}

}  // namespace

std::string NormalizeFilter(const pb::Descriptor* item, const std::string& filter) {
  const auto tokens = TokenizeFilter(filter);
  std::string out;
  size_t copied = 0;
  for (size_t t = 0; t + 2 < tokens.size(); ++t) {
    const auto& field = tokens[t];
    const auto& op = tokens[t + 1];
    const auto& value = tokens[t + 2];
    if (field.kind != FilterToken::kWord || op.kind != FilterToken::kOp ||
        (value.kind != FilterToken::kWord && value.kind != FilterToken::kString)) {
      continue;
    }
    const std::string op_text = filter.substr(op.begin, op.end - op.begin);
    if (op_text != "=" && op_text != "!=") continue;
    const auto* f = FieldByPath(item, filter.substr(field.begin, field.end - field.begin));
    if (f == nullptr || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_ENUM) continue;
    std::string text = filter.substr(value.begin, value.end - value.begin);
    if (value.kind == FilterToken::kString) {
      if (text.size() < 2 || text.back() != '"') continue;
      text = text.substr(1, text.size() - 2);
    }
    auto number = ParseEnum(f->enum_type(), text);
    if (!number.ok()) continue;
    out += filter.substr(copied, value.begin - copied);
    out += f->enum_type()->FindValueByNumber(*number)->name();
    copied = value.end;
    t += 2;
  }
  out += filter.substr(copied);
  return out;
}

absl::StatusOr<absl::CivilDay> ParseDay(const std::string& text) {
  absl::CivilDay day;
  if (text.size() != 10 || !absl::ParseCivilTime(text, &day)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a date YYYY-MM-DD"));
  }
  return day;
}

absl::StatusOr<absl::Time> ParseTime(const std::string& text) {
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &error)) return t;
  if (auto day = ParseDay(text); day.ok()) return StartOfLocalDay(*day);
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text, "\" is not an RFC 3339 time (2025-06-01T10:00:00Z) or a date"));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot be read"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

#ifdef OUTREACHCTL_HAVE_YAML
namespace {

std::string JsonString(const std::string& s) {
  pb::Value v;
  v.set_string_value(s);
  std::string out;
  (void)pb::util::MessageToJsonString(v, &out);
  return out;
}

// YAML node -> JSON text: plain scalars that read as numbers, booleans or null stay bare.
absl::Status YamlNodeToJson(yaml_document_t* doc, yaml_node_t* node, int depth, std::string* out) {
  if (node == nullptr || depth > 64) return absl::InvalidArgumentError("malformed YAML");
  switch (node->type) {
    case YAML_SCALAR_NODE: {
      std::string value(reinterpret_cast<const char*>(node->data.scalar.value),
                        node->data.scalar.length);
      if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        double ignored = 0;
        if (value == "true" || value == "false" || value == "null") {
          *out += value;
          return absl::OkStatus();
        }
        if (value == "~" || value.empty()) {
          *out += "null";
          return absl::OkStatus();
        }
        if (absl::SimpleAtod(value, &ignored)) {
          *out += value;
          return absl::OkStatus();
        }
      }
      *out += JsonString(value);
      return absl::OkStatus();
    }
    case YAML_SEQUENCE_NODE: {
      *out += "[";
      bool first = true;
      for (yaml_node_item_t* item = node->data.sequence.items.start;
           item < node->data.sequence.items.top; ++item) {
        if (!first) *out += ",";
        first = false;
        if (auto s = YamlNodeToJson(doc, yaml_document_get_node(doc, *item), depth + 1, out);
            !s.ok())
          return s;
      }
      *out += "]";
      return absl::OkStatus();
    }
    case YAML_MAPPING_NODE: {
      *out += "{";
      bool first = true;
      for (yaml_node_pair_t* pair = node->data.mapping.pairs.start;
           pair < node->data.mapping.pairs.top; ++pair) {
        yaml_node_t* key = yaml_document_get_node(doc, pair->key);
        if (key == nullptr || key->type != YAML_SCALAR_NODE) {
          return absl::InvalidArgumentError("YAML mapping keys must be plain names");
        }
        if (!first) *out += ",";
        first = false;
        *out += JsonString(std::string(reinterpret_cast<const char*>(key->data.scalar.value),
                                       key->data.scalar.length));
        *out += ":";
        if (auto s = YamlNodeToJson(doc, yaml_document_get_node(doc, pair->value), depth + 1, out);
            !s.ok())
          return s;
      }
      *out += "}";
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError("malformed YAML");
  }
}

absl::StatusOr<std::string> YamlToJson(const std::string& text) {
  yaml_parser_t parser;
  if (yaml_parser_initialize(&parser) == 0) return absl::InternalError("YAML parser");
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  yaml_document_t doc;
  if (yaml_parser_load(&parser, &doc) == 0) {
    std::string message = absl::StrCat("YAML line ", parser.problem_mark.line + 1, ": ",
                                       parser.problem != nullptr ? parser.problem : "malformed");
    yaml_parser_delete(&parser);
    return absl::InvalidArgumentError(message);
  }
  std::string json;
  absl::Status s = YamlNodeToJson(&doc, yaml_document_get_root_node(&doc), 0, &json);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  if (!s.ok()) return s;
  return json;
}

}  // namespace
#endif

absl::Status ReadMessageFile(const std::string& path, pb::Message* message, std::string* contents) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  *contents = *text;
  std::string json = *text;
  const bool yaml = absl::EndsWith(path, ".yaml") || absl::EndsWith(path, ".yml");
  if (yaml) {
#ifdef OUTREACHCTL_HAVE_YAML
    auto converted = YamlToJson(*text);
    if (!converted.ok())
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", converted.status().message()));
    json = *converted;
#else
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": this outreachctl was built without YAML; give the file as JSON"));
#endif
  }
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (auto s = pb::util::JsonStringToMessage(json, message, options); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a ", message->GetDescriptor()->name(),
                     " (protobuf JSON mapping): ", s.message().as_string()));
  }
  return absl::OkStatus();
}

}  // namespace outreach::ctl
