#pragma once

// What /proc says about another process, for the benches that measure a server from outside.
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace outreach::bench {

// utime + stime of a process (all its threads), in seconds; -1 when unreadable.
inline double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return -1;
  // The command name (field 2) may hold spaces; the fields after its closing ')' are plain.
  const size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 > line.size()) return -1;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(line).substr(close + 2), ' ', absl::SkipEmpty());
  // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A number of /proc/<pid>/status ("VmRSS" in KiB, "Threads"); -1 when unreadable.
inline int64_t ProcessStatus(pid_t pid, absl::string_view field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, field) || !absl::ConsumePrefix(&rest, ":")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    int64_t value = 0;
    return absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &value) ? value : -1;
  }
  return -1;
}

// VmRSS of a process in KiB; -1 when unreadable.
inline int64_t ProcessRssKib(pid_t pid) { return ProcessStatus(pid, "VmRSS"); }

}  // namespace outreach::bench
