// outreach-token: keys, JWKS documents and bearer tokens for operators, scripts/run.sh and the
// tests, on the same code the services verify with (common/security/jwt.h).
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/security/jwks.h"
#include "common/security/jwt.h"

namespace outreach::security {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

constexpr char kUsageText[] = R"(usage: outreach-token <command> [options]

  keygen  --alg RS256|ES256 --out key.pem
          a new signing key (RSA 2048 or EC P-256), written 0600; an existing file is kept
  jwks    --key key.pem --kid dev-1 [--key k2.pem --kid dev-2 ...]
          the JWKS (public keys) for the services' --jwks-file, to stdout
  mint    --key key.pem --kid dev-1 --issuer I --audience A --subject S
          [--force derbyshire ...] [--role analyst ...] [--lifetime 1h]
          a signed token, to stdout
  inspect TOKEN|-
          header and claims as JSON; the signature is NOT checked
  verify  --jwks jwks.json --issuer I --audience A [--skew 30s] TOKEN|-
          exit 0 and the claims when the token verifies, exit 1 and the reason when not

  TOKEN "-" reads the token from stdin (keeps it out of the process list).
  Exit status: 0 done, 1 refused or failed, 2 usage error.
)";

// Flags as given (--name value or --name=value), each possibly repeated, and the rest.
struct Args {
  std::map<std::string, std::vector<std::string>> flags;
  std::vector<std::string> positional;

  std::string Get(const std::string& name) const {
    const auto it = flags.find(name);
    return it == flags.end() ? "" : it->second.back();
  }
  std::vector<std::string> All(const std::string& name) const {
    const auto it = flags.find(name);
    return it == flags.end() ? std::vector<std::string>{} : it->second;
  }
};

int Usage(absl::string_view message) {
  std::cerr << "outreach-token: " << message << "\n"
            << "run 'outreach-token --help' for usage\n";
  return kUsage;
}

// Parses argv after the command; `known` are the flags the command takes, `repeatable` those
// that may be given more than once.
absl::StatusOr<Args> Parse(const std::vector<std::string>& argv, const std::set<std::string>& known,
                           const std::set<std::string>& repeatable, size_t max_positional) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "-" || !absl::StartsWith(arg, "--")) {
      args.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < argv.size()) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
    if (!known.contains(name))
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    auto& values = args.flags[name];
    if (!values.empty() && !repeatable.contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " is given twice"));
    }
    values.push_back(value);
  }
  if (args.positional.size() > max_positional) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", args.positional[max_positional], "\""));
  }
  return args;
}

