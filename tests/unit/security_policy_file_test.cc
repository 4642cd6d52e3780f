// The policy file: what it refuses to load, and a change picked up without a restart.
#include <fstream>

#include "common/security/policy.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace outreach::security {
namespace {

constexpr char kMethod[] = "/outreach.workshops.v1.WorkshopsService/GetVenue";

std::string PolicyWith(const std::string& roles_of_get_venue) {
  return R"({"roles": ["analyst", "schools_coordinator"],
             "services": {"workshops": {"eventKinds": ["workshop_delivered"]}},
             "methods": {"/outreach.workshops.v1.WorkshopsService/GetVenue": {"roles": [)" +
         roles_of_get_venue + R"(]}}})";
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

TEST(SecurityPolicyFileTest, RefusesWhatWouldSilentlyAllowOrDeny) {
  EXPECT_TRUE(Policy::Parse(PolicyWith(R"("analyst")")).ok());
  const char* bad[] = {
      R"({"roles": ["analyst"], "methods": {"/x.v1.S/M": {"roles": ["analsyt"]}}})",  // typo
      R"({"roles": ["analyst"], "methods": {"GetVenue": {"roles": ["analyst"]}}})",   // not full
      R"({"services": {"workshops": {"eventKinds": ["pupil_names"]}}})",  // no such kind
      R"({"roles": ["analyst"], "methods": {"/x.v1.S/M": {"services": ["printer"]}}})",
      R"({"roles": ["analyst"], "method": {}})",  // unknown field
      "not json",
  };
  for (const char* text : bad) EXPECT_FALSE(Policy::Parse(text).ok()) << text;
}

TEST(SecurityPolicyFileTest, ReadsAndWritesAreTellable) {
  auto policy = Policy::Parse(PolicyWith(R"("analyst")"));
  ASSERT_TRUE(policy.ok());
  EXPECT_FALSE((*policy)->Find(kMethod)->write);
  EXPECT_TRUE(IsReadMethod("/outreach.metrics.v1.MetricsService/WatchDashboard"));
  EXPECT_FALSE(IsReadMethod("/outreach.workshops.v1.WorkshopsService/DeliverWorkshop"));
  EXPECT_EQ((*policy)->Find("/outreach.workshops.v1.WorkshopsService/DeleteVenue"), nullptr);
}

TEST(SecurityPolicyFileTest, AChangeIsPickedUpAndABrokenOneKeepsTheLastGood) {
  TempDir dir;
  const std::string path = dir.File("policy.json");
  Write(path, PolicyWith(R"("analyst")"));
  auto file = PolicyFile::Open(path, absl::ZeroDuration());  // check on every call
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->Current()->Find(kMethod)->roles.contains("analyst"));

  Write(path, PolicyWith(R"("analyst", "schools_coordinator")"));
  EXPECT_TRUE((*file)->Current()->Find(kMethod)->roles.contains("schools_coordinator"));

  Write(path, "{ broken");
  auto kept = (*file)->Current();
  ASSERT_NE(kept->Find(kMethod), nullptr);
  EXPECT_TRUE(kept->Find(kMethod)->roles.contains("schools_coordinator"));

  EXPECT_FALSE(PolicyFile::Open(dir.File("missing.json"), absl::Seconds(1)).ok());
}

}  // namespace
}  // namespace outreach::security
