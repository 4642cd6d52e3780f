#include "tools/outreachctl/settings.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace outreach::ctl {

namespace {

// Settings that may come from a flag, the environment or the config file.
const std::vector<std::string>& SettingNames() {
  static const std::vector<std::string> names = {"workshops-address",
                                                 "training-address",
                                                 "campaigns-address",
                                                 "metrics-address",
                                                 "tls-ca-file",
                                                 "tls-cert-file",
                                                 "tls-key-file",
                                                 "token-file",
                                                 "plaintext",
                                                 "force",
                                                 "output",
                                                 "timeout"};
  return names;
}

const std::map<std::string, std::string>& DefaultAddresses() {
  static const std::map<std::string, std::string> defaults = {{"workshops", "127.0.0.1:50051"},
                                                              {"training", "127.0.0.1:50052"},
                                                              {"campaigns", "127.0.0.1:50053"},
                                                              {"metrics", "127.0.0.1:50054"}};
  return defaults;
}

std::string ExpandHome(const std::string& path, const EnvLookup& env) {
  if (!absl::StartsWith(path, "~/")) return path;
  auto home = env("HOME");
  return home ? absl::StrCat(*home, path.substr(1)) : path;
}

// Reads `name = value` lines; a missing file is fine unless `required`.
absl::Status ReadConfigFile(const std::string& path, bool required,
                            std::map<std::string, std::string>* out) {
  std::ifstream in(path);
  if (!in) {
    return required ? absl::InvalidArgumentError(absl::StrCat(path, ": cannot be read"))
                    : absl::OkStatus();
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    const size_t eq = text.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": expected name = value"));
    }
    std::string name(absl::StripAsciiWhitespace(text.substr(0, eq)));
    std::string value(absl::StripAsciiWhitespace(text.substr(eq + 1)));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    const auto& names = SettingNames();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string message = absl::StrCat(path, ":", number, ": unknown setting ", name);
      if (auto near = Nearest(name, names))
        absl::StrAppend(&message, "; did you mean ", *near, "?");
      return absl::InvalidArgumentError(message);
    }
    (*out)[name] = value;
  }
  return absl::OkStatus();
}

bool ParseBool(const std::string& text, bool* out) {
  const std::string v = absl::AsciiStrToLower(text);
  if (v == "true" || v == "1" || v == "yes" || v.empty()) {
    *out = true;
    return true;
  }
  if (v == "false" || v == "0" || v == "no") {
    *out = false;
    return true;
  }
  return false;
}

}  // namespace

const std::vector<FlagSpec>& GlobalFlags() {
  static const std::vector<FlagSpec> flags = {
      {"output", "FORMAT", "output format: table, json, yaml or csv", 'o'},
      {"force", "FORCE", "the force (tenant) to work in, e.g. derbyshire"},
      {"workshops-address", "HOST:PORT", "workshops service (default 127.0.0.1:50051)"},
      {"training-address", "HOST:PORT", "training service (default 127.0.0.1:50052)"},
      {"campaigns-address", "HOST:PORT", "campaigns service (default 127.0.0.1:50053)"},
      {"metrics-address", "HOST:PORT", "metrics service (default 127.0.0.1:50054)"},
      {"tls-ca-file", "FILE", "CA bundle that signs the servers' certificates"},
      {"tls-cert-file", "FILE", "client certificate (mutual TLS), optional"},
      {"tls-key-file", "FILE", "key of the client certificate"},
      {"token-file", "FILE", "file holding the bearer token"},
      {"plaintext", "", "no TLS (loopback development servers only)"},
      {"timeout", "DURATION", "deadline of each call, e.g. 30s (default 30s)"},
      {"config", "FILE",
       "config file (default $OUTREACH_CONFIG or ~/.config/outreach/outreachctl.conf)"},
      {"help", "", "show help", 'h'},
  };
  return flags;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): read at start-up
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::string EnvName(const std::string& setting) {
  std::string out = "OUTREACH_";
  for (char c : setting) {
    out.push_back(c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

absl::StatusOr<Settings> ResolveSettings(const ParsedArgs& args, const EnvLookup& env) {
  std::map<std::string, std::string> file_values;
  Settings settings;
  std::string config = args.Get("config");
  bool required = !config.empty();
  if (config.empty()) {
    if (auto v = env("OUTREACH_CONFIG"); v && !v->empty()) {
      config = *v;
      required = true;
    }
  }
  if (config.empty()) {
    if (auto xdg = env("XDG_CONFIG_HOME"); xdg && !xdg->empty()) {
      config = absl::StrCat(*xdg, "/outreach/outreachctl.conf");
    } else {
      config = "~/.config/outreach/outreachctl.conf";
    }
  }
  config = ExpandHome(config, env);
  if (absl::Status s = ReadConfigFile(config, required, &file_values); !s.ok()) return s;
  if (!file_values.empty() || required) settings.config_file = config;

  // flag > environment > config file
  auto value = [&](const std::string& name) -> std::optional<std::string> {
    if (args.Has(name)) return args.Get(name);
    if (auto v = env(EnvName(name)); v && !v->empty()) return v;
    if (auto it = file_values.find(name); it != file_values.end()) return it->second;
    return std::nullopt;
  };
  for (const char* service : kServices) {
    const std::string name = absl::StrCat(service, "-address");
    settings.address[service] = value(name).value_or(DefaultAddresses().at(service));
    if (absl::Status s = ValidateServiceTarget(settings.address[service]); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", s.message()));
    }
  }
  settings.security.tls_ca_file = ExpandHome(value("tls-ca-file").value_or(""), env);
  settings.security.tls_cert_file = ExpandHome(value("tls-cert-file").value_or(""), env);
  settings.security.tls_key_file = ExpandHome(value("tls-key-file").value_or(""), env);
  settings.security.token_file = ExpandHome(value("token-file").value_or(""), env);
  if (auto v = value("plaintext")) {
    if (!ParseBool(*v, &settings.security.plaintext)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--plaintext: \"", *v, "\" is not true or false"));
    }
  }
  settings.force = value("force").value_or("");
  settings.output = value("output").value_or("");
  if (auto v = value("timeout")) {
    if (!absl::ParseDuration(*v, &settings.timeout) || settings.timeout <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--timeout: \"", *v, "\" is not a duration such as 30s"));
    }
  }
  return settings;
}

}  // namespace outreach::ctl
