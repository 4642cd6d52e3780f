#include "common/field_mask.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "google/protobuf/util/field_mask_util.h"

namespace outreach {

absl::StatusOr<std::set<std::string>> ValidateUpdateMask(
    const google::protobuf::FieldMask& mask, const std::vector<std::string>& updatable) {
  if (mask.paths_size() == 0) {
    return InvalidArgument("update_mask", absl::StrCat("is required; updatable fields: ",
                                                       absl::StrJoin(updatable, ", ")));
  }
  std::set<std::string> out;
  for (const std::string& path : mask.paths()) {
    if (path == "*") {
      out.insert(updatable.begin(), updatable.end());
      continue;
    }
    bool known = false;
    for (const auto& u : updatable) known = known || u == path;
    if (!known) {
      return InvalidArgument("update_mask", absl::StrCat("\"", path.substr(0, 100),
                                                         "\" cannot be updated; updatable fields: ",
                                                         absl::StrJoin(updatable, ", ")));
    }
    out.insert(path);
  }
  return out;
}

void MergeMasked(const google::protobuf::Message& input, const std::set<std::string>& paths,
                 google::protobuf::Message* target) {
  google::protobuf::FieldMask mask;
  for (const auto& p : paths) mask.add_paths(p);
  google::protobuf::util::FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  google::protobuf::util::FieldMaskUtil::MergeMessageTo(input, mask, options, target);
}

}  // namespace outreach
