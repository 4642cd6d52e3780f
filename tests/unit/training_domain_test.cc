// Training rules without a network: completion, certificate validity and expiry (against a
// FakeClock), and the compliance arithmetic.
#include "absl/time/civil_time.h"
#include "common/calendar.h"
#include "common/clock.h"
#include "common/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/training/domain.h"

namespace outreach::training {
namespace {

using ::testing::ElementsAre;

absl::Time Utc(int y, int m, int d, int h = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0), absl::UTCTimeZone());
}

v1::CourseVersion Version() {
  v1::CourseVersion v;
  v.set_name("forces/f/courses/c/versions/v1");
  auto add = [&](const char* id, bool mandatory, int pass_mark) {
    auto* m = v.add_modules();
    m->set_module_id(id);
    m->set_mandatory(mandatory);
    m->set_pass_mark(pass_mark);
  };
  add("a", true, 70);
  add("b", false, 0);
  add("c", true, 50);
  return v;
}

v1::ModuleResult Result(const char* id, bool passed, absl::Time t) {
  v1::ModuleResult r;
  r.set_module_id(id);
  r.set_passed(passed);
  *r.mutable_completed_time() = ToProtoTime(t);
  return r;
}

TEST(TrainingCompletion, CompletesOnlyWhenEveryMandatoryModuleIsPassed) {
  const v1::CourseVersion v = Version();
  v1::Enrolment e;
  UpsertModuleResult(v, Result("c", true, Utc(2025, 3, 2)), &e);
  EXPECT_FALSE(CompletionTime(v, e).has_value());
  UpsertModuleResult(v, Result("b", true, Utc(2025, 3, 9)), &e);  // optional: not enough
  EXPECT_FALSE(CompletionTime(v, e).has_value());
  UpsertModuleResult(v, Result("a", false, Utc(2025, 3, 3)), &e);  // failed: not enough
  EXPECT_FALSE(CompletionTime(v, e).has_value());
  UpsertModuleResult(v, Result("a", true, Utc(2025, 3, 4)), &e);  // replaces the failure
  ASSERT_TRUE(CompletionTime(v, e).has_value());
  // Issue time = the latest completed_time of the mandatory modules (not of the optional one).
  EXPECT_EQ(*CompletionTime(v, e), Utc(2025, 3, 4));
  // Results are kept one per module, in the version's module order.
  std::vector<std::string> ids;
  for (const auto& r : e.module_results()) ids.push_back(r.module_id());
  EXPECT_THAT(ids, ElementsAre("a", "b", "c"));
}

TEST(TrainingCompletion, ScoreDecidesPassedAgainstThePassMark) {
  const v1::CourseVersion v = Version();
  EXPECT_TRUE(DecidePassed(v.modules(0), 70, false));
  EXPECT_FALSE(DecidePassed(v.modules(0), 69, true));
  EXPECT_TRUE(DecidePassed(v.modules(0), std::nullopt, true));
  EXPECT_FALSE(DecidePassed(v.modules(0), std::nullopt, false));
}

TEST(TrainingCompletion, IdenticalResultIsRecognised) {
  const v1::CourseVersion v = Version();
  v1::Enrolment e;
  v1::ModuleResult r = Result("a", true, Utc(2025, 3, 4));
  r.set_score(80);
  UpsertModuleResult(v, r, &e);
  EXPECT_TRUE(HoldsIdenticalResult(e, "a", 80, true, Utc(2025, 3, 4)));
  EXPECT_FALSE(HoldsIdenticalResult(e, "a", 81, true, Utc(2025, 3, 4)));
  EXPECT_FALSE(HoldsIdenticalResult(e, "a", std::nullopt, true, Utc(2025, 3, 4)));
  EXPECT_FALSE(HoldsIdenticalResult(e, "a", 80, true, Utc(2025, 3, 5)));
  EXPECT_FALSE(HoldsIdenticalResult(e, "c", 80, true, Utc(2025, 3, 4)));
}

TEST(TrainingExpiry, ValidUntilAddsCalendarMonthsClampedToMonthEnd) {
  EXPECT_FALSE(ValidUntil(Utc(2025, 1, 31), 0).has_value());
  // 31 Jan + 1 month = 28 Feb (same local time of day).
  EXPECT_EQ(*ValidUntil(Utc(2025, 1, 31), 1), Utc(2025, 2, 28));
  EXPECT_EQ(*ValidUntil(Utc(2024, 1, 31), 1), Utc(2024, 2, 29));
  EXPECT_EQ(*ValidUntil(Utc(2025, 3, 15), 36), Utc(2028, 3, 15));
  // Across a summer-time change the local wall time is kept: 10:00 GMT in January is 10:00 BST
  // (09:00 UTC) in July.
  EXPECT_EQ(*ValidUntil(Utc(2025, 1, 10, 10), 6), Utc(2025, 7, 10, 9));
}

