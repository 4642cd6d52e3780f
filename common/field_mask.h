#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"

namespace outreach {

// Checks an Update's mask against the fields that method may change (top-level field names).
// "*" means all of `updatable`. An empty mask, an unknown path or one that is not updatable is
// INVALID_ARGUMENT naming "update_mask".
absl::StatusOr<std::set<std::string>> ValidateUpdateMask(const google::protobuf::FieldMask& mask,
                                                         const std::vector<std::string>& updatable);

// Copies the fields named by `paths` (validated by ValidateUpdateMask) from `input` to
// `target`; message and repeated fields are replaced, not merged (AIP-134).
void MergeMasked(const google::protobuf::Message& input, const std::set<std::string>& paths,
                 google::protobuf::Message* target);

}  // namespace outreach
