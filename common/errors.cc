#include "common/errors.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace outreach {
namespace {

// Payload keys. The type URLs double as markers that a status is a public domain error.
constexpr absl::string_view kErrorInfoUrl = "type.googleapis.com/google.rpc.ErrorInfo";
constexpr absl::string_view kBadRequestUrl = "type.googleapis.com/google.rpc.BadRequest";

// The length of the well-formed UTF-8 sequence (RFC 3629) at the start of `s`, or 0.
size_t Utf8SequenceLength(absl::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto continuation = [&](size_t i, unsigned char lo, unsigned char hi) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  const unsigned char c = byte(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return continuation(1, 0x80, 0xBF) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;  // no UTF-16 surrogates
    return continuation(1, lo, hi) && continuation(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return continuation(1, lo, hi) && continuation(2, 0x80, 0xBF) && continuation(3, 0x80, 0xBF)
               ? 4
               : 0;
  }
  return 0;
}

// Messages often quote what the caller sent, which may be any bytes; proto3 strings must be
// UTF-8, or a client cannot parse the ErrorInfo/BadRequest details at all. Invalid bytes become
// U+FFFD.
std::string ValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t n = Utf8SequenceLength(text);
    absl::StrAppend(&out, n == 0 ? absl::string_view("\xEF\xBF\xBD") : text.substr(0, n));
    text.remove_prefix(n == 0 ? 1 : n);
  }
  return out;
}

absl::Status Make(absl::StatusCode code, absl::string_view reason, absl::string_view message,
                  const std::vector<FieldViolation>& violations = {}) {
  absl::Status status(code, ValidUtf8(message));
  google::rpc::ErrorInfo info;
  info.set_reason(ValidUtf8(reason));
  status.SetPayload(kErrorInfoUrl, absl::Cord(info.SerializeAsString()));
  if (!violations.empty()) {
    google::rpc::BadRequest bad_request;
    for (const auto& v : violations) {
      auto* fv = bad_request.add_field_violations();
      fv->set_field(ValidUtf8(v.field));
      fv->set_description(ValidUtf8(v.description));
    }
    status.SetPayload(kBadRequestUrl, absl::Cord(bad_request.SerializeAsString()));
  }
  return status;
}

std::string GenericMessage(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
      return "the service is temporarily unavailable; retry with backoff";
    case absl::StatusCode::kDeadlineExceeded:
      return "the deadline expired before the operation completed";
    case absl::StatusCode::kCancelled:
      return "the call was cancelled";
    case absl::StatusCode::kResourceExhausted:
      return "the service is overloaded; retry with backoff";
    default:
      return "internal error";
  }
}

std::string GenericReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
      return "STORAGE_UNAVAILABLE";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    default:
      return "INTERNAL";
  }
}

// A JSON string literal; <, > and & are escaped too so the text is safe inside HTML.
std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '<':
      case '>':
      case '&':
        absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        break;
      default:
        if (c < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  return out;
}

}  // namespace

absl::Status InvalidArgument(absl::string_view field, absl::string_view description) {
  return InvalidArguments({{std::string(field), std::string(description)}});
}

absl::Status InvalidArguments(std::vector<FieldViolation> violations) {
  std::string message = "invalid argument:";
  for (size_t i = 0; i < violations.size(); ++i) {
    absl::StrAppend(&message, i == 0 ? " " : "; ", violations[i].field, ": ",
                    violations[i].description);
  }
  const auto with_reason = std::find_if(violations.begin(), violations.end(),
                                        [](const FieldViolation& v) { return !v.reason.empty(); });
  if (with_reason == violations.end()) {
    return Make(absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT", message, violations);
  }
  return WithMetadata(
      Make(absl::StatusCode::kInvalidArgument, with_reason->reason, message, violations),
      {{"field", with_reason->field}});
}

absl::Status InvalidArgumentWithReason(absl::string_view reason, absl::string_view field,
                                       absl::string_view description) {
  return Make(absl::StatusCode::kInvalidArgument, reason,
              absl::StrCat("invalid argument: ", field, ": ", description),
              {{std::string(field), std::string(description)}});
}

absl::Status NotFound(absl::string_view resource_name) {
  return WithMetadata(Make(absl::StatusCode::kNotFound, "RESOURCE_NOT_FOUND",
                           absl::StrCat(resource_name, " was not found")),
                      {{"resource", std::string(resource_name)}});
}

absl::Status AlreadyExists(absl::string_view resource_name) {
  return WithMetadata(Make(absl::StatusCode::kAlreadyExists, "RESOURCE_ALREADY_EXISTS",
                           absl::StrCat(resource_name, " already exists")),
                      {{"resource", std::string(resource_name)}});
}

absl::Status FailedPrecondition(absl::string_view reason, absl::string_view message) {
  return Make(absl::StatusCode::kFailedPrecondition, reason, message);
}

absl::Status EtagMismatch(absl::string_view resource_name) {
  return WithMetadata(
      Make(absl::StatusCode::kAborted, "ETAG_MISMATCH",
           absl::StrCat(resource_name,
                        " was changed by someone else (etag mismatch); read it again and retry")),
      {{"resource", std::string(resource_name)}});
}

absl::Status StorageUnavailable() {
  return Make(absl::StatusCode::kUnavailable, "STORAGE_UNAVAILABLE",
              "the service's store is temporarily unavailable; retry with backoff");
}

absl::Status UnreadableRequest() {
  return InvalidArgument("",
                         "the request is not a valid message of the method: a string field holds "
                         "invalid UTF-8, or the bytes are not the method's request type");
}

absl::Status Overloaded() {
  return Make(absl::StatusCode::kResourceExhausted, "OVERLOADED",
              "the service has more calls waiting than it takes on; retry with backoff");
}

absl::Status PermissionDenied(absl::string_view reason, absl::string_view message) {
  return Make(absl::StatusCode::kPermissionDenied, reason, message);
}

absl::Status Unauthenticated(absl::string_view reason, absl::string_view message) {
  return Make(absl::StatusCode::kUnauthenticated, reason, message);
}

absl::Status WithMetadata(absl::Status status,
                          const std::vector<std::pair<std::string, std::string>>& metadata) {
  auto payload = status.GetPayload(kErrorInfoUrl);
  if (!payload) return status;
  google::rpc::ErrorInfo info;
  if (!info.ParseFromString(std::string(*payload))) return status;
  for (const auto& [key, value] : metadata) {
    (*info.mutable_metadata())[ValidUtf8(key)] = ValidUtf8(value);
  }
  status.SetPayload(kErrorInfoUrl, absl::Cord(info.SerializeAsString()));
  return status;
}

bool IsPublicError(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kErrorInfoUrl).has_value();
}

