#include "common/validation.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace outreach {
namespace {

// The code point at *i (advanced past it), or -1 for a byte that starts no well-formed UTF-8
// sequence (RFC 3629: no overlong forms, surrogates or values above U+10FFFF).
int32_t NextCodePoint(absl::string_view s, size_t* i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(*i);
  int len = 0;
  int32_t cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c < 0x80) {
    ++*i;
    return c;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return -1;
  }
  if (*i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    const unsigned char b = byte(*i + k);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  *i += len;
  return cp;
}

bool IsSpace(int32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 ||
         (c >= 0x2000 && c <= 0x200B) || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

bool IsRefusedControl(int32_t c, TextKind kind) {
  if (c == '\t' || c == '\n' || c == '\r') return kind != TextKind::kFreeText;
  if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) return true;               // C0, DEL, C1
  if (c == 0x2028 || c == 0x2029) return kind != TextKind::kFreeText;  // line separators
  // Bidirectional embeddings, overrides and isolates make text display other than it reads.
  return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }
bool IsAlpha(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)); }
bool IsDigit(char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }
// True when position i starts a word (nothing alphanumeric right before it).
bool WordStart(absl::string_view t, size_t i) { return i == 0 || !IsAlnum(t[i - 1]); }

// local@domain.tld with a top-level domain of two or more letters.
bool HasEmail(absl::string_view t) {
  const auto local = [](char c) { return IsAlnum(c) || absl::StrContains("._%+-'", c); };
  for (size_t at = t.find('@'); at != absl::string_view::npos; at = t.find('@', at + 1)) {
    if (at == 0 || !local(t[at - 1])) continue;
    size_t end = at + 1;
    while (end < t.size() && (IsAlnum(t[end]) || t[end] == '-' || t[end] == '.')) ++end;
    while (end > at + 1 && t[end - 1] == '.') --end;  // a full stop ending the sentence
    const absl::string_view domain = t.substr(at + 1, end - at - 1);
    const size_t dot = domain.rfind('.');
    if (dot == absl::string_view::npos || dot == 0) continue;
    const absl::string_view tld = domain.substr(dot + 1);
    if (tld.size() >= 2 && std::all_of(tld.begin(), tld.end(), IsAlpha)) return true;
  }
  return false;
}

// Whether the digits (as written, +44 or 0044 included) are a UK mobile (07, 11 digits) or
// landline (01 with 10-11 digits; 02 and 03 with 11).
bool IsUkNumber(std::string digits, bool plus) {
  if (plus || absl::StartsWith(digits, "0044")) {
    if (!plus) digits.erase(0, 2);
    if (!absl::StartsWith(digits, "44")) return false;
    digits.erase(0, 2);
    if (absl::StartsWith(digits, "0")) digits.erase(0, 1);  // +44 (0)1332 ...
    // Concatenated rather than insert(0, …): GCC 12's -O3 warns (-Wrestrict) on the insert.
    digits = absl::StrCat("0", digits);
  }
  if (digits.size() < 10 || digits[0] != '0') return false;
  switch (digits[1]) {
    case '1':
      return digits.size() <= 11;
    case '2':
    case '3':
    case '7':
      return digits.size() == 11;
    default:
      return false;
  }
}

// A phone number starting at i: groups of digits split by spaces, dashes or brackets. Groups
// have two or more digits (only "(0)" has one), so "0 1 2 3 4 5 6 7 8 9" is no number.
bool PhoneAt(absl::string_view t, size_t i) {
  const bool plus = t[i] == '+';
  size_t j = plus ? i + 1 : i;
  std::string digits;
  while (j < t.size()) {
    size_t k = j;
    while (k < t.size() && IsDigit(t[k])) ++k;
    const absl::string_view group = t.substr(j, k - j);
    const bool bracketed_zero = group == "0" && j > 0 && t[j - 1] == '(';
    if (group.empty() || (group.size() < 2 && !bracketed_zero)) break;
    absl::StrAppend(&digits, group);
    if (digits.size() > 15) return false;  // 0044 and 11 digits at most
    if (IsUkNumber(digits, plus) && (k == t.size() || !IsDigit(t[k]))) return true;
    size_t seps = 0;
    while (k < t.size() && seps < 2 && absl::StrContains(" -()", t[k])) ++k, ++seps;
    if (seps == 0) break;
    j = k;
  }
  return false;
}

bool HasUkPhone(absl::string_view t) {
  for (size_t i = 0; i < t.size(); ++i) {
    if ((t[i] == '+' || t[i] == '0') && WordStart(t, i) && (i == 0 || t[i - 1] != '+') &&
        PhoneAt(t, i)) {
      return true;
    }
  }
  return false;
}

