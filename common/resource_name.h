#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace outreach {

// Ids inside resource names: `[a-z][a-z0-9-]{0,62}` (AIP-122).
bool IsValidResourceId(absl::string_view id);
// A fresh server-assigned id: `prefix` (a valid id start) followed by random [a-z0-9].
std::string GenerateResourceId(absl::string_view prefix);

// A resource name pattern such as "forces/{force}/workshops/{workshop}". Parse() checks a name
// against it and returns the variable segments in order; Format() does the reverse.
class ResourcePattern {
 public:
  explicit ResourcePattern(absl::string_view pattern);

  // INVALID_ARGUMENT naming `field` when `name` does not match or an id is malformed.
  absl::StatusOr<std::vector<std::string>> Parse(absl::string_view field,
                                                 absl::string_view name) const;
  // Ids must be valid (checked in debug builds only; callers pass parsed or generated ids).
  std::string Format(const std::vector<std::string>& ids) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::vector<std::string> literals_;  // literal segments, "" where a variable stands
};

// The pattern every parent of a force's resources follows: "forces/{force}".
const ResourcePattern& ForcePattern();
// The force id of a "forces/{force}" name (INVALID_ARGUMENT naming `field` otherwise).
absl::StatusOr<std::string> ParseForce(absl::string_view field, absl::string_view name);

}  // namespace outreach
