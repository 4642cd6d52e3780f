#include "common/field_mask.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"

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

}  // namespace outreach