// Outward code: A9, A99, AA9, AA99, A9A, AA9A (no Q, V, X first; no I, J, Z second).
bool IsOutward(absl::string_view s) {
  if (s.size() < 2 || s.size() > 4) return false;
  size_t letters = 0;
  while (letters < s.size() && IsAlpha(s[letters])) ++letters;
  if (letters < 1 || letters > 2 || letters >= s.size() || !IsDigit(s[letters])) return false;
  if (absl::StrContains("QVX", absl::ascii_toupper(s[0]))) return false;
  if (letters == 2 && absl::StrContains("IJZ", absl::ascii_toupper(s[1]))) return false;
  return s.size() <= letters + 2 && (s.size() == letters + 1 || IsAlnum(s[letters + 1]));
}

// Inward code: a digit and two letters other than C, I, K, M, O, V.
bool IsInward(absl::string_view s) {
  if (s.size() != 3 || !IsDigit(s[0])) return false;
  for (char c : s.substr(1)) {
    if (!IsAlpha(c) || absl::StrContains("CIKMOV", absl::ascii_toupper(c))) return false;
  }
  return true;
}

bool IsUpper(absl::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return absl::ascii_islower(c); });
}

// "DE1 3AB", "NG5 1PB", "SW1A 1AA" (or without the space, in capitals). Written in lower case,
// "ks2 2nd" or "Y6 4th" is an ordinal, not a postcode, so those are only postcodes in capitals.
bool HasUkPostcode(absl::string_view t) {
  std::vector<std::pair<size_t, size_t>> words;  // [begin, end) of alphanumeric runs
  for (size_t i = 0; i < t.size();) {
    if (!IsAlnum(t[i])) {
      ++i;
      continue;
    }
    size_t e = i;
    while (e < t.size() && IsAlnum(t[e])) ++e;
    words.push_back({i, e});
    i = e;
  }
  const auto ordinal = [](absl::string_view inward) {
    const std::string s = absl::AsciiStrToLower(inward.substr(1));
    return s == "st" || s == "nd" || s == "rd" || s == "th";
  };
  for (size_t w = 0; w < words.size(); ++w) {
    const absl::string_view word = t.substr(words[w].first, words[w].second - words[w].first);
    if (word.size() >= 5 && word.size() <= 7 && IsUpper(word) &&
        IsOutward(word.substr(0, word.size() - 3)) && IsInward(word.substr(word.size() - 3))) {
      return true;
    }
    if (w + 1 == words.size() || words[w + 1].first != words[w].second + 1 ||
        t[words[w].second] != ' ') {
      continue;
    }
    const absl::string_view next =
        t.substr(words[w + 1].first, words[w + 1].second - words[w + 1].first);
    if (IsOutward(word) && IsInward(next) && ((IsUpper(word) && IsUpper(next)) || !ordinal(next))) {
      return true;
    }
  }
  return false;
}

bool IsMonthName(absl::string_view word) {
  static constexpr absl::string_view kMonths[] = {
      "jan",  "january",   "feb",  "february", "mar",  "march",    "apr",    "april",
      "may",  "jun",       "june", "jul",      "july", "aug",      "august", "sep",
      "sept", "september", "oct",  "october",  "nov",  "november", "dec",    "december"};
  const std::string lower = absl::AsciiStrToLower(word);
  return std::find(std::begin(kMonths), std::end(kMonths), lower) != std::end(kMonths);
}

// Reads a number of min..max digits at *j; -1 (and *j unchanged) when there is none.
int ReadNumber(absl::string_view t, size_t* j, size_t min, size_t max) {
  size_t k = *j;
  while (k < t.size() && IsDigit(t[k]) && k - *j < max) ++k;
  if (k - *j < min || (k < t.size() && IsDigit(t[k]))) return -1;
  int v = 0;
  for (size_t m = *j; m < k; ++m) v = v * 10 + (t[m] - '0');
  *j = k;
  return v;
}

bool ReadWord(absl::string_view t, size_t* j, absl::string_view* word) {
  size_t k = *j;
  while (k < t.size() && IsAlpha(t[k])) ++k;
  if (k == *j) return false;
  *word = t.substr(*j, k - *j);
  *j = k;
  return true;
}

void SkipOrdinal(absl::string_view t, size_t* j) {
  if (*j + 2 > t.size()) return;
  const std::string s = absl::AsciiStrToLower(t.substr(*j, 2));
  if ((s == "st" || s == "nd" || s == "rd" || s == "th") &&
      (*j + 2 == t.size() || !IsAlpha(t[*j + 2]))) {
    *j += 2;
  }
}

