// Config parsing (common/config.h ConfigParser): fuzzed argv and a fake environment against
// settings of every kind. Parse either fills every output within its declared range, or
// refuses with INVALID_ARGUMENT and one "config: ..." message; --help touches no output.
// No "-file" setting is declared: its value names a file to read, which fuzzed paths such as
// /dev/zero would turn into a hang rather than a finding.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/config.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr const char* kEnvNames[] = {"OUTREACH_GRPC_ADDRESS", "OUTREACH_DB_PATH",
                                     "OUTREACH_WORKERS", "OUTREACH_DRAIN_TIMEOUT",
                                     "OUTREACH_NEAR_CACHE"};

struct Settings {
  std::string grpc_address = "unset";
  std::string db_path = "unset";
  int64_t workers = -1;
  absl::Duration drain = absl::ZeroDuration();
  bool near_cache = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace outreach;
  FuzzedDataProvider in(data, size);
  std::vector<std::string> args = {"fuzzed"};
  const int argc = in.ConsumeIntegralInRange(0, 8);
  for (int i = 0; i < argc; ++i) args.push_back(in.ConsumeRandomLengthString(48));
  std::map<std::string, std::string> env;
  const int envc = in.ConsumeIntegralInRange(0, 5);
  for (int i = 0; i < envc; ++i) {
    env[kEnvNames[in.ConsumeIntegralInRange(0, 4)]] = in.ConsumeRandomLengthString(32);
  }

  Settings s;
  const Settings untouched = s;
  ConfigParser parser("fuzzed");
  parser.String("grpc-address", &s.grpc_address, std::string("127.0.0.1:50051"), "listen",
                ValidateHostPort);
  parser.String("db-path", &s.db_path, std::nullopt, "SQLite file", ValidateNotEmpty);
  parser.Int("workers", &s.workers, 4, 1, 64, "handler threads");
  parser.Duration("drain-timeout", &s.drain, absl::Seconds(10), absl::Milliseconds(1),
                  absl::Minutes(5), "grace");
  parser.Bool("near-cache", &s.near_cache, true, "near cache");

  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  bool help = false;
  absl::Status status = parser.Parse(
      static_cast<int>(argv.size()), argv.data(),
      [&](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
      },
      &help);

  if (help) {
    FUZZ_CHECK(status.ok());
    FUZZ_CHECK(s.grpc_address == untouched.grpc_address && s.workers == untouched.workers);
  } else if (status.ok()) {
    FUZZ_CHECK(ValidateHostPort(s.grpc_address).ok());
    // "unset" is also a value a caller may pass, so only emptiness says the setting was missed.
    FUZZ_CHECK(!s.db_path.empty());
    FUZZ_CHECK(s.workers >= 1 && s.workers <= 64);
    FUZZ_CHECK(s.drain >= absl::Milliseconds(1) && s.drain <= absl::Minutes(5));
  } else {
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(status.message(), "config: "));
  }
  FUZZ_CHECK(!parser.Usage().empty());
  return 0;
}