absl::Status Require(const Args& args, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (args.Get(name).empty())
      return absl::InvalidArgumentError(absl::StrCat("--", name, " is required"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The one TOKEN argument, or stdin for "-".
absl::StatusOr<std::string> TokenArgument(const Args& args) {
  if (args.positional.size() != 1)
    return absl::InvalidArgumentError("give one TOKEN (or - for stdin)");
  std::string token = args.positional[0];
  if (token == "-") {
    token.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  absl::StripAsciiWhitespace(&token);
  if (token.empty()) return absl::InvalidArgumentError("the token is empty");
  return token;
}

// Pretty JSON already ends its last line.
void PrintJson(absl::string_view json) {
  std::cout << json << (absl::EndsWith(json, "\n") ? "" : "\n");
}

int Fail(absl::string_view message) {
  std::cerr << "outreach-token: " << message << "\n";
  return kFailed;
}

int Keygen(const Args& args) {
  const std::string alg = args.Get("alg");
  const std::string out = args.Get("out");
  if (alg != "RS256" && alg != "ES256") return Usage("--alg must be RS256 or ES256");
  if (out.empty()) return Usage("--out is required");
  EVP_PKEY* key = alg == "RS256" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                 : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) return Fail("key generation failed");
  BIO* bio = BIO_new(BIO_s_mem());
  const bool written =
      bio != nullptr && PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  EVP_PKEY_free(key);
  char* data = nullptr;
  const long length = written ? BIO_get_mem_data(bio, &data) : 0;
  const std::string pem(data == nullptr ? "" : std::string(data, static_cast<size_t>(length)));
  BIO_free(bio);
  if (pem.empty()) return Fail("the key could not be written as PEM");
  // O_EXCL: never replace a key that may already sign tokens in use.
  const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    return Fail(absl::StrCat("cannot create ", out, ": ",
                             std::error_code(errno, std::generic_category()).message()));
  const bool ok = write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
  close(fd);
  if (!ok) return Fail(absl::StrCat("cannot write ", out));
  std::cerr << "wrote " << alg << " key " << out << "\n";
  return kOk;
}

int Jwks(const Args& args) {
  const std::vector<std::string> keys = args.All("key");
  const std::vector<std::string> kids = args.All("kid");
  if (keys.empty()) return Usage("--key is required");
  if (keys.size() != kids.size()) return Usage("give one --kid for each --key");
  std::vector<std::pair<std::string, std::string>> pems;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto pem = ReadFile(keys[i]);
    if (!pem.ok()) return Fail(pem.status().message());
    pems.emplace_back(kids[i], *std::move(pem));
  }
  auto jwks = JwksFor(pems);
  if (!jwks.ok()) return Fail(jwks.status().message());
  PrintJson(*jwks);
  return kOk;
}

int Mint(const Args& args) {
  if (auto missing = Require(args, {"key", "kid", "issuer", "audience", "subject"});
      !missing.ok()) {
    return Usage(std::string(missing.message()));
  }
  MintRequest request;
  request.kid = args.Get("kid");
  request.issuer = args.Get("issuer");
  request.audience = args.Get("audience");
  request.subject = args.Get("subject");
  request.forces = args.All("force");
  request.roles = args.All("role");
  request.issued_at = absl::Now();
  if (const std::string lifetime = args.Get("lifetime"); !lifetime.empty()) {
    if (!absl::ParseDuration(lifetime, &request.lifetime) ||
        request.lifetime <= absl::ZeroDuration()) {
      return Usage("--lifetime must be a positive duration such as 30m or 12h");
    }
  }
  auto pem = ReadFile(args.Get("key"));
  if (!pem.ok()) return Fail(pem.status().message());
  request.private_key_pem = *std::move(pem);
  auto token = MintToken(request);
  if (!token.ok()) return Fail(token.status().message());
  std::cout << *token << "\n";
  return kOk;
}

int Inspect(const Args& args) {
  auto token = TokenArgument(args);
  if (!token.ok()) return Usage(std::string(token.status().message()));
  const std::vector<std::string> parts = absl::StrSplit(*token, '.');
  if (parts.size() != 3) return Fail("not a compact JWS (header.payload.signature)");
  google::protobuf::Struct out;
  const std::pair<const char*, const std::string*> sections[] = {{"header", &parts[0]},
                                                                 {"claims", &parts[1]}};
  for (const auto& [name, part] : sections) {
    std::string json;
    if (!Base64UrlDecode(*part, &json))
      return Fail(absl::StrCat("the ", name, " is not base64url"));
    auto object = ParseJsonObject(json);
    if (!object.ok()) return Fail(absl::StrCat("the ", name, " is not a JSON object"));
    *(*out.mutable_fields())[name].mutable_struct_value() = *std::move(object);
  }
  SetJsonString(&out, "signature", "not checked");
  PrintJson(ToJson(out, /*pretty=*/true));
  return kOk;
}

int Verify(const Args& args) {
  if (auto missing = Require(args, {"jwks", "issuer", "audience"}); !missing.ok()) {
    return Usage(std::string(missing.message()));
  }
  VerifierOptions options;
  options.jwks_path = args.Get("jwks");
  options.issuer = args.Get("issuer");
  options.audience = args.Get("audience");
  if (const std::string skew = args.Get("skew"); !skew.empty()) {
    if (!absl::ParseDuration(skew, &options.skew) || options.skew < absl::ZeroDuration()) {
      return Usage("--skew must be a duration such as 30s");
    }
  }
  auto token = TokenArgument(args);
  if (!token.ok()) return Usage(std::string(token.status().message()));
  auto verifier = TokenVerifier::Create(options, SystemClock::Get());
  if (!verifier.ok()) return Usage(std::string(verifier.status().message()));
  auto claims = (*verifier)->Verify(*token);
  if (!claims.ok()) {
    return Fail(
        absl::StrCat("refused: ", ErrorReason(claims.status()), ": ", claims.status().message()));
  }
  google::protobuf::Struct out;
  SetJsonString(&out, "subject", claims->subject);
  SetJsonString(&out, "issuer", claims->issuer);
  SetJsonString(&out, "expiry",
                absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", claims->expiry, absl::UTCTimeZone()));
  const std::pair<const char*, const std::vector<std::string>*> lists[] = {
      {"forces", &claims->forces}, {"roles", &claims->roles}};
  for (const auto& [name, values] : lists) {
    auto* list = (*out.mutable_fields())[name].mutable_list_value();
    for (const auto& value : *values) list->add_values()->set_string_value(value);
  }
  PrintJson(ToJson(out, /*pretty=*/true));
  return kOk;
}

int Run(const std::vector<std::string>& argv) {
  for (const auto& arg : argv) {
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsageText;
      return kOk;
    }
  }
  if (argv.empty()) return Usage("no command given");
  const std::string& command = argv[0];
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  // Each command with the flags it takes, those it takes repeatedly and how many positionals.
  struct Command {
    const char* name;
    int (*run)(const Args&);
    std::set<std::string> known, repeatable;
    size_t max_positional;
  };
  const Command commands[] = {
      {"keygen", Keygen, {"alg", "out"}, {}, 0},
      {"jwks", Jwks, {"key", "kid"}, {"key", "kid"}, 0},
      {"mint",
       Mint,
       {"key", "kid", "issuer", "audience", "subject", "force", "role", "lifetime"},
       {"force", "role"},
       0},
      {"inspect", Inspect, {}, {}, 1},
      {"verify", Verify, {"jwks", "issuer", "audience", "skew"}, {}, 1},
  };
  if (command == "help") {
    std::cout << kUsageText;
    return kOk;
  }
  for (const Command& c : commands) {
    if (command != c.name) continue;
    auto args = Parse(rest, c.known, c.repeatable, c.max_positional);
    if (!args.ok()) return Usage(args.status().message());
    return c.run(*args);
  }
  return Usage(absl::StrCat("unknown command \"", command, "\""));
}

}  // namespace
}  // namespace outreach::security

int main(int argc, char** argv) {
  return outreach::security::Run(std::vector<std::string>(argv + 1, argv + argc));
}
