// The real outreach-token binary (tools/token): keygen -> jwks -> mint -> inspect -> verify,
// and its usage errors. $OUTREACH_TOKEN_BIN names the binary.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/security/jwks.h"
#include "common/security/jwt.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace outreach::security {
namespace {

constexpr char kIssuer[] = "https://outreach.local/dev";
constexpr char kAudience[] = "outreach";

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class TokenToolTest : public ::testing::Test {
 protected:
  // Runs the tool with `args`, `input` on stdin; stdout and stderr through files so that
  // neither pipe can fill while the other is read.
  Result Tool(std::vector<std::string> args, const std::string& input = "") {
    const char* binary = std::getenv("OUTREACH_TOKEN_BIN");
    EXPECT_NE(binary, nullptr) << "OUTREACH_TOKEN_BIN is not set";
    if (binary == nullptr) return {};
    const std::string in = dir_.File("stdin"), out = dir_.File("stdout"), err = dir_.File("stderr");
    std::ofstream(in, std::ios::binary | std::ios::trunc) << input;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::string path = binary;
    std::vector<char*> argv = {path.data()};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, binary, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "cannot start " << binary;
    if (rc != 0) return {};
    int status = 0;
    waitpid(pid, &status, 0);
    Result result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = ReadFile(out);
    result.err = ReadFile(err);
    return result;
  }

  std::string Stripped(const std::string& text) {
    std::string out = text;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }

  TempDir dir_;
};

TEST_F(TokenToolTest, HelpAndUsageErrors) {
  const Result help = Tool({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"keygen", "jwks", "mint", "inspect", "verify"}) {
    EXPECT_TRUE(absl::StrContains(help.out, command)) << help.out;
  }
  const std::vector<std::vector<std::string>> usage_errors = {
      {},
      {"frobnicate"},
      {"keygen", "--alg", "HS256", "--out", dir_.File("k.pem")},
      {"keygen", "--alg"},
      {"jwks", "--key", dir_.File("k.pem")},
      {"mint", "--key", "k.pem", "--issuer", kIssuer},
      {"mint", "--key", "k.pem", "--kid", "a", "--issuer", "i", "--audience", "a", "--subject", "s",
       "--lifetime", "forever"},
      {"mint", "--bogus", "x"},
      {"inspect"},
      {"verify", "--jwks", dir_.File("missing.json"), "--issuer", "i", "--audience", "a", "t"},
  };
  for (const auto& args : usage_errors) {
    const Result r = Tool(args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ") << "\n" << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "outreach-token: ")) << r.err;
  }
}

TEST_F(TokenToolTest, KeygenJwksMintInspectVerify) {
  const std::string rsa = dir_.File("rsa.pem"), ec = dir_.File("ec.pem");
  ASSERT_EQ(Tool({"keygen", "--alg", "RS256", "--out", rsa}).exit_code, 0);
  ASSERT_EQ(Tool({"keygen", "--alg=ES256", "--out=" + ec}).exit_code, 0);
  struct stat info {};
  ASSERT_EQ(stat(rsa.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  // An existing key is never replaced.
  const std::string before = ReadFile(ec);
  EXPECT_EQ(Tool({"keygen", "--alg", "ES256", "--out", ec}).exit_code, 1);
  EXPECT_EQ(ReadFile(ec), before);

  const Result jwks = Tool({"jwks", "--key", rsa, "--kid", "dev-1", "--key", ec, "--kid", "dev-2"});
  ASSERT_EQ(jwks.exit_code, 0) << jwks.err;
  const auto keys = ParseJwks(jwks.out);
  ASSERT_TRUE(keys.ok()) << keys.status() << jwks.out;
  EXPECT_EQ(keys->keys.size(), 2u);
  EXPECT_EQ(keys->keys.at("dev-1").alg, Algorithm::kRs256);
  EXPECT_EQ(keys->keys.at("dev-2").alg, Algorithm::kEs256);
  // Public halves only: no private JWK members ("d", "p", "q", ...).
  EXPECT_FALSE(absl::StrContains(jwks.out, "\"d\"")) << jwks.out;
  EXPECT_FALSE(absl::StrContains(jwks.out, "\"p\"")) << jwks.out;
  const std::string jwks_path = dir_.File("jwks.json");
  std::ofstream(jwks_path) << jwks.out;

  struct Case {
    std::string key;
    std::string kid;
    std::string alg;
  };
  for (const Case& c : {Case{rsa, "dev-1", "RS256"}, Case{ec, "dev-2", "ES256"}}) {
    const std::string &key = c.key, &kid = c.kid, &alg = c.alg;
    SCOPED_TRACE(alg);
    const Result mint =
        Tool({"mint", "--key", key, "--kid", kid, "--issuer", kIssuer, "--audience", kAudience,
              "--subject", "officer-1234", "--force", "derbyshire", "--force", "nottinghamshire",
              "--role", "analyst", "--lifetime", "12h"});
    ASSERT_EQ(mint.exit_code, 0) << mint.err;
    const std::string token = Stripped(mint.out);

    // inspect, from the argument and from stdin: the same JSON.
    const Result inspect = Tool({"inspect", token});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    EXPECT_EQ(Tool({"inspect", "-"}, token + "\n").out, inspect.out);
    const auto shown = ParseJsonObject(inspect.out);
    ASSERT_TRUE(shown.ok()) << inspect.out;
    const auto& header = shown->fields().at("header").struct_value().fields();
    const auto& claims = shown->fields().at("claims").struct_value().fields();
    EXPECT_EQ(header.at("alg").string_value(), alg);
    EXPECT_EQ(header.at("kid").string_value(), kid);
    EXPECT_EQ(claims.at("sub").string_value(), "officer-1234");
    EXPECT_EQ(claims.at("iss").string_value(), kIssuer);
    EXPECT_EQ(claims.at("forces").list_value().values_size(), 2);
    EXPECT_EQ(claims.at("roles").list_value().values(0).string_value(), "analyst");
    EXPECT_EQ(claims.at("exp").number_value() - claims.at("iat").number_value(), 12 * 3600);
    EXPECT_EQ(shown->fields().at("signature").string_value(), "not checked");

    const Result verify =
        Tool({"verify", "--jwks", jwks_path, "--issuer", kIssuer, "--audience", kAudience, token});
    EXPECT_EQ(verify.exit_code, 0) << verify.err;
    EXPECT_TRUE(absl::StrContains(verify.out, "\"officer-1234\"")) << verify.out;
    EXPECT_TRUE(absl::StrContains(verify.out, "\"nottinghamshire\"")) << verify.out;
    EXPECT_EQ(
        Tool({"verify", "--jwks", jwks_path, "--issuer", kIssuer, "--audience", kAudience, "-"},
             token)
            .exit_code,
        0);

    // The services' own verifier accepts what the tool minted.
    auto verifier = TokenVerifier::Create(
        {.jwks_path = jwks_path, .issuer = kIssuer, .audience = kAudience}, SystemClock::Get());
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    const auto verified = (*verifier)->Verify(token);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(verified->forces, (std::vector<std::string>{"derbyshire", "nottinghamshire"}));

    // Refusals: exit 1 with the reason, and the token is not echoed.
    const Result other_audience = Tool(
        {"verify", "--jwks", jwks_path, "--issuer", kIssuer, "--audience", "reporting", token});
    EXPECT_EQ(other_audience.exit_code, 1);
    EXPECT_TRUE(absl::StrContains(other_audience.err, "TOKEN_AUDIENCE")) << other_audience.err;
    EXPECT_FALSE(absl::StrContains(other_audience.err, token)) << other_audience.err;
    std::string tampered = token;
    tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
    const Result bad = Tool(
        {"verify", "--jwks", jwks_path, "--issuer", kIssuer, "--audience", kAudience, tampered});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_TRUE(absl::StrContains(bad.err, "TOKEN_SIGNATURE")) << bad.err;
  }
  EXPECT_EQ(Tool({"inspect", "not-a-token"}).exit_code, 1);
}

}  // namespace
}  // namespace outreach::security
