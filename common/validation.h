#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/errors.h"

namespace outreach {

// Input checks every service makes the same way. They collect FieldViolations so that one
// INVALID_ARGUMENT names every bad field at once.

// Length of UTF-8 text in Unicode code points (the API's limits count characters, not bytes).
size_t CodePoints(absl::string_view text);

// Text limits of the API (common.proto): `required` text has 1..max code points, optional text
// 0..max. Adds a violation naming `field` otherwise.
void CheckText(absl::string_view text, size_t max, bool required, const std::string& field,
               std::vector<FieldViolation>* out);

// "venue.display_name" from ("venue", "display_name"); just the field when prefix is empty.
std::string FieldPath(absl::string_view prefix, absl::string_view field);

// OK when nothing was violated, else INVALID_ARGUMENT listing every violation.
absl::Status ViolationsToStatus(std::vector<FieldViolation> violations);

}  // namespace outreach