std::string ErrorReason(const absl::Status& status) {
  auto payload = status.GetPayload(kErrorInfoUrl);
  if (!payload) return "";
  google::rpc::ErrorInfo info;
  if (!info.ParseFromString(std::string(*payload))) return "";
  return info.reason();
}

std::vector<FieldViolation> FieldViolations(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kBadRequestUrl);
  if (!payload) return out;
  google::rpc::BadRequest bad_request;
  if (!bad_request.ParseFromString(std::string(*payload))) return out;
  for (const auto& v : bad_request.field_violations()) {
    out.push_back({v.field(), v.description()});
  }
  // The violation a reason belongs to (InvalidArguments) gets it back, so that merging a failed
  // check into a larger list keeps the reason.
  google::rpc::ErrorInfo info;
  auto info_payload = status.GetPayload(kErrorInfoUrl);
  if (info_payload && info.ParseFromString(std::string(*info_payload)) &&
      info.reason() != "INVALID_ARGUMENT") {
    auto field = info.metadata().find("field");
    if (field != info.metadata().end()) {
      for (auto& v : out) {
        if (v.field == field->second) {
          v.reason = info.reason();
          break;
        }
      }
    }
  }
  return out;
}

PublicError PublicView(const absl::Status& status, absl::string_view context) {
  PublicError out;
  out.code = status.code();
  if (status.ok()) return out;
  if (IsPublicError(status)) {
    out.message = std::string(status.message());
    google::rpc::ErrorInfo info;
    if (info.ParseFromString(std::string(*status.GetPayload(kErrorInfoUrl)))) {
      out.reason = info.reason();
      for (const auto& [key, value] : info.metadata()) out.metadata.emplace_back(key, value);
      std::sort(out.metadata.begin(), out.metadata.end());
    }
    out.violations = FieldViolations(status);
    return out;
  }
  // Internal text stays in the log; the caller gets a stable, generic answer.
  OUTREACH_LOG(kError, "internal_error")
      .Kv("method", context)
      .Kv("code", absl::StatusCodeToString(status.code()))
      .Kv("detail", status.message());
  out.message = GenericMessage(status.code());
  out.reason = GenericReason(status.code());
  return out;
}

int HttpStatusFor(absl::StatusCode code) {
  // google/rpc/code.proto documents the HTTP mapping of each code.
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

HttpError ToHttpError(const absl::Status& status, absl::string_view context) {
  const PublicError view = PublicView(status, context);
  HttpError out;
  out.status = HttpStatusFor(view.code);
  std::string violations;
  for (const auto& v : view.violations) {
    absl::StrAppend(&violations, violations.empty() ? "" : ",", "{\"field\":", JsonQuote(v.field),
                    ",\"description\":", JsonQuote(v.description), "}");
  }
  out.json_body =
      absl::StrCat("{\"error\":{\"code\":", JsonQuote(absl::StatusCodeToString(view.code)),
                   ",\"reason\":", JsonQuote(view.reason), ",\"message\":", JsonQuote(view.message),
                   ",\"field_violations\":[", violations, "]}}\n");
  return out;
}

}  // namespace outreach
