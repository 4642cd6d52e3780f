#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace outreach {

// Reads typed settings from command-line flags (`--db-path=/x` or `--db-path /x`) and from the
// environment (`OUTREACH_DB_PATH`), flags first. Every setting is declared with its type, range
// and help text; Parse() refuses unknown flags, missing required values and values out of range
// with one line naming the setting, e.g.
//   config: --grpc-address (OUTREACH_GRPC_ADDRESS): "localhost" is not host:port
// A secret may be given as a file to read (for mounted secrets): see SecretFile.
class ConfigParser {
 public:
  using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
  using Validator = std::function<absl::Status(const std::string&)>;

  // `program` names the binary in usage text; `env_prefix` is e.g. "OUTREACH_".
  explicit ConfigParser(std::string program, std::string env_prefix = "OUTREACH_");

  // A string setting. No default (std::nullopt) makes it required. `validate` may refuse values.
  void String(std::string name, std::string* out, std::optional<std::string> default_value,
              std::string help, Validator validate = nullptr);
  // An integer setting within [min, max].
  void Int(std::string name, int64_t* out, std::optional<int64_t> default_value, int64_t min,
           int64_t max, std::string help);
  // A duration such as "10s", "250ms" or "2m" within [min, max].
  void Duration(std::string name, absl::Duration* out, std::optional<absl::Duration> default_value,
                absl::Duration min, absl::Duration max, std::string help);
  // A string whose value names a file and the setting is that file's contents (trailing
  // whitespace stripped), e.g. --page-token-key-file=/run/secrets/key. Other settings that name
  // files (--tls-cert-file, --policy-file) are plain String paths, read by their users.
  void SecretFile(std::string name, std::string* out, std::string help);
  // A boolean: true/false/1/0/yes/no; a bare `--name` means true.
  void Bool(std::string name, bool* out, bool default_value, std::string help);

  // Parses argv (argv[0] skipped) and the environment. On `--help` sets *help_requested and
  // returns OK without touching the outputs.
  absl::Status Parse(int argc, const char* const* argv, const EnvLookup& env,
                     bool* help_requested = nullptr);
  // Same, reading the process environment.
  absl::Status Parse(int argc, const char* const* argv, bool* help_requested = nullptr);

  std::string Usage() const;
  std::string EnvName(absl::string_view name) const;

 private:
  struct Setting {
    std::string name;
    std::string help;
    std::optional<std::string> default_text;
    std::function<absl::Status(const std::string& value)> assign;
    bool is_bool = false;
    bool read_contents = false;  // SecretFile
  };
  absl::Status Error(const Setting& setting, absl::string_view problem) const;

  std::string program_;
  std::string env_prefix_;
  std::vector<Setting> settings_;
};

// Validators for common shapes.
absl::Status ValidateHostPort(const std::string& value);  // "host:port", port 0..65535
absl::Status ValidateNotEmpty(const std::string& value);

// Splits "host:port" (IPv6 as "[::1]:50051"). Returns false when malformed.
bool SplitHostPort(absl::string_view address, std::string* host, int* port);

// Parses argv with `parser` and returns normally, or prints the usage (for --help, exit 0) or the
// one-line error (exit 2) and ends the process. For main().
void ParseConfigOrExit(ConfigParser& parser, int argc, char** argv);

}  // namespace outreach
