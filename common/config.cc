#include "common/config.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace outreach {

ConfigParser::ConfigParser(std::string program, std::string env_prefix)
    : program_(std::move(program)), env_prefix_(std::move(env_prefix)) {}

std::string ConfigParser::EnvName(absl::string_view name) const {
  return absl::StrCat(env_prefix_, absl::AsciiStrToUpper(absl::StrReplaceAll(name, {{"-", "_"}})));
}

absl::Status ConfigParser::Error(const Setting& setting, absl::string_view problem) const {
  return absl::InvalidArgumentError(
      absl::StrCat("config: --", setting.name, " (", EnvName(setting.name), "): ", problem));
}

void ConfigParser::String(std::string name, std::string* out,
                          std::optional<std::string> default_value, std::string help,
                          Validator validate) {
  settings_.push_back(
      {std::move(name), std::move(help), std::move(default_value),
       [out, validate = std::move(validate)](const std::string& value) -> absl::Status {
         if (validate) {
           absl::Status s = validate(value);
           if (!s.ok()) return s;
         }
         *out = value;
         return absl::OkStatus();
       }});
}

void ConfigParser::SecretFile(std::string name, std::string* out, std::string help) {
  String(std::move(name), out, std::string(), std::move(help));
  settings_.back().read_contents = true;
}

void ConfigParser::Int(std::string name, int64_t* out, std::optional<int64_t> default_value,
                       int64_t min, int64_t max, std::string help) {
  std::optional<std::string> default_text;
  if (default_value) default_text = absl::StrCat(*default_value);
  settings_.push_back({std::move(name), std::move(help), default_text,
                       [out, min, max](const std::string& value) -> absl::Status {
                         int64_t parsed = 0;
                         if (!absl::SimpleAtoi(value, &parsed)) {
                           return absl::InvalidArgumentError(
                               absl::StrCat("\"", value, "\" is not an integer"));
                         }
                         if (parsed < min || parsed > max) {
                           return absl::InvalidArgumentError(
                               absl::StrCat(parsed, " is out of range [", min, ", ", max, "]"));
                         }
                         *out = parsed;
                         return absl::OkStatus();
                       }});
}

void ConfigParser::Duration(std::string name, absl::Duration* out,
                            std::optional<absl::Duration> default_value, absl::Duration min,
                            absl::Duration max, std::string help) {
  std::optional<std::string> default_text;
  if (default_value) default_text = absl::FormatDuration(*default_value);
  settings_.push_back({std::move(name), std::move(help), default_text,
                       [out, min, max](const std::string& value) -> absl::Status {
                         absl::Duration parsed;
                         if (!absl::ParseDuration(value, &parsed)) {
                           return absl::InvalidArgumentError(absl::StrCat(
                               "\"", value, "\" is not a duration (e.g. 500ms, 10s, 2m)"));
                         }
                         if (parsed < min || parsed > max) {
                           return absl::InvalidArgumentError(
                               absl::StrCat(value, " is out of range [", absl::FormatDuration(min),
                                            ", ", absl::FormatDuration(max), "]"));
                         }
                         *out = parsed;
                         return absl::OkStatus();
                       }});
}

void ConfigParser::Bool(std::string name, bool* out, bool default_value, std::string help) {
  settings_.push_back({std::move(name), std::move(help),
                       std::string(default_value ? "true" : "false"),
                       [out](const std::string& value) -> absl::Status {
                         const std::string v = absl::AsciiStrToLower(value);
                         if (v == "true" || v == "1" || v == "yes") {
                           *out = true;
                         } else if (v == "false" || v == "0" || v == "no") {
                           *out = false;
                         } else {
                           return absl::InvalidArgumentError(
                               absl::StrCat("\"", value, "\" is not a boolean (true/false)"));
                         }
                         return absl::OkStatus();
                       },
                       /*is_bool=*/true});
}

absl::Status ConfigParser::Parse(int argc, const char* const* argv, bool* help_requested) {
  return Parse(
      argc, argv,
      [](const std::string& name) -> std::optional<std::string> {
        // Read once at start-up, before any thread starts.
        const char* v = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
        if (v == nullptr) return std::nullopt;
        return std::string(v);
      },
      help_requested);
}

