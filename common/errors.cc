#include "common/errors.h"

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

absl::Status Make(absl::StatusCode code, absl::string_view reason, absl::string_view message,
                  const std::vector<FieldViolation>& violations = {}) {
  absl::Status status(code, message);
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  status.SetPayload(kErrorInfoUrl, absl::Cord(info.SerializeAsString()));
  if (!violations.empty()) {
    google::rpc::BadRequest bad_request;
    for (const auto& v : violations) {
      auto* fv = bad_request.add_field_violations();
      fv->set_field(v.field);
      fv->set_description(v.description);
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
  return Make(absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT", message, violations);
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

absl::Status PermissionDenied(absl::string_view reason, absl::string_view message) {
  return Make(absl::StatusCode::kPermissionDenied, reason, message);
}

absl::Status WithMetadata(absl::Status status,
                          const std::vector<std::pair<std::string, std::string>>& metadata) {
  auto payload = status.GetPayload(kErrorInfoUrl);
  if (!payload) return status;
  google::rpc::ErrorInfo info;
  if (!info.ParseFromString(std::string(*payload))) return status;
  for (const auto& [key, value] : metadata) (*info.mutable_metadata())[key] = value;
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
  return out;
}

grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view domain,
                          absl::string_view method) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());

  google::rpc::Status rich;
  rich.set_code(static_cast<int>(status.code()));
  google::rpc::ErrorInfo info;
  std::string message;
  if (IsPublicError(status)) {
    message = std::string(status.message());
    info.ParseFromString(std::string(*status.GetPayload(kErrorInfoUrl)));
    if (auto bad = status.GetPayload(kBadRequestUrl)) {
      google::rpc::BadRequest bad_request;
      if (bad_request.ParseFromString(std::string(*bad))) {
        rich.add_details()->PackFrom(bad_request);
      }
    }
  } else {
    // Internal text stays in the log; the caller gets a stable, generic answer.
    OUTREACH_LOG(kError, "internal_error")
        .Kv("method", method)
        .Kv("code", absl::StatusCodeToString(status.code()))
        .Kv("detail", status.message());
    message = GenericMessage(status.code());
    info.set_reason(GenericReason(status.code()));
  }
  info.set_domain(std::string(domain));
  rich.set_message(message);
  // ErrorInfo first: clients that read only the first detail get the reason.
  google::rpc::Status ordered;
  ordered.set_code(rich.code());
  ordered.set_message(message);
  ordered.add_details()->PackFrom(info);
  for (const auto& d : rich.details()) *ordered.add_details() = d;
  return grpc::Status(code, message, ordered.SerializeAsString());
}

}  // namespace outreach
