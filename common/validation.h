#pragma once

#include <cstddef>
#include <optional>
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

// ErrorInfo reasons of refused text (the field violation names the field).
inline constexpr absl::string_view kBlankText = "BLANK_TEXT";
inline constexpr absl::string_view kControlCharacter = "CONTROL_CHARACTER";
inline constexpr absl::string_view kPersonalDataRefused = "PERSONAL_DATA_REFUSED";

// What a text field may hold. Every kind refuses whitespace-only values, invalid UTF-8, C0/C1
// control characters, DEL and bidirectional overrides (text that renders other than it reads).
enum class TextKind {
  // One line, screened for personal data: titles, display names, organisations, references.
  kLine,
  // Free text: tab and line breaks (\t, \n, \r) allowed, screened for personal data:
  // descriptions, notes, reasons, messages. The default, so a field nobody classified is
  // held to the strictest rule.
  kFreeText,
  // One line, not screened: a venue's name, address or postcode. A school's address is public,
  // not a child's; a postcode there is what the field is for.
  kPlace,
};

// What in `text` looks like a child's personal data, as a phrase for a field violation ("an
// e-mail address", "a UK phone number", "a UK postcode", "a date of birth"), or "" when nothing
// does. Dates count only near a word of birth (born, birthday, DOB, d.o.b): "Year 6 assembly
// 2026-03-12" is a date, not a date of birth.
std::string FindPersonalData(absl::string_view text);

// The content rules of `kind` (not the length): nullopt, or the violation of `field` with its
// reason (kBlankText, kControlCharacter, kPersonalDataRefused).
std::optional<FieldViolation> CheckTextContent(absl::string_view text, TextKind kind,
                                               const std::string& field);

// Text limits of the API (common.proto): `required` text has 1..max code points, optional text
// 0..max, and non-empty text follows the content rules of `kind`. Adds a violation naming
// `field` otherwise.
void CheckText(absl::string_view text, size_t max, bool required, const std::string& field,
               std::vector<FieldViolation>* out, TextKind kind = TextKind::kFreeText);

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