absl::Status ConfigParser::Parse(int argc, const char* const* argv, const EnvLookup& env,
                                 bool* help_requested) {
  if (help_requested != nullptr) *help_requested = false;
  std::map<std::string, std::string> flags;
  std::set<std::string> known;
  std::set<std::string> booleans;
  for (const auto& s : settings_) {
    known.insert(s.name);
    if (s.is_bool) booleans.insert(s.name);
  }
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      if (help_requested != nullptr) *help_requested = true;
      return absl::OkStatus();
    }
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("config: unexpected argument \"", arg,
                                                     "\" (settings look like --name=value)"));
    }
    std::string name;
    std::string value;
    const size_t eq = arg.find('=');
    if (eq != absl::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
    } else {
      name = std::string(arg);
      if (!known.count(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("config: unknown setting --", name, " (see --help)"));
      }
      if (booleans.count(name) && (i + 1 >= argc || absl::StartsWith(argv[i + 1], "--"))) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("config: --", name, " needs a value"));
      }
    }
    if (!known.count(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("config: unknown setting --", name, " (see --help)"));
    }
    flags[name] = value;
  }

  for (const auto& s : settings_) {
    std::optional<std::string> value;
    if (auto it = flags.find(s.name); it != flags.end()) {
      value = it->second;
    } else if (auto from_env = env(EnvName(s.name))) {
      value = *from_env;
    } else {
      value = s.default_text;
    }
    if (!value) return Error(s, "is required but was not set");
    if (s.read_contents && !value->empty()) {
      // The setting names a file whose contents are the value (Kubernetes secret mounts).
      std::ifstream in(*value);
      if (!in) return Error(s, absl::StrCat("cannot read file \"", *value, "\""));
      std::stringstream buffer;
      buffer << in.rdbuf();
      std::string contents = buffer.str();
      absl::StripTrailingAsciiWhitespace(&contents);
      value = contents;
    }
    absl::Status status = s.assign(*value);
    if (!status.ok()) return Error(s, status.message());
  }
  return absl::OkStatus();
}

std::string ConfigParser::Usage() const {
  std::string out = absl::StrCat("usage: ", program_, " [--setting=value ...]\n\nSettings (flag, ",
                                 "environment variable, default):\n");
  for (const auto& s : settings_) {
    absl::StrAppend(&out, "  --", s.name, "  ", EnvName(s.name), "  ",
                    s.default_text ? absl::StrCat("default: \"", *s.default_text, "\"")
                                   : std::string("required"),
                    "\n      ", s.help, "\n");
  }
  return out;
}

bool SplitHostPort(absl::string_view address, std::string* host, int* port) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  absl::string_view h = address.substr(0, colon);
  absl::string_view p = address.substr(colon + 1);
  if (absl::StartsWith(h, "[") && absl::EndsWith(h, "]")) h = h.substr(1, h.size() - 2);
  int parsed = 0;
  if (h.empty() || p.empty() || !absl::SimpleAtoi(p, &parsed) || parsed < 0 || parsed > 65535) {
    return false;
  }
  *host = std::string(h);
  *port = parsed;
  return true;
}

absl::Status ValidateHostPort(const std::string& value) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(value, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", value, "\" is not host:port (e.g. 127.0.0.1:50051, port 0 = any)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateNotEmpty(const std::string& value) {
  if (value.empty()) return absl::InvalidArgumentError("must not be empty");
  return absl::OkStatus();
}

void ParseConfigOrExit(ConfigParser& parser, int argc, char** argv) {
  bool help = false;
  absl::Status status = parser.Parse(argc, argv, &help);
  if (help) {
    std::fputs(parser.Usage().c_str(), stdout);
    std::exit(0);  // NOLINT(concurrency-mt-unsafe): start-up, no other thread yet
  }
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
    std::exit(2);  // NOLINT(concurrency-mt-unsafe): start-up, no other thread yet
  }
}

}  // namespace outreach