TEST(TrainingExpiry, StateIsEvaluatedAgainstTheInjectedClock) {
  FakeClock clock(Utc(2025, 6, 1));
  const auto until = ValidUntil(Utc(2025, 1, 1), 12);
  EXPECT_EQ(EffectiveState(v1::ENROLMENT_STATE_COMPLETED, until, clock.Now()),
            v1::ENROLMENT_STATE_COMPLETED);
  clock.Set(*until - absl::Seconds(1));
  EXPECT_EQ(EffectiveState(v1::ENROLMENT_STATE_COMPLETED, until, clock.Now()),
            v1::ENROLMENT_STATE_COMPLETED);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(EffectiveState(v1::ENROLMENT_STATE_COMPLETED, until, clock.Now()),
            v1::ENROLMENT_STATE_EXPIRED);
  // Never-expiring certificates, and other states, are not touched.
  EXPECT_EQ(EffectiveState(v1::ENROLMENT_STATE_COMPLETED, std::nullopt, Utc(2099, 1, 1)),
            v1::ENROLMENT_STATE_COMPLETED);
  EXPECT_EQ(EffectiveState(v1::ENROLMENT_STATE_WITHDRAWN, until, Utc(2099, 1, 1)),
            v1::ENROLMENT_STATE_WITHDRAWN);
}

TEST(TrainingValidation, ModulesNameEveryBadField) {
  google::protobuf::RepeatedPtrField<v1::Module> modules;
  auto* a = modules.Add();
  a->set_module_id("intro");
  a->set_title("Intro");
  a->set_pass_mark(101);
  a->set_expected_duration_minutes(0);
  auto* b = modules.Add();
  b->set_module_id("intro");
  b->set_title("");
  b->set_expected_duration_minutes(10);
  b->set_origin(v1::COURSE_ORIGIN_FORCE);
  const absl::Status s = ValidateModules(modules, "course_version");
  std::vector<std::string> fields;
  for (const auto& v : FieldViolations(s)) fields.push_back(v.field);
  EXPECT_THAT(fields,
              ElementsAre("course_version.modules[0].pass_mark",
                          "course_version.modules[0].expected_duration_minutes",
                          "course_version.modules[0].origin", "course_version.modules[1].module_id",
                          "course_version.modules[1].title"));
}

TEST(TrainingValidation, CourseAndOfficerFields) {
  v1::Course course;
  course.set_display_name("Package");
  course.set_origin(v1::COURSE_ORIGIN_FORCE);
  EXPECT_TRUE(ValidateCourse(course, "course").ok());
  course.set_validity_months(-1);
  course.add_target_roles(outreach::common::v1::OFFICER_ROLE_STAFF);
  course.add_target_roles(outreach::common::v1::OFFICER_ROLE_STAFF);
  course.set_external_code(std::string(65, 'x'));
  std::vector<std::string> fields;
  for (const auto& v : FieldViolations(ValidateCourse(course, "course"))) fields.push_back(v.field);
  EXPECT_THAT(fields, ElementsAre("course.validity_months", "course.target_roles[1]",
                                  "course.external_code"));

  v1::Officer officer;
  officer.set_staff_number("PSN-10001");
  officer.set_role(outreach::common::v1::OFFICER_ROLE_CALL_HANDLER);
  officer.set_division("derby-city");
  EXPECT_TRUE(ValidateOfficer(officer, "officer").ok());
  officer.set_staff_number(std::string(33, '1'));
  officer.set_division("north/east");
  fields.clear();
  for (const auto& v : FieldViolations(ValidateOfficer(officer, "officer"))) {
    fields.push_back(v.field);
  }
  EXPECT_THAT(fields, ElementsAre("officer.staff_number", "officer.division"));
  // Titles count code points, not bytes: 200 two-byte characters are fine.
  std::string title;
  for (int i = 0; i < 200; ++i) title += "\xc3\xa9";
  course = v1::Course();
  course.set_display_name(title);
  course.set_origin(v1::COURSE_ORIGIN_FORCE);
  EXPECT_TRUE(ValidateCourse(course, "course").ok());
}

// --- compliance ----------------------------------------------------------------------------
constexpr int kFi = outreach::common::v1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR;
constexpr int kSnt = outreach::common::v1::OFFICER_ROLE_NEIGHBOURHOOD_OFFICER;

