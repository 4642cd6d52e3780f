#include "common/validation.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

TEST(Validation, CountsCodePointsNotBytes) {
  EXPECT_EQ(CodePoints(""), 0u);
  EXPECT_EQ(CodePoints("Derby"), 5u);
  EXPECT_EQ(CodePoints("caf\xc3\xa9"), 4u);       // é is two bytes
  EXPECT_EQ(CodePoints("\xf0\x9f\x93\xb1"), 1u);  // one emoji, four bytes
}

TEST(Validation, TextLimitsNameTheField) {
  std::vector<FieldViolation> v;
  CheckText("", 200, /*required=*/true, "venue.display_name", &v);
  CheckText("", 200, /*required=*/false, "venue.postcode", &v);
  CheckText(std::string(201, 'a'), 200, false, "workshop.title", &v);
  CheckText(std::string(200, 'a'), 200, true, "ok", &v);
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xc3\xa9";  // 400 bytes, 200 characters
  CheckText(accents, 200, true, "accents", &v);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].field, "venue.display_name");
  EXPECT_EQ(v[1].field, "workshop.title");
}

TEST(Validation, PathsAndStatus) {
  EXPECT_EQ(FieldPath("", "title"), "title");
  EXPECT_EQ(FieldPath("campaign", "title"), "campaign.title");
  EXPECT_TRUE(ViolationsToStatus({}).ok());
  absl::Status s = ViolationsToStatus({{"a", "bad"}, {"b", "worse"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolations(s).size(), 2u);
}

}  // namespace
}  // namespace outreach
