#pragma once

// Where outreachctl connects and how: from flags, then the environment (OUTREACH_<NAME>, e.g.
// OUTREACH_WORKSHOPS_ADDRESS, OUTREACH_TOKEN_FILE), then a config file, then the defaults of
// README's local run. The config file is --config, else $OUTREACH_CONFIG, else
// $XDG_CONFIG_HOME/outreach/outreachctl.conf (~/.config/outreach/outreachctl.conf); it holds
// `name = value` lines with the flag names, `#` comments:
//   workshops-address = outreach.example.police.uk:50051
//   tls-ca-file = /etc/outreach/ca.pem
//   token-file = ~/.config/outreach/token
//   force = derbyshire
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/client.h"
#include "tools/outreachctl/args.h"

namespace outreach::ctl {

inline constexpr const char* kServices[] = {"workshops", "training", "campaigns", "metrics"};

struct Settings {
  std::map<std::string, std::string> address;  // service -> gRPC target
  ClientSecurity security;
  std::string force;   // may be empty: commands that need one say so
  std::string output;  // table|json|yaml|csv ("" = the command's default)
  absl::Duration timeout = absl::Seconds(30);
  std::string config_file;  // the file read, "" when none
};

// The flags every command accepts (connection, output, help).
const std::vector<FlagSpec>& GlobalFlags();

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// Resolves the settings; errors (unreadable or malformed config file, bad value) are usage
// errors naming the source, e.g. "~/.config/outreach/outreachctl.conf:3: unknown setting colour".
absl::StatusOr<Settings> ResolveSettings(const ParsedArgs& args, const EnvLookup& env);

// The environment variable of a setting: "token-file" -> "OUTREACH_TOKEN_FILE".
std::string EnvName(const std::string& setting);

}  // namespace outreach::ctl
