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

void AppendViolations(const absl::Status& status, std::vector<FieldViolation>* out,
                      absl::string_view field) {
  if (status.ok()) return;
  std::vector<FieldViolation> fields = FieldViolations(status);
  if (fields.empty()) fields.push_back({std::string(field), std::string(status.message())});
  for (auto& f : fields) out->push_back(std::move(f));
}

void Violations::Add(std::string field, std::string description) {
  list_.push_back({std::move(field), std::move(description)});
}

absl::Status Violations::ToStatus(absl::string_view overflow_field) {
  if (list_.empty()) return absl::OkStatus();
  if (list_.size() > max_) {
    const size_t dropped = list_.size() - max_;
    list_.resize(max_);
    list_.push_back(
        {std::string(overflow_field), absl::StrCat("and ", dropped, " more problems not listed")});
  }
  return InvalidArguments(std::move(list_));
}

}  // namespace outreach
