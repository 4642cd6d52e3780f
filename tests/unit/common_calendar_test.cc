#include "common/calendar.h"
#include "common/errors.h"
#include "common/field_mask.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

TEST(Calendar, LocalDaysFollowBritishSummerTime) {
  // 23:30 UTC on 1 July is 00:30 BST on 2 July; in January UTC and local agree.
  const absl::Time summer =
      absl::FromCivil(absl::CivilSecond(2024, 7, 1, 23, 30, 0), absl::UTCTimeZone());
  EXPECT_EQ(LocalDay(summer), absl::CivilDay(2024, 7, 2));
  const absl::Time winter =
      absl::FromCivil(absl::CivilSecond(2024, 1, 1, 23, 30, 0), absl::UTCTimeZone());
  EXPECT_EQ(LocalDay(winter), absl::CivilDay(2024, 1, 1));
  EXPECT_EQ(StartOfLocalDay(absl::CivilDay(2024, 7, 2)),
            absl::FromCivil(absl::CivilSecond(2024, 7, 1, 23, 0, 0), absl::UTCTimeZone()));
}

TEST(Calendar, AcademicAndFinancialYears) {
  EXPECT_EQ(AcademicYearOf(absl::CivilDay(2024, 9, 1)), 2024);
  EXPECT_EQ(AcademicYearOf(absl::CivilDay(2025, 8, 31)), 2024);
  EXPECT_EQ(AcademicYearStart(2024), absl::CivilDay(2024, 9, 1));
  EXPECT_EQ(AcademicYearEnd(2024), absl::CivilDay(2025, 8, 31));
  EXPECT_EQ(FinancialYearOf(absl::CivilDay(2025, 3, 31)), 2024);
  EXPECT_EQ(FinancialYearOf(absl::CivilDay(2025, 4, 1)), 2025);
}

TEST(Calendar, ProtoConversionsValidate) {
  const absl::Time t = absl::FromUnixMicros(1732790400123456);
  auto back = FromProtoTime("start_time", ToProtoTime(t));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, t);
  google::protobuf::Timestamp ancient;
  ancient.set_seconds(10);
  EXPECT_EQ(FieldViolations(FromProtoTime("start_time", ancient).status())[0].field, "start_time");

  auto day = FromProtoDate("start_date", ToProtoDate(absl::CivilDay(2024, 2, 29)));
  ASSERT_TRUE(day.ok());
  EXPECT_EQ(*day, absl::CivilDay(2024, 2, 29));
  outreach::common::v1::Date bad;
  bad.set_year(2023);
  bad.set_month(2);
  bad.set_day(29);
  EXPECT_FALSE(FromProtoDate("start_date", bad).ok());
  bad.set_year(1999);
  EXPECT_FALSE(FromProtoDate("start_date", bad).ok());
  EXPECT_EQ(FormatDay(absl::CivilDay(2024, 9, 1)), "2024-09-01");
}

TEST(UpdateMask, ChecksPaths) {
  google::protobuf::FieldMask mask;
  EXPECT_FALSE(ValidateUpdateMask(mask, {"display_name"}).ok());
  mask.add_paths("display_name");
  EXPECT_EQ(ValidateUpdateMask(mask, {"display_name", "area"})->size(), 1u);
  mask.add_paths("create_time");
  auto bad = ValidateUpdateMask(mask, {"display_name", "area"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(FieldViolations(bad.status())[0].field, "update_mask");
  google::protobuf::FieldMask all;
  all.add_paths("*");
  EXPECT_EQ(ValidateUpdateMask(all, {"display_name", "area"})->size(), 2u);
}

}  // namespace
}  // namespace outreach