// The end of a date starting at i (12/03/2012, 12-03-12, 2012-03-12, 12 March 2012, 12th of
// Mar 2012, March 12, 2012), or 0 when none starts there.
size_t DateEndAt(absl::string_view t, size_t i) {
  size_t j = i;
  absl::string_view word;
  const auto skip = [&](absl::string_view chars) {
    while (j < t.size() && absl::StrContains(chars, t[j])) ++j;
  };
  if (ReadWord(t, &j, &word)) {  // March 12, 2012
    if (!IsMonthName(word)) return 0;
    skip(". ");
    const int d = ReadNumber(t, &j, 1, 2);
    if (d < 1 || d > 31) return 0;
    SkipOrdinal(t, &j);
    skip(", ");
    return ReadNumber(t, &j, 4, 4) >= 0 ? j : 0;
  }
  size_t first = j;
  const int n1 = ReadNumber(t, &j, 1, 4);
  if (n1 < 0) return 0;
  const size_t len1 = j - first;
  if (j < t.size() && absl::StrContains("/.-", t[j])) {
    const char sep = t[j++];
    const int n2 = ReadNumber(t, &j, 1, 2);
    if (n2 < 1 || n2 > 12 || j >= t.size() || t[j] != sep) return 0;
    ++j;
    first = j;
    const int n3 = ReadNumber(t, &j, 1, 4);
    const size_t len3 = j - first;
    if (len1 == 4) return n3 >= 1 && n3 <= 31 && len3 <= 2 ? j : 0;  // 2012-03-12
    return len1 <= 2 && n1 >= 1 && n1 <= 31 && (len3 == 2 || len3 == 4) ? j : 0;
  }
  if (len1 > 2 || n1 < 1 || n1 > 31) return 0;  // 12 March 2012
  SkipOrdinal(t, &j);
  skip(" ");
  if (!ReadWord(t, &j, &word)) return 0;
  if (absl::AsciiStrToLower(word) == "of") {
    skip(" ");
    if (!ReadWord(t, &j, &word)) return 0;
  }
  if (!IsMonthName(word)) return 0;
  skip(". ");
  return ReadNumber(t, &j, 4, 4) >= 0 ? j : 0;
}

// A date within a few words of "born", "birth..." (birthday, birthdate, date of birth), "DOB"
// or "d.o.b".
bool HasDateOfBirth(absl::string_view t) {
  constexpr size_t kNear = 40;  // characters between the word and the date
  const std::string lower = absl::AsciiStrToLower(t);
  std::vector<std::pair<size_t, size_t>> words;
  for (absl::string_view key : {"born", "birth", "dob", "d.o.b"}) {
    for (size_t at = lower.find(key.data(), 0, key.size()); at != std::string::npos;
         at = lower.find(key.data(), at + 1, key.size())) {
      const size_t end = at + key.size();
      const bool open_end = key == "birth";  // birthday, birthdate
      if (WordStart(lower, at) && (open_end || end == lower.size() || !IsAlpha(lower[end]))) {
        words.push_back({at, end});
      }
    }
  }
  if (words.empty()) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (!IsAlnum(t[i]) || !WordStart(t, i)) continue;
    const size_t end = DateEndAt(t, i);
    if (end == 0) continue;
    for (const auto& [wb, we] : words) {
      if ((wb >= end && wb - end <= kNear) || (i >= we && i - we <= kNear)) return true;
    }
  }
  return false;
}

}  // namespace

size_t CodePoints(absl::string_view text) {
  size_t n = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;  // not a continuation byte
  }
  return n;
}

void CheckText(absl::string_view text, size_t max, bool required, const std::string& field,
               std::vector<FieldViolation>* out, TextKind kind) {
  const size_t n = CodePoints(text);
  if (required && n == 0) {
    out->push_back({field, absl::StrCat("is required (1-", max, " characters)")});
  } else if (n > max) {
    out->push_back({field, absl::StrCat("must be at most ", max, " characters")});
  } else if (auto bad = CheckTextContent(text, kind, field); bad.has_value()) {
    out->push_back(*std::move(bad));
  }
}

std::optional<FieldViolation> CheckTextContent(absl::string_view text, TextKind kind,
                                               const std::string& field) {
  if (text.empty()) return std::nullopt;
  bool blank = true;
  for (size_t i = 0; i < text.size();) {
    const int32_t c = NextCodePoint(text, &i);
    if (c < 0) {
      return FieldViolation{field, "must be valid UTF-8", std::string(kControlCharacter)};
    }
    if (IsRefusedControl(c, kind)) {
      return FieldViolation{field,
                            kind == TextKind::kFreeText
                                ? "must not hold control characters (tab and line breaks only)"
                                : "must be one line without control characters",
                            std::string(kControlCharacter)};
    }
    if (!IsSpace(c)) blank = false;
  }
  if (blank) return FieldViolation{field, "must not be only whitespace", std::string(kBlankText)};
  if (kind == TextKind::kPlace) return std::nullopt;
  if (std::string what = FindPersonalData(text); !what.empty()) {
    // Never quote the value: it is the personal data.
    return FieldViolation{
        field, absl::StrCat("must never hold a child's personal data; this looks like ", what),
        std::string(kPersonalDataRefused)};
  }
  return std::nullopt;
}

std::string FindPersonalData(absl::string_view text) {
  if (HasEmail(text)) return "an e-mail address";
  if (HasUkPhone(text)) return "a UK phone number";
  if (HasUkPostcode(text)) return "a UK postcode";
  if (HasDateOfBirth(text)) return "a date of birth";
  return "";
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