EnrolmentFacts Completed(const std::string& officer, int role, absl::Time done, int months) {
  EnrolmentFacts f;
  f.officer = officer;
  f.role = role;
  f.division = "north";
  f.create_time = done - absl::Hours(24 * 10);
  f.complete_time = done;
  f.valid_until = ValidUntil(done, months);
  return f;
}

EnrolmentFacts Open(const std::string& officer, absl::Time created,
                    std::optional<absl::CivilDay> due) {
  EnrolmentFacts f;
  f.officer = officer;
  f.role = kFi;
  f.division = "north";
  f.create_time = created;
  f.due_date = due;
  return f;
}

TEST(TrainingCompliance, EachOfficerCountsOnceInTheFirstCategoryThatApplies) {
  std::vector<OfficerFacts> officers = {
      {"o/current", kFi, "north", true},  {"o/overdue", kFi, "north", true},
      {"o/progress", kFi, "north", true}, {"o/expired", kFi, "north", true},
      {"o/never", kFi, "south", true},    {"o/inactive", kFi, "north", false},
      {"o/snt", kSnt, "north", true},     {"o/current-and-open", kFi, "south", true}};
  std::vector<EnrolmentFacts> enrolments = {
      Completed("o/current", kFi, Utc(2025, 5, 1), 36),
      Open("o/overdue", Utc(2026, 1, 1), absl::CivilDay(2026, 3, 1)),
      Open("o/progress", Utc(2026, 1, 1), absl::CivilDay(2026, 12, 1)),
      Completed("o/expired", kFi, Utc(2023, 1, 1), 12),
      Completed("o/inactive", kFi, Utc(2025, 5, 1), 36),
      Completed("o/current-and-open", kFi, Utc(2025, 5, 1), 36),
      Open("o/current-and-open", Utc(2026, 1, 1), absl::CivilDay(2026, 2, 1)),
  };
  ComplianceScope scope;
  scope.roles = {kFi};
  scope.as_of_date = absl::CivilDay(2026, 6, 1);
  scope.target_percent = 75;
  v1::ComplianceReport report;
  ComputeCompliance(scope, officers, enrolments, &report);
  const auto& t = report.totals();
  EXPECT_EQ(t.officers_in_scope(), 6);  // inactive and the SNT officer are out of scope
  EXPECT_EQ(t.current(), 2);
  EXPECT_EQ(t.overdue(), 1);
  EXPECT_EQ(t.in_progress(), 1);
  EXPECT_EQ(t.expired(), 1);
  EXPECT_EQ(t.never_trained(), 1);
  EXPECT_NEAR(t.compliance_percent(), 100.0 * 2 / 6, 1e-9);
  EXPECT_EQ(report.target_officers_required(), 5);  // ceil(75% of 6)
  EXPECT_FALSE(report.target_met());
  EXPECT_EQ(report.shortfall(), 3);
  ASSERT_EQ(report.breakdown_size(), 2);
  EXPECT_EQ(report.breakdown(0).division(), "north");
  EXPECT_EQ(report.breakdown(0).counts().officers_in_scope(), 4);
  EXPECT_EQ(report.breakdown(1).division(), "south");
  EXPECT_EQ(report.breakdown(1).counts().current(), 1);
}

TEST(TrainingCompliance, PastDateReproducesTheEarlierPosition) {
  std::vector<OfficerFacts> officers = {{"o/1", kFi, "north", true}};
  std::vector<EnrolmentFacts> enrolments = {Completed("o/1", kFi, Utc(2025, 5, 1), 12)};
  ComplianceScope scope;
  scope.as_of_date = absl::CivilDay(2025, 4, 30);  // enrolled, not yet completed
  v1::ComplianceReport before;
  ComputeCompliance(scope, officers, enrolments, &before);
  EXPECT_EQ(before.totals().in_progress(), 1);
  scope.as_of_date = absl::CivilDay(2025, 6, 1);
  v1::ComplianceReport during;
  ComputeCompliance(scope, officers, enrolments, &during);
  EXPECT_EQ(during.totals().current(), 1);
  scope.as_of_date = absl::CivilDay(2026, 5, 2);
  v1::ComplianceReport after;
  ComputeCompliance(scope, officers, enrolments, &after);
  EXPECT_EQ(after.totals().expired(), 1);
}

