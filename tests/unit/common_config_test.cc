#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "common/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

using ::testing::HasSubstr;

struct Settings {
  std::string address;
  std::string db;
  int64_t workers = 0;
  absl::Duration drain;
  bool verbose = false;
};

class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() : parser_("test") {
    parser_.String("grpc-address", &s_.address, std::string("127.0.0.1:0"), "address",
                   ValidateHostPort);
    parser_.String("db-path", &s_.db, std::nullopt, "db", ValidateNotEmpty);
    parser_.Int("workers", &s_.workers, 4, 1, 64, "workers");
    parser_.Duration("drain-timeout", &s_.drain, absl::Seconds(10), absl::ZeroDuration(),
                     absl::Minutes(1), "drain");
    parser_.Bool("verbose", &s_.verbose, false, "verbose");
  }

  absl::Status Parse(std::vector<const char*> args) {
    args.insert(args.begin(), "test");
    return parser_.Parse(static_cast<int>(args.size()), args.data(),
                         [this](const std::string& name) -> std::optional<std::string> {
                           auto it = env_.find(name);
                           if (it == env_.end()) return std::nullopt;
                           return it->second;
                         });
  }

  ConfigParser parser_;
  Settings s_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, DefaultsFlagsAndEnvironment) {
  env_["OUTREACH_DB_PATH"] = "/data/env.db";
  env_["OUTREACH_WORKERS"] = "8";
  ASSERT_TRUE(Parse({"--drain-timeout=2s", "--verbose"}).ok());
  EXPECT_EQ(s_.address, "127.0.0.1:0");
  EXPECT_EQ(s_.db, "/data/env.db");
  EXPECT_EQ(s_.workers, 8);
  EXPECT_EQ(s_.drain, absl::Seconds(2));
  EXPECT_TRUE(s_.verbose);
}

TEST_F(ConfigTest, FlagBeatsEnvironmentAndSpaceSeparatedValuesWork) {
  env_["OUTREACH_DB_PATH"] = "/data/env.db";
  ASSERT_TRUE(Parse({"--db-path", "/data/flag.db"}).ok());
  EXPECT_EQ(s_.db, "/data/flag.db");
}

TEST_F(ConfigTest, MissingRequiredSettingNamesFlagAndVariable) {
  absl::Status s = Parse({});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "config: --db-path (OUTREACH_DB_PATH): is required but was not set");
}

TEST_F(ConfigTest, BadValuesAreRefusedWithTheSettingName) {
  env_["OUTREACH_DB_PATH"] = "x.db";
  EXPECT_THAT(Parse({"--workers=many"}).message(),
              HasSubstr("--workers (OUTREACH_WORKERS): \"many\" is not an integer"));
  EXPECT_THAT(Parse({"--workers=65"}).message(), HasSubstr("out of range [1, 64]"));
  EXPECT_THAT(Parse({"--drain-timeout=soon"}).message(), HasSubstr("is not a duration"));
  EXPECT_THAT(Parse({"--drain-timeout=5m"}).message(), HasSubstr("out of range"));
  EXPECT_THAT(Parse({"--grpc-address=localhost"}).message(),
              HasSubstr("--grpc-address (OUTREACH_GRPC_ADDRESS): \"localhost\" is not host:port"));
  EXPECT_THAT(Parse({"--verbose=perhaps"}).message(), HasSubstr("is not a boolean"));
  EXPECT_THAT(Parse({"--db-path="}).message(), HasSubstr("must not be empty"));
}

TEST_F(ConfigTest, UnknownFlagsAndStrayArgumentsAreRefused) {
  env_["OUTREACH_DB_PATH"] = "x.db";
  EXPECT_THAT(Parse({"--db-pth=x"}).message(), HasSubstr("unknown setting --db-pth"));
  EXPECT_THAT(Parse({"stray"}).message(), HasSubstr("unexpected argument \"stray\""));
}

TEST_F(ConfigTest, HelpIsReportedAndUsageListsEverySetting) {
  bool help = false;
  const char* argv[] = {"test", "--help"};
  ASSERT_TRUE(parser_
                  .Parse(
                      2, argv, [](const std::string&) { return std::nullopt; }, &help)
                  .ok());
  EXPECT_TRUE(help);
  const std::string usage = parser_.Usage();
  for (const char* name : {"--grpc-address", "--db-path", "--workers", "--drain-timeout",
                           "OUTREACH_VERBOSE", "required"}) {
    EXPECT_THAT(usage, HasSubstr(name));
  }
}

TEST(HostPort, Splits) {
  std::string host;
  int port = -1;
  EXPECT_TRUE(SplitHostPort("127.0.0.1:0", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 0);
  EXPECT_TRUE(SplitHostPort("[::1]:50051", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(SplitHostPort("host:99999", &host, &port));
  EXPECT_FALSE(SplitHostPort(":80", &host, &port));
}

}  // namespace
}  // namespace outreach

namespace outreach {
namespace {

// A SecretFile setting is the contents of the file it names; a String that happens to name a
// file (--policy-file, --tls-cert-file) stays the path.
TEST(ConfigSecretFileTest, OnlySecretFilesAreReadAndPathsStayPaths) {
  char dir[] = "/tmp/outreach-config-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string secret = std::string(dir) + "/key";
  { std::ofstream(secret) << "s3cr3t\n"; }
  std::string key, policy;
  ConfigParser parser("test");
  parser.SecretFile("page-token-key-file", &key, "key");
  parser.String("policy-file", &policy, std::string(), "policy");
  const std::string key_flag = "--page-token-key-file=" + secret;
  const std::string policy_flag = "--policy-file=" + secret;
  const char* argv[] = {"test", key_flag.c_str(), policy_flag.c_str()};
  ASSERT_TRUE(parser.Parse(3, argv, [](const std::string&) { return std::nullopt; }).ok());
  EXPECT_EQ(key, "s3cr3t");
  EXPECT_EQ(policy, secret);
  const std::string missing_flag = std::string("--page-token-key-file=") + dir + "/none";
  const char* missing[] = {"test", missing_flag.c_str()};
  EXPECT_FALSE(parser.Parse(2, missing, [](const std::string&) { return std::nullopt; }).ok());
  std::remove(secret.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace outreach
