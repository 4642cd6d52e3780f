#pragma once

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace outreach {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn" or "error".
bool ParseLogLevel(absl::string_view text, LogLevel* level);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// One structured log line per event, key=value, written to stderr when it goes out of scope:
//   ts=2026-11-28T16:40:00.123Z level=info event=rpc method=/x.v1.S/Get code=OK latency_ms=1.2
// Values with spaces, quotes or '=' are quoted. Use the OUTREACH_LOG macro so that disabled
// levels cost nothing.
class LogLine {
 public:
  LogLine(LogLevel level, absl::string_view event);
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine();

  LogLine& Kv(absl::string_view key, absl::string_view value);
  LogLine& Kv(absl::string_view key, const char* value) {
    return Kv(key, absl::string_view(value));
  }
  LogLine& Kv(absl::string_view key, const std::string& value) {
    return Kv(key, absl::string_view(value));
  }
  LogLine& Kv(absl::string_view key, absl::Duration value);
  template <typename T>
  LogLine& Kv(absl::string_view key, T value) {
    return Kv(key, absl::string_view(absl::StrCat(value)));
  }

 private:
  std::string line_;
};

}  // namespace outreach

#define OUTREACH_LOG(level, event)                            \
  if (!::outreach::LogEnabled(::outreach::LogLevel::level)) { \
  } else                                                      \
    ::outreach::LogLine(::outreach::LogLevel::level, event)
