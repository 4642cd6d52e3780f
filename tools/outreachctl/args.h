#pragma once

// Command-line words of one outreachctl command: positional words and flags
// (`--name=value`, `--name value`, a bare `--name` for a switch, `-o json` for the few short
// forms). Flags may come before, between or after positional words; `--` ends the flags.
// Unknown flags are refused with the nearest known one suggested.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace outreach::ctl {

struct FlagSpec {
  std::string name;        // without dashes, e.g. "order-by"
  std::string value_name;  // e.g. "FIELD"; empty for a switch (no value)
  std::string help;
  char short_name = 0;    // e.g. 'o' for -o
  bool repeated = false;  // may be given more than once (values kept in order)
};

class ParsedArgs {
 public:
  std::vector<std::string> positional;

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value given for `name`, or `fallback`.
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // Every value given for a repeated flag, in order.
  std::vector<std::string> All(const std::string& name) const;
  void Set(const std::string& name, std::string value) {
    values_[name].push_back(std::move(value));
  }

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

// Parses `words` against `specs`. Errors are usage errors (one line, no program name).
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& words,
                                     const std::vector<FlagSpec>& specs);

// Levenshtein distance, for suggestions.
size_t EditDistance(const std::string& a, const std::string& b);
// The candidate nearest to `word` when it is plausibly a typo of it (distance at most a third of
// its length, at least 1; or `word` is a prefix of exactly one candidate); nullopt otherwise.
std::optional<std::string> Nearest(const std::string& word,
                                   const std::vector<std::string>& candidates);

// The help lines of `specs`, aligned: "  -o, --output FORMAT   table|json|yaml|csv".
std::string FlagHelp(const std::vector<FlagSpec>& specs);

}  // namespace outreach::ctl
