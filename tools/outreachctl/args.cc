#include "tools/outreachctl/args.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace outreach::ctl {

std::string ParsedArgs::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> ParsedArgs::All(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

namespace {

const FlagSpec* FindLong(const std::vector<FlagSpec>& specs, const std::string& name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const FlagSpec* FindShort(const std::vector<FlagSpec>& specs, char c) {
  for (const auto& s : specs) {
    if (s.short_name != 0 && s.short_name == c) return &s;
  }
  return nullptr;
}

absl::Status UnknownFlag(const std::vector<FlagSpec>& specs, const std::string& word,
                         const std::string& name) {
  std::vector<std::string> names;
  names.reserve(specs.size());
  for (const auto& s : specs) names.push_back(s.name);
  std::string message = absl::StrCat("unknown flag ", word);
  if (auto near = Nearest(name, names)) absl::StrAppend(&message, "; did you mean --", *near, "?");
  return absl::InvalidArgumentError(message);
}

}  // namespace

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& words,
                                     const std::vector<FlagSpec>& specs) {
  ParsedArgs out;
  bool flags_done = false;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (flags_done || word == "-" || word.size() < 2 || word[0] != '-') {
      out.positional.push_back(word);
      continue;
    }
    if (word == "--") {
      flags_done = true;
      continue;
    }
    const FlagSpec* spec = nullptr;
    std::optional<std::string> inline_value;
    std::string shown;
    if (absl::StartsWith(word, "--")) {
      std::string name = word.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
      }
      spec = FindLong(specs, name);
      if (spec == nullptr) return UnknownFlag(specs, word, name);
      shown = "--" + name;
    } else {
      spec = FindShort(specs, word[1]);
      if (spec == nullptr) return UnknownFlag(specs, word, word.substr(1));
      if (word.size() > 2) inline_value = word.substr(word[2] == '=' ? 3 : 2);
      shown = word.substr(0, 2);
    }
    if (spec->value_name.empty()) {
      if (inline_value && *inline_value != "true" && *inline_value != "false") {
        return absl::InvalidArgumentError(absl::StrCat(shown, " takes no value"));
      }
      if (!inline_value || *inline_value == "true") out.Set(spec->name, "true");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= words.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(shown, " needs a value (", spec->value_name, ")"));
      }
      inline_value = words[++i];
    }
    if (!spec->repeated && out.Has(spec->name) && out.Get(spec->name) != *inline_value) {
      return absl::InvalidArgumentError(absl::StrCat(shown, " given twice"));
    }
    out.Set(spec->name, *inline_value);
  }
  return out;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::string> Nearest(const std::string& word,
                                   const std::vector<std::string>& candidates) {
  if (word.empty()) return std::nullopt;
  std::vector<std::string> prefixed;
  for (const auto& c : candidates) {
    if (absl::StartsWith(c, word)) prefixed.push_back(c);
  }
  if (prefixed.size() == 1) return prefixed.front();
  const size_t allowed = std::max<size_t>(1, word.size() / 3);
  std::optional<std::string> best;
  size_t best_distance = allowed + 1;
  for (const auto& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::string FlagHelp(const std::vector<FlagSpec>& specs) {
  std::vector<std::string> left;
  size_t width = 0;
  for (const auto& s : specs) {
    std::string l = s.short_name != 0
                        ? absl::StrCat("  -", std::string(1, s.short_name), ", --", s.name)
                        : absl::StrCat("      --", s.name);
    if (!s.value_name.empty()) absl::StrAppend(&l, " ", s.value_name);
    width = std::max(width, l.size());
    left.push_back(std::move(l));
  }
  std::string out;
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::StrAppend(&out, left[i], std::string(width - left[i].size() + 3, ' '), specs[i].help,
                    "\n");
  }
  return out;
}

}  // namespace outreach::ctl
