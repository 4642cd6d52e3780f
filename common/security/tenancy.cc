#include "common/security/tenancy.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/resource_name.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/field_mask.pb.h"
#include "outreach/events/v1/events.pb.h"

namespace outreach::security {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Deep enough for every request we define (events nest three levels); a hostile request cannot
// make the walk recurse without bound because the depth is counted.
constexpr int kMaxDepth = 16;
// The audit record keeps at most this many resource names of one request.
constexpr size_t kMaxResources = 64;

void AddDistinct(std::vector<std::string>& to, absl::string_view value, size_t cap = SIZE_MAX) {
  if (to.size() >= cap) return;
  if (std::find(to.begin(), to.end(), value) == to.end()) to.emplace_back(value);
}

void NoteString(const FieldDescriptor& field, const std::string& value, RequestScope& scope) {
  // Only a well-formed force id counts: a malformed one names no force that exists, and every
  // handler refuses it as INVALID_ARGUMENT naming the field (the same id rule, resource_name.h).
  absl::string_view rest = value;
  if (absl::ConsumePrefix(&rest, "forces/")) {
    const absl::string_view force = rest.substr(0, rest.find('/'));
    if (IsValidResourceId(force)) AddDistinct(scope.forces, force);
    AddDistinct(scope.resources, value, kMaxResources);
  } else if (field.name() == "force" && IsValidResourceId(value)) {
    AddDistinct(scope.forces, value);
  }
}

void Walk(const Message& message, int depth, RequestScope& scope) {
  if (depth > kMaxDepth) return;
  const Reflection* reflection = message.GetReflection();
  if (message.GetDescriptor() == events::v1::OutreachEvent::descriptor()) {
    const auto* oneof = message.GetDescriptor()->FindOneofByName("payload");
    if (const FieldDescriptor* set = reflection->GetOneofFieldDescriptor(message, oneof)) {
      AddDistinct(scope.event_kinds, set->name());
    }
  }
  if (message.GetDescriptor() == google::protobuf::FieldMask::descriptor()) {
    for (const auto& path : static_cast<const google::protobuf::FieldMask&>(message).paths()) {
      AddDistinct(scope.field_paths, path, kMaxResources);
    }
    return;
  }
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (field->is_repeated()) {
        const int n = reflection->FieldSize(message, field);
        for (int i = 0; i < n; ++i) {
          NoteString(*field, reflection->GetRepeatedString(message, field, i), scope);
        }
      } else {
        NoteString(*field, reflection->GetString(message, field), scope);
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {  // map entries too
      if (field->is_repeated()) {
        const int n = reflection->FieldSize(message, field);
        for (int i = 0; i < n; ++i) {
          Walk(reflection->GetRepeatedMessage(message, field, i), depth + 1, scope);
        }
      } else {
        Walk(reflection->GetMessage(message, field), depth + 1, scope);
      }
    }
  }
}

}  // namespace

RequestScope ScopeOf(const Message& request) {
  RequestScope scope;
  Walk(request, 0, scope);
  return scope;
}

}  // namespace outreach::security
