#include "common/validation.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace outreach {

size_t CodePoints(absl::string_view text) {
  size_t n = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;  // not a continuation byte
  }
  return n;
}

void CheckText(absl::string_view text, size_t max, bool required, const std::string& field,
               std::vector<FieldViolation>* out) {
  const size_t n = CodePoints(text);
  if (required && n == 0) {
    out->push_back({field, absl::StrCat("is required (1-", max, " characters)")});
  } else if (n > max) {
    out->push_back({field, absl::StrCat("must be at most ", max, " characters")});
  }
}

std::string FieldPath(absl::string_view prefix, absl::string_view field) {
  return prefix.empty() ? std::string(field) : absl::StrCat(prefix, ".", field);
}

absl::Status ViolationsToStatus(std::vector<FieldViolation> violations) {
  if (violations.empty()) return absl::OkStatus();
  return InvalidArguments(std::move(violations));
}

}  // namespace outreach
