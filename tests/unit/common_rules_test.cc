#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/rules/officer_standing.h"
#include "gtest/gtest.h"

namespace outreach::rules {
namespace {

absl::Time Utc(int y, int m, int d) {
  return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone());
}

// Evaluated at the end of 2026-06-01 (UTC keeps the arithmetic obvious; the rules take no zone).
const EvaluationPoint kWhen{Utc(2026, 6, 2), absl::CivilDay(2026, 6, 1)};

EnrolmentRecord Completed(absl::Time done, std::optional<absl::Time> valid_until,
                          std::string course = "") {
  EnrolmentRecord r;
  r.course = std::move(course);
  r.create_time = done - absl::Hours(24 * 30);
  r.complete_time = done;
  r.valid_until = valid_until;
  return r;
}

EnrolmentRecord Open(absl::Time created, std::optional<absl::CivilDay> due,
                     std::string course = "") {
  EnrolmentRecord r;
  r.course = std::move(course);
  r.create_time = created;
  r.due_date = due;
  return r;
}

Standing StandingOf(const std::vector<EnrolmentRecord>& records, absl::string_view course = "") {
  return PositionOf(records, kWhen, course).standing;
}

TEST(OfficerStanding, NoEnrolmentsIsNeverTrained) {
  EXPECT_EQ(StandingOf({}), Standing::kNeverTrained);
}

TEST(OfficerStanding, EachStandingFromItsOwnRecord) {
  EXPECT_EQ(StandingOf({Completed(Utc(2025, 5, 1), Utc(2027, 5, 1))}), Standing::kCurrent);
  EXPECT_EQ(StandingOf({Completed(Utc(2025, 5, 1), std::nullopt)}), Standing::kCurrent);
  EXPECT_EQ(StandingOf({Completed(Utc(2023, 1, 1), Utc(2024, 1, 1))}), Standing::kExpired);
  EXPECT_EQ(StandingOf({Open(Utc(2026, 1, 1), absl::CivilDay(2026, 3, 1))}), Standing::kOverdue);
  EXPECT_EQ(StandingOf({Open(Utc(2026, 1, 1), absl::CivilDay(2026, 12, 1))}),
            Standing::kInProgress);
  EXPECT_EQ(StandingOf({Open(Utc(2026, 1, 1), std::nullopt)}), Standing::kInProgress);
}

TEST(OfficerStanding, FirstStandingThatAppliesWins) {
  const EnrolmentRecord current = Completed(Utc(2025, 5, 1), Utc(2027, 5, 1));
  const EnrolmentRecord expired = Completed(Utc(2023, 1, 1), Utc(2024, 1, 1));
  const EnrolmentRecord overdue = Open(Utc(2026, 1, 1), absl::CivilDay(2026, 2, 1));
  const EnrolmentRecord open = Open(Utc(2026, 1, 1), std::nullopt);
  EXPECT_EQ(StandingOf({overdue, current, expired}), Standing::kCurrent);
  EXPECT_EQ(StandingOf({open, overdue, expired}), Standing::kOverdue);
  EXPECT_EQ(StandingOf({expired, open}), Standing::kInProgress);
}

TEST(OfficerStanding, BoundariesOfTheEvaluationInstant) {
  // A completion at the instant itself has not happened yet; it was in progress.
  EXPECT_EQ(StandingOf({Completed(kWhen.at, std::nullopt)}), Standing::kInProgress);
  // A certificate valid until exactly the instant is no longer current.
  EXPECT_EQ(StandingOf({Completed(Utc(2025, 1, 1), kWhen.at)}), Standing::kExpired);
  // Due on the day being closed: not overdue yet; due the day before: overdue.
  EXPECT_EQ(StandingOf({Open(Utc(2026, 1, 1), kWhen.as_of_day)}), Standing::kInProgress);
  EXPECT_EQ(StandingOf({Open(Utc(2026, 1, 1), kWhen.as_of_day - 1)}), Standing::kOverdue);
}

TEST(OfficerStanding, RecordsAfterTheInstantOrWithdrawnBeforeItDoNotCount) {
  EXPECT_EQ(StandingOf({Open(kWhen.at, absl::CivilDay(2026, 1, 1))}), Standing::kNeverTrained);
  EnrolmentRecord withdrawn = Open(Utc(2026, 1, 1), absl::CivilDay(2026, 2, 1));
  withdrawn.withdraw_time = Utc(2026, 3, 1);
  EXPECT_EQ(StandingOf({withdrawn}), Standing::kNeverTrained);
  withdrawn.withdraw_time = kWhen.at;  // withdrawn later than the instant: still open then
  EXPECT_EQ(StandingOf({withdrawn}), Standing::kOverdue);
  // Imported history (created after its completion) counts from the completion.
  EnrolmentRecord imported = Completed(Utc(2025, 5, 1), std::nullopt);
  imported.create_time = Utc(2026, 7, 1);
  EXPECT_EQ(StandingOf({imported}), Standing::kCurrent);
}

TEST(OfficerStanding, CourseFilterOnlyReadsThatCourse) {
  const std::vector<EnrolmentRecord> records = {
      Completed(Utc(2025, 5, 1), std::nullopt, "courses/a"),
      Open(Utc(2026, 1, 1), absl::CivilDay(2026, 2, 1), "courses/b")};
  EXPECT_EQ(StandingOf(records), Standing::kCurrent);
  EXPECT_EQ(StandingOf(records, "courses/a"), Standing::kCurrent);
  EXPECT_EQ(StandingOf(records, "courses/b"), Standing::kOverdue);
  EXPECT_EQ(StandingOf(records, "courses/c"), Standing::kNeverTrained);
}

TEST(OfficerStanding, CurrentUntilIsTheLatestExpiringCertificate) {
  const OfficerPosition p = PositionOf(
      {Completed(Utc(2025, 1, 1), Utc(2026, 9, 1)), Completed(Utc(2025, 6, 1), Utc(2027, 1, 1)),
       Completed(Utc(2020, 1, 1), Utc(2021, 1, 1))},
      kWhen);
  EXPECT_EQ(p.standing, Standing::kCurrent);
  EXPECT_FALSE(p.current_never_expires);
  ASSERT_TRUE(p.current_until.has_value());
  EXPECT_EQ(*p.current_until, Utc(2027, 1, 1));
  const OfficerPosition forever = PositionOf({Completed(Utc(2025, 1, 1), std::nullopt)}, kWhen);
  EXPECT_TRUE(forever.current_never_expires);
  EXPECT_FALSE(forever.current_until.has_value());
}

TEST(OfficerStanding, IsCurrentAtNeedsACompletionBeforeTheInstant) {
  const EnrolmentRecord r = Completed(Utc(2025, 1, 1), Utc(2026, 1, 1));
  EXPECT_FALSE(IsCurrentAt(r, Utc(2025, 1, 1)));
  EXPECT_TRUE(IsCurrentAt(r, Utc(2025, 1, 2)));
  EXPECT_FALSE(IsCurrentAt(r, Utc(2026, 1, 1)));
  EXPECT_FALSE(IsCurrentAt(Open(Utc(2025, 1, 1), std::nullopt), Utc(2025, 6, 1)));
}

}  // namespace
}  // namespace outreach::rules