TEST(TrainingCompliance, ExpiringWindowsAreCumulative) {
  std::vector<OfficerFacts> officers = {{"o/20", kFi, "n", true},
                                        {"o/50", kFi, "n", true},
                                        {"o/80", kFi, "n", true},
                                        {"o/200", kFi, "n", true}};
  const absl::CivilDay today(2026, 1, 10);
  const absl::Time end_of_today = StartOfLocalDay(today + 1);
  std::vector<EnrolmentFacts> enrolments;
  for (int days : {20, 50, 80, 200}) {
    EnrolmentFacts f = Completed(absl::StrCat("o/", days), kFi, Utc(2025, 1, 1), 0);
    f.valid_until = end_of_today + absl::Hours(24 * days) - absl::Hours(1);
    enrolments.push_back(f);
  }
  ComplianceScope scope;
  scope.as_of_date = today;
  v1::ComplianceReport report;
  ComputeCompliance(scope, officers, enrolments, &report);
  ASSERT_EQ(report.expiring_size(), 3);
  EXPECT_EQ(report.expiring(0).within_days(), 30);
  EXPECT_EQ(report.expiring(0).officers(), 1);
  EXPECT_EQ(report.expiring(1).officers(), 2);
  EXPECT_EQ(report.expiring(2).officers(), 3);
  EXPECT_EQ(report.totals().current(), 4);
}

TEST(TrainingCompliance, CompletionsPerYearByRoleUseTheChosenYearBasis) {
  std::vector<OfficerFacts> officers = {{"o/1", kFi, "n", false}, {"o/2", kSnt, "n", true}};
  std::vector<EnrolmentFacts> enrolments = {
      Completed("o/1", kFi, Utc(2025, 3, 20), 36),  // FY 2024, calendar 2025
      Completed("o/1", kFi, Utc(2025, 4, 20), 36),  // FY 2025
      Completed("o/2", kSnt, Utc(2025, 9, 20), 36)};
  ComplianceScope scope;
  scope.as_of_date = absl::CivilDay(2026, 1, 1);
  v1::ComplianceReport calendar;
  ComputeCompliance(scope, officers, enrolments, &calendar);
  ASSERT_EQ(calendar.completions_by_year_size(), 2);
  EXPECT_EQ(calendar.completions_by_year(0).year(), 2025);
  EXPECT_EQ(calendar.completions_by_year(0).role(), kFi);
  EXPECT_EQ(calendar.completions_by_year(0).officers(), 1);  // inactive officers still count
  EXPECT_EQ(calendar.completions_by_year(0).completions(), 2);
  EXPECT_EQ(calendar.completions_by_year(1).role(), kSnt);

  scope.year_basis = v1::YEAR_BASIS_FINANCIAL;
  v1::ComplianceReport financial;
  ComputeCompliance(scope, officers, enrolments, &financial);
  ASSERT_EQ(financial.completions_by_year_size(), 3);
  EXPECT_EQ(financial.completions_by_year(0).year(), 2024);
  EXPECT_EQ(financial.completions_by_year(0).date_range().start_date().month(), 4);
  EXPECT_EQ(financial.completions_by_year(0).date_range().end_date().year(), 2025);
  EXPECT_EQ(financial.completions_by_year(1).year(), 2025);
}

TEST(TrainingValidation, TextThatMustNeverBeStoredIsRefused) {
  v1::Course course;
  course.set_display_name("Safeguarding\tlevel 2");
  course.set_description("Case study: child at NG5 1PB");
  course.set_origin(v1::COURSE_ORIGIN_FORCE);
  course.set_external_code("  ");
  const absl::Status s = ValidateCourse(course, "course");
  std::vector<std::string> fields;
  for (const auto& v : FieldViolations(s)) fields.push_back(v.field);
  EXPECT_THAT(fields,
              ElementsAre("course.display_name", "course.description", "course.external_code"));
  EXPECT_EQ(ErrorReason(s), "CONTROL_CHARACTER");  // the first refusal with a reason
  course.set_display_name("Safeguarding level 2");
  EXPECT_EQ(ErrorReason(ValidateCourse(course, "course")), "PERSONAL_DATA_REFUSED");
  course.set_description("Case study");
  EXPECT_EQ(ErrorReason(ValidateCourse(course, "course")), "BLANK_TEXT");
  google::protobuf::RepeatedPtrField<v1::Module> modules;
  auto* m = modules.Add();
  m->set_module_id("intro");
  m->set_title("Intro");
  m->set_description("Ring the DSL on +44 1332 123456");
  m->set_expected_duration_minutes(30);
  m->set_origin(v1::COURSE_ORIGIN_FORCE);
  EXPECT_EQ(ErrorReason(ValidateModules(modules, "course_version")), "PERSONAL_DATA_REFUSED");
  v1::CourseVersion version;
  version.set_display_name("2026 edition, updated 2026-03-12");
  version.set_description("Line one\nline two");
  EXPECT_TRUE(ValidateCourseVersionText(version, "course_version").ok());
}

}  // namespace
}  // namespace outreach::training
