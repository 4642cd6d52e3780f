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

// Appends the field violations of a failed check (a status from common/errors.h helpers) to
// `out`; a failed status without violations is added as one violation of `field`.
void AppendViolations(const absl::Status& status, std::vector<FieldViolation>* out,
                      absl::string_view field = "");

// Collects the violations of several checks into one INVALID_ARGUMENT, keeping at most `max`
// so the error stays within the client's metadata limit (a batch of 500 bad rows would not).
class Violations {
 public:
  explicit Violations(size_t max = 20) : max_(max) {}
  void Add(std::string field, std::string description);
  void Merge(const absl::Status& status) { AppendViolations(status, &list_); }
  std::vector<FieldViolation>* list() { return &list_; }
  bool empty() const { return list_.empty(); }
  // OK when empty; otherwise INVALID_ARGUMENT with the first `max` violations and, when more
  // were found, one last violation of `overflow_field` saying how many were not listed.
  absl::Status ToStatus(absl::string_view overflow_field = "");

 private:
  size_t max_;
  std::vector<FieldViolation> list_;
};

}  // namespace outreach
