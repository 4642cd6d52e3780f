#pragma once

#include <string>
#include <vector>

#include "google/protobuf/message.h"

namespace outreach::security {

// What a request names, found by walking its fields (and nested messages) by descriptor, so a
// new method or field is covered without code of its own:
//  - a string field whose value starts with "forces/" names the force after it
//    ("forces/derbyshire/venues/v-1" → "derbyshire"), whatever the field is called;
//  - a string field called `force` (events carry the bare id) names that force.
struct RequestScope {
  std::vector<std::string> forces;       // distinct, in the order first named
  std::vector<std::string> resources;    // every "forces/…" value, distinct, for the audit record
  std::vector<std::string> event_kinds;  // payload kinds of OutreachEvents in the request
  std::vector<std::string> field_paths;  // the paths of an `update_mask`, if any
};
RequestScope ScopeOf(const google::protobuf::Message& request);

}  // namespace outreach::security
