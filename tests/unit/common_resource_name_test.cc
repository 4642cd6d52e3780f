#include <set>

#include "common/errors.h"
#include "common/etag.h"
#include "common/resource_name.h"
#include "google/protobuf/field_mask.pb.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

TEST(ResourceId, Rules) {
  EXPECT_TRUE(IsValidResourceId("derbyshire"));
  EXPECT_TRUE(IsValidResourceId("w-2026-11-01"));
  EXPECT_TRUE(IsValidResourceId(std::string(63, 'a')));
  EXPECT_FALSE(IsValidResourceId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidResourceId(""));
  EXPECT_FALSE(IsValidResourceId("1abc"));
  EXPECT_FALSE(IsValidResourceId("Abc"));
  EXPECT_FALSE(IsValidResourceId("a_b"));
  EXPECT_FALSE(IsValidResourceId("a/b"));
}

TEST(ResourceId, GeneratedIdsAreValidAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = GenerateResourceId("w");
    EXPECT_TRUE(IsValidResourceId(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(ResourcePattern, ParsesAndFormats) {
  ResourcePattern pattern("forces/{force}/workshops/{workshop}");
  auto ids = pattern.Parse("name", "forces/derbyshire/workshops/w-1");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, (std::vector<std::string>{"derbyshire", "w-1"}));
  EXPECT_EQ(pattern.Format(*ids), "forces/derbyshire/workshops/w-1");
}

TEST(ResourcePattern, RefusesMalformedNamesNamingTheField) {
  ResourcePattern pattern("forces/{force}/workshops/{workshop}");
  for (const char* bad :
       {"", "forces/derbyshire", "forces/derbyshire/venues/v1", "forces/Derbyshire/workshops/w1",
        "forces/derbyshire/workshops/", "forces/derbyshire/workshops/w1/extra",
        "/forces/d/workshops/w", "forces/d/workshops/w 1"}) {
    auto r = pattern.Parse("workshop.name", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(FieldViolations(r.status())[0].field, "workshop.name") << bad;
  }
  EXPECT_FALSE(pattern.Parse("name", std::string(600, 'a')).ok());
}

TEST(ResourcePattern, ParsesForceParents) {
  EXPECT_EQ(*ParseForce("parent", "forces/derbyshire"), "derbyshire");
  auto bad = ParseForce("parent", "forces/derbyshire/venues/v1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(FieldViolations(bad.status())[0].field, "parent");
}

TEST(Etag, RequiredBeforeAnyStoreAccess) {
  EXPECT_TRUE(RequireEtag("etag", "abc").ok());
  absl::Status missing = RequireEtag("workshop.etag", "");
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolations(missing)[0].field, "workshop.etag");
}

TEST(Etag, ChangesWithContentAndChecksStaleness) {
  google::protobuf::FieldMask a;
  a.add_paths("title");
  google::protobuf::FieldMask b = a;
  EXPECT_EQ(ComputeEtag(a), ComputeEtag(b));
  b.add_paths("end_time");
  EXPECT_NE(ComputeEtag(a), ComputeEtag(b));
  EXPECT_EQ(ComputeEtag(a).size(), 16u);
  absl::Status missing = CheckEtag("venue.etag", "n", "", "abc");
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolations(missing)[0].field, "venue.etag");
  EXPECT_TRUE(CheckEtag("etag", "n", "abc", "abc").ok());
  absl::Status stale = CheckEtag("etag", "forces/d/venues/v", "old", "abc");
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ErrorReason(stale), "ETAG_MISMATCH");
}

}  // namespace
}  // namespace outreach
