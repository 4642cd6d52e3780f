#include "common/resource_name.h"

#include <cassert>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"

namespace outreach {

bool IsValidResourceId(absl::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  if (id[0] < 'a' || id[0] > 'z') return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string GenerateResourceId(absl::string_view prefix) {
  static constexpr absl::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  thread_local absl::BitGen gen;
  std::string id(prefix.empty() ? "r" : prefix);
  id.push_back('-');
  for (int i = 0; i < 12; ++i) {
    id.push_back(kAlphabet[absl::Uniform<size_t>(gen, 0, kAlphabet.size())]);
  }
  return id;
}

ResourcePattern::ResourcePattern(absl::string_view pattern) : pattern_(pattern) {
  for (absl::string_view segment : absl::StrSplit(pattern, '/')) {
    if (segment.size() >= 2 && segment.front() == '{' && segment.back() == '}') {
      literals_.emplace_back();
    } else {
      literals_.emplace_back(segment);
    }
  }
}

absl::StatusOr<std::vector<std::string>> ResourcePattern::Parse(absl::string_view field,
                                                                absl::string_view name) const {
  const auto bad = [&](absl::string_view why) {
    return InvalidArgument(field, absl::StrCat(why, "; expected the form ", pattern_));
  };
  if (name.empty()) return bad("is required");
  if (name.size() > 512) return bad("is longer than 512 characters");
  std::vector<absl::string_view> segments = absl::StrSplit(name, '/');
  if (segments.size() != literals_.size()) return bad("has the wrong number of segments");
  std::vector<std::string> ids;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (literals_[i].empty()) {
      if (!IsValidResourceId(segments[i])) {
        return bad(absl::StrCat("segment ", i + 1, " is not a valid id ([a-z][a-z0-9-]{0,62})"));
      }
      ids.emplace_back(segments[i]);
    } else if (segments[i] != literals_[i]) {
      return bad(absl::StrCat("segment ", i + 1, " should be \"", literals_[i], "\""));
    }
  }
  return ids;
}

std::string ResourcePattern::Format(const std::vector<std::string>& ids) const {
  std::vector<absl::string_view> out;
  size_t next = 0;
  for (const auto& literal : literals_) {
    if (literal.empty()) {
      assert(next < ids.size());
      out.push_back(next < ids.size() ? absl::string_view(ids[next]) : absl::string_view("-"));
      ++next;
    } else {
      out.push_back(literal);
    }
  }
  return absl::StrJoin(out, "/");
}

const ResourcePattern& ForcePattern() {
  static const ResourcePattern* pattern = new ResourcePattern("forces/{force}");
  return *pattern;
}

absl::StatusOr<std::string> ParseForce(absl::string_view field, absl::string_view name) {
  absl::StatusOr<std::vector<std::string>> ids = ForcePattern().Parse(field, name);
  if (!ids.ok()) return ids.status();
  return (*ids)[0];
}

}  // namespace outreach
