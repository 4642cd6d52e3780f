// Resource-name parsing (common/resource_name.h): any bytes as a name against each pattern the
// services use. A name that parses has valid ids and formats back to itself; one that does not
// is INVALID_ARGUMENT naming the field the caller gave.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/resource_name.h"
#include "tests/fuzz/fuzz_check.h"

namespace outreach {
namespace {

const std::vector<ResourcePattern>& Patterns() {
  static const auto* patterns = new std::vector<ResourcePattern>{
      ResourcePattern("forces/{force}"),
      ResourcePattern("forces/{force}/venues/{venue}"),
      ResourcePattern("forces/{force}/workshops/{workshop}"),
      ResourcePattern("forces/{force}/coverage"),
      ResourcePattern("forces/{force}/courses/{course}/versions/{version}"),
      ResourcePattern("forces/{force}/enrolments/{enrolment}"),
      ResourcePattern("forces/{force}/campaigns/{campaign}/activities/{activity}"),
      ResourcePattern("forces/{force}/campaigns/{campaign}/summary"),
      ResourcePattern("forces/{force}/dashboard"),
  };
  return *patterns;
}

}  // namespace
}  // namespace outreach

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace outreach;
  if (size == 0) return 0;
  const ResourcePattern& pattern = Patterns()[data[0] % Patterns().size()];
  const std::string name(reinterpret_cast<const char*>(data + 1), size - 1);

  absl::StatusOr<std::vector<std::string>> ids = pattern.Parse("workshop.name", name);
  if (ids.ok()) {
    for (const std::string& id : *ids) FUZZ_CHECK(IsValidResourceId(id));
    FUZZ_CHECK(pattern.Format(*ids) == name);
  } else {
    FUZZ_CHECK(ids.status().code() == absl::StatusCode::kInvalidArgument);
    std::vector<FieldViolation> violations = FieldViolations(ids.status());
    FUZZ_CHECK(violations.size() == 1 && violations[0].field == "workshop.name");
  }

  absl::StatusOr<std::string> force = ParseForce("parent", name);
  if (force.ok()) FUZZ_CHECK(name == "forces/" + *force && IsValidResourceId(*force));
  return 0;
}
