#include "common/errors.h"
#include "common/query.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

using ::testing::HasSubstr;

QuerySchema Schema() {
  return QuerySchema({{"area", "area", QueryFieldType::kString},
                      {"pupil_roll", "roll", QueryFieldType::kInt},
                      {"accredited", "accredited", QueryFieldType::kBool},
                      {"start_time", "start_us", QueryFieldType::kTimestamp},
                      {"day", "day", QueryFieldType::kDate},
                      {"topics", "topics", QueryFieldType::kStringList, true, false},
                      {"state", "state", QueryFieldType::kEnum, true, true,
                       [](absl::string_view name, int64_t* v) {
                         if (name == "STATE_SCHEDULED") return *v = 1, true;
                         if (name == "STATE_DELIVERED") return *v = 2, true;
                         return false;
                       }}},
                     "name");
}

TEST(Filter, EmptyMatchesEverything) {
  auto w = Schema().Where("  ");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->sql, "1 = 1");
  EXPECT_TRUE(w->params.empty());
}

TEST(Filter, ConjunctionBecomesParameterisedSql) {
  auto w = Schema().Where(
      "area = \"DE1\" AND pupil_roll >= 200 AND state = STATE_DELIVERED AND accredited = true "
      "AND start_time < \"2024-09-01T00:00:00Z\" AND day != \"2024-09-02\" AND topics = "
      "\"sexting\"");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(
      w->sql,
      "(area = ? AND roll >= ? AND state = ? AND accredited = ? AND start_us < ? AND day <> ? "
      "AND instr(topics, ?) > 0)");
  ASSERT_EQ(w->params.size(), 7u);
  EXPECT_EQ(std::get<std::string>(w->params[0]), "DE1");
  EXPECT_EQ(std::get<int64_t>(w->params[1]), 200);
  EXPECT_EQ(std::get<int64_t>(w->params[2]), 2);
  EXPECT_EQ(std::get<int64_t>(w->params[3]), 1);
  EXPECT_EQ(std::get<int64_t>(w->params[4]), 1725148800000000);
  EXPECT_EQ(std::get<std::string>(w->params[6]), ",sexting,");
}

TEST(Filter, InjectionStaysAValue) {
  auto w = Schema().Where("area = \"x' OR 1=1 --\"");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->sql, "(area = ?)");
  EXPECT_EQ(std::get<std::string>(w->params[0]), "x' OR 1=1 --");
}

TEST(Filter, BadFiltersNameTheFilterField) {
  for (const char* bad : {"colour = \"red\"", "area", "area =", "area = DE1", "pupil_roll = \"x\"",
                          "state = STATE_NOPE", "state > STATE_DELIVERED", "accredited = yes",
                          "start_time = \"yesterday\"", "day = \"2024-13-01\"",
                          "area = \"a\" OR area = \"b\"", "area = \"unterminated", "area ! \"x\"",
                          "topics != \"x\"", "area = \"a\" AND", "(area = \"a\")"}) {
    auto w = Schema().Where(bad);
    ASSERT_FALSE(w.ok()) << bad;
    EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(FieldViolations(w.status())[0].field, "filter") << bad;
  }
  EXPECT_THAT(Schema().Where("colour = \"red\"").status().message(),
              HasSubstr("filterable fields: area, pupil_roll"));
  EXPECT_FALSE(Schema().Where(std::string(2001, 'a')).ok());
}

// Times and dates in a filter stay within what google.protobuf.Timestamp can hold (years
// 0001-9999, UTC); anything further out is a caller's mistake, not a value to compare with.
TEST(Filter, TimesAndDatesOutsideYears1To9999AreRefused) {
  for (const char* bad :
       {"start_time > \"-999999-01-01T00:00:00Z\"", "start_time < \"10000-01-01T00:00:00Z\"",
        "start_time > \"0000-12-31T23:59:59Z\"", "start_time > \"0001-01-01T00:30:00+01:00\"",
        "start_time < \"9999-12-31T23:30:00-01:00\"", "day > \"-999999-01-01\"",
        "day < \"10000-01-01\"", "day > \"0000-12-31\"", "start_time < \"infinite-future\"",
        "start_time > \"infinite-past\""}) {
    auto w = Schema().Where(bad);
    ASSERT_FALSE(w.ok()) << bad;
    EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(FieldViolations(w.status())[0].field, "filter") << bad;
  }
  for (const char* good :
       {"start_time > \"0001-01-01T00:00:00Z\"", "start_time < \"9999-12-31T23:59:59.999999Z\"",
        "day > \"0001-01-01\"", "day < \"9999-12-31\""}) {
    EXPECT_TRUE(Schema().Where(good).ok()) << good;
  }
}

TEST(OrderBy, BuildsATotalOrder) {
  EXPECT_EQ(*Schema().OrderBy("start_time desc, area", "area"),
            "start_us DESC, area ASC, name ASC");
  EXPECT_EQ(*Schema().OrderBy("", "pupil_roll desc"), "roll DESC, name ASC");
  for (const char* bad : {"colour", "topics", "area sideways", "area desc extra", ","}) {
    auto o = Schema().OrderBy(bad, "area");
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_EQ(FieldViolations(o.status())[0].field, "order_by");
  }
}

TEST(StringList, RoundTrips) {
  EXPECT_EQ(JoinStringList({"sexting", "cse"}), ",sexting,cse,");
  EXPECT_EQ(SplitStringList(",sexting,cse,"), (std::vector<std::string>{"sexting", "cse"}));
  EXPECT_EQ(JoinStringList({}), "");
}

}  // namespace
}  // namespace outreach
