#include "common/etag.h"

#include <openssl/sha.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace outreach {
namespace {

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

std::string Sha256Hex(absl::string_view bytes, size_t hex_chars) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
  return hex.substr(0, hex_chars);
}

}  // namespace

std::string ComputeEtag(const google::protobuf::Message& resource) {
  const auto* field = resource.GetDescriptor()->FindFieldByName("etag");
  if (field == nullptr) return Sha256Hex(DeterministicBytes(resource), 16);
  std::unique_ptr<google::protobuf::Message> copy(resource.New());
  copy->CopyFrom(resource);
  copy->GetReflection()->ClearField(copy.get(), field);
  return Sha256Hex(DeterministicBytes(*copy), 16);
}

absl::Status RequireEtag(absl::string_view field, absl::string_view etag) {
  if (etag.empty()) {
    return InvalidArgument(field, "is required: pass the etag of the version you read");
  }
  return absl::OkStatus();
}

absl::Status CheckEtag(absl::string_view field, absl::string_view resource_name,
                       absl::string_view provided, absl::string_view current) {
  if (absl::Status missing = RequireEtag(field, provided); !missing.ok()) return missing;
  if (provided == current) return absl::OkStatus();
  return EtagMismatch(resource_name);
}

std::string RequestHash(const google::protobuf::Message& request) {
  return Sha256Hex(DeterministicBytes(request), 32);
}

void StampResource(google::protobuf::Message* resource, absl::Time now, bool created) {
  const auto* d = resource->GetDescriptor();
  const auto* r = resource->GetReflection();
  if (created) {
    r->MutableMessage(resource, d->FindFieldByName("create_time"))->CopyFrom(ToProtoTime(now));
  }
  r->MutableMessage(resource, d->FindFieldByName("update_time"))->CopyFrom(ToProtoTime(now));
  r->SetString(resource, d->FindFieldByName("etag"), "");
  r->SetString(resource, d->FindFieldByName("etag"), ComputeEtag(*resource));
}

}  // namespace outreach
