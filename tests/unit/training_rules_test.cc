// The training store's decisions without a database: import, completion, expiry and the
// events that follow, driven with plain values, a FakeClock and a fake ImportReader.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/calendar.h"
#include "common/clock.h"
#include "common/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/training/rules.h"

namespace outreach::training {
namespace {

using ::testing::ElementsAre;

constexpr char kForce[] = "derbyshire";
constexpr char kVersionName[] = "forces/derbyshire/courses/cyber/versions/v1";

absl::Time Utc(int y, int m, int d, int h = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0), absl::UTCTimeZone());
}

// The stored rows an import reads, in maps; `fail` makes every read a storage failure.
class FakeImportReader final : public ImportReader {
 public:
  absl::StatusOr<std::optional<v1::Officer>> OfficerById(const std::string& id) override {
    if (!fail.ok()) return fail;
    auto it = officers.find(OfficerPattern().Format({kForce, id}));
    if (it == officers.end()) return std::optional<v1::Officer>();
    return std::optional<v1::Officer>(it->second);
  }
  absl::StatusOr<std::optional<v1::Officer>> OfficerByStaffNumber(
      const std::string& staff_number) override {
    if (!fail.ok()) return fail;
    for (const auto& [name, o] : officers) {
      if (o.staff_number() == staff_number) return std::optional<v1::Officer>(o);
    }
    return std::optional<v1::Officer>();
  }
  absl::StatusOr<const VersionFacts*> Version(const std::string& name) override {
    if (!fail.ok()) return fail;
    auto it = versions.find(name);
    return it == versions.end() ? nullptr : &it->second;
  }
  absl::StatusOr<std::vector<v1::Enrolment>> EnrolmentsOf(const std::string& officer,
                                                          const std::string& version) override {
    if (!fail.ok()) return fail;
    std::vector<v1::Enrolment> out;
    for (const auto& e : enrolments) {
      if (e.officer() == officer && e.course_version() == version) out.push_back(e);
    }
    return out;
  }

  std::map<std::string, v1::Officer> officers;  // by name
  std::map<std::string, VersionFacts> versions;
  std::vector<v1::Enrolment> enrolments;  // oldest first
  absl::Status fail;
};

v1::Module Module(const char* id, bool mandatory, int pass_mark = 70) {
  v1::Module m;
  m.set_module_id(id);
  m.set_mandatory(mandatory);
  m.set_pass_mark(pass_mark);
  return m;
}

// Modules a (mandatory), b (optional), c (mandatory); certificates valid for 12 months.
VersionFacts Facts(v1::CourseVersionState state = v1::COURSE_VERSION_STATE_PUBLISHED) {
  VersionFacts f;
  f.version.set_name(kVersionName);
  f.version.set_state(state);
  for (const auto& m : {Module("a", true), Module("b", false), Module("c", true)}) {
    *f.version.add_modules() = m;
  }
  f.validity_months = 12;
  f.course_name = "forces/derbyshire/courses/cyber";
  return f;
}

v1::Officer Officer() {
  v1::Officer o;
  o.set_name("forces/derbyshire/officers/o1");
  o.set_staff_number("D1234");
  o.set_role(outreach::common::v1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  o.set_division("north");
  o.set_active(true);
  return o;
}

v1::CompletionRecord Record(absl::Time completed, const char* module_id = "") {
  v1::CompletionRecord r;
  r.set_officer(Officer().name());
  r.set_course_version(kVersionName);
  r.set_module_id(module_id);
  r.set_passed(true);
  *r.mutable_completed_time() = ToProtoTime(completed);
  return r;
}

std::vector<OutreachEvent::PayloadCase> Payloads(const std::vector<OutreachEvent>& events) {
  std::vector<OutreachEvent::PayloadCase> out;
  for (const auto& e : events) out.push_back(e.payload_case());
  return out;
}

class TrainingImportRules : public ::testing::Test {
 protected:
  TrainingImportRules() : clock_(Utc(2026, 3, 1)) {
    reader_.officers[Officer().name()] = Officer();
    reader_.versions[kVersionName] = Facts();
  }

  absl::StatusOr<ImportDecision> Decide(const v1::CompletionRecord& r) {
    return DecideImport(kForce, r, clock_.Now(), reader_, [] { return std::string("e-new"); });
  }

  FakeClock clock_;
  FakeImportReader reader_;
};

TEST_F(TrainingImportRules, WholeCourseRecordCreatesACompletedEnrolment) {
  const absl::Time done = Utc(2026, 2, 10);
  absl::StatusOr<ImportDecision> d = Decide(Record(done));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->reason.empty());
  ASSERT_TRUE(d->change.has_value());
  EXPECT_TRUE(d->created);
  const v1::Enrolment& e = d->change->enrolment;
  EXPECT_EQ(e.name(), "forces/derbyshire/enrolments/e-new");
  EXPECT_EQ(e.source(), v1::RECORD_SOURCE_IMPORT);
  EXPECT_EQ(e.state(), v1::ENROLMENT_STATE_COMPLETED);
  EXPECT_EQ(TimeFromProto(e.certificate().issue_time()), done);
  EXPECT_EQ(TimeFromProto(e.certificate().valid_until()), Utc(2027, 2, 10));
  EXPECT_EQ(e.officer_division(), "north");
  EXPECT_THAT(Payloads(d->change->events),
              ElementsAre(OutreachEvent::kEnrolmentCreated, OutreachEvent::kModuleCompleted,
                          OutreachEvent::kModuleCompleted, OutreachEvent::kModuleCompleted,
                          OutreachEvent::kEnrolmentCompleted));
  for (const auto& ev : d->change->events) {
    EXPECT_EQ(ev.force(), kForce);
    EXPECT_EQ(ev.subject(), e.name());
    EXPECT_EQ(TimeFromProto(ev.occurred_time()), clock_.Now());
  }
  EXPECT_TRUE(d->change->events.back().enrolment_completed().imported());

  // The same record again (a re-sent file) is held by the completed enrolment: skipped.
  reader_.enrolments.push_back(e);
  clock_.Advance(absl::Hours(1));
  d = Decide(Record(done));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->reason.empty());
  EXPECT_FALSE(d->change.has_value());
}

TEST_F(TrainingImportRules, OpenEnrolmentTakesOnlyTheResultsItDoesNotHold) {
  v1::Enrolment open = NewEnrolment("forces/derbyshire/enrolments/e1", Officer(), kVersionName,
                                    Facts().course_name, v1::RECORD_SOURCE_API, Utc(2026, 1, 5));
  const absl::Time done = Utc(2026, 2, 1);
  open = ApplyResults(kForce, Facts(), Officer(), open, {{"a", std::nullopt, true, done}},
                      v1::RECORD_SOURCE_API, Utc(2026, 2, 1))
             .enrolment;
  ASSERT_EQ(open.state(), v1::ENROLMENT_STATE_IN_PROGRESS);
  reader_.enrolments.push_back(open);

  absl::StatusOr<ImportDecision> d = Decide(Record(done));
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(d->change.has_value());
  EXPECT_FALSE(d->created);
  EXPECT_EQ(d->change->enrolment.name(), open.name());
  EXPECT_EQ(d->change->enrolment.state(), v1::ENROLMENT_STATE_COMPLETED);
  std::vector<std::string> modules;
  for (const auto& ev : d->change->events) {
    if (ev.has_module_completed()) modules.push_back(ev.module_completed().module_id());
  }
  EXPECT_THAT(modules, ElementsAre("b", "c"));  // "a" was held already
}

TEST_F(TrainingImportRules, ImportedHistoryPastItsValidityExpiresAtOnce) {
  absl::StatusOr<ImportDecision> d = Decide(Record(Utc(2024, 6, 1)));
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(d->change.has_value());
  EXPECT_EQ(d->change->enrolment.state(), v1::ENROLMENT_STATE_EXPIRED);
  ASSERT_FALSE(d->change->events.empty());
  const OutreachEvent& last = d->change->events.back();
  ASSERT_TRUE(last.has_certificate_expired());
  EXPECT_EQ(TimeFromProto(last.certificate_expired().valid_until()), Utc(2025, 6, 1));
}

TEST_F(TrainingImportRules, BadRecordsAreRejectedWithReasonAndField) {
  struct Case {
    const char* label;
    v1::CompletionRecord record;
    const char* reason;
    const char* field;
  };
  std::vector<Case> cases;
  cases.push_back(
      {"future", Record(clock_.Now() + absl::Minutes(1)), "FIELD_INVALID", "completed_time"});
  v1::CompletionRecord other_force = Record(Utc(2026, 2, 1));
  other_force.set_course_version("forces/notts/courses/cyber/versions/v1");
  cases.push_back({"other force", other_force, "CROSS_FORCE_ACCESS", "course_version"});
  v1::CompletionRecord unknown = Record(Utc(2026, 2, 1));
  unknown.set_staff_number("X999");
  cases.push_back({"unknown staff number", unknown, "RESOURCE_NOT_FOUND", "staff_number"});
  cases.push_back(
      {"unknown module", Record(Utc(2026, 2, 1), "zz"), "MODULE_NOT_IN_VERSION", "module_id"});
  v1::CompletionRecord scored = Record(Utc(2026, 2, 1));
  scored.set_score(80);  // a score needs a module
  cases.push_back({"score without module", scored, "FIELD_INVALID", "score"});
  for (const Case& c : cases) {
    absl::StatusOr<ImportDecision> d = Decide(c.record);
    ASSERT_TRUE(d.ok()) << c.label << ": " << d.status();
    EXPECT_EQ(d->reason, c.reason) << c.label;
    EXPECT_EQ(d->field, c.field) << c.label;
    EXPECT_FALSE(d->change.has_value()) << c.label;
  }

  reader_.versions[kVersionName] = Facts(v1::COURSE_VERSION_STATE_DRAFT);
  absl::StatusOr<ImportDecision> d = Decide(Record(Utc(2026, 2, 1)));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->reason, "COURSE_VERSION_NOT_PUBLISHED");
}

TEST_F(TrainingImportRules, AStorageFailureIsNeverARejection) {
  reader_.fail = absl::UnavailableError("database is locked");
  absl::StatusOr<ImportDecision> d = Decide(Record(Utc(2026, 2, 1)));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kUnavailable);
}

TEST(TrainingResultRules, RetryIsANoOpAndClosedEnrolmentsRefuseResults) {
  FakeClock clock(Utc(2026, 3, 1));
  const VersionFacts facts = Facts();
  v1::Enrolment e = NewEnrolment("forces/derbyshire/enrolments/e1", Officer(), kVersionName,
                                 facts.course_name, v1::RECORD_SOURCE_API, clock.Now());
  const ModuleResultInput a{"a", 65, true, Utc(2026, 2, 20)};  // 65 < pass mark 70
  absl::StatusOr<std::optional<ModuleResultInput>> r =
      CheckModuleResult(e, facts.version, a, clock.Now());
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_FALSE((*r)->passed);  // the score decides, not the caller's flag
  e = ApplyResults(kForce, facts, Officer(), e, {**r}, v1::RECORD_SOURCE_API, clock.Now())
          .enrolment;

  absl::StatusOr<EnrolmentChange> w = Withdraw(kForce, e, Officer(), "left", clock.Now());
  ASSERT_TRUE(w.ok());
  ASSERT_THAT(Payloads(w->events), ElementsAre(OutreachEvent::kEnrolmentWithdrawn));
  e = w->enrolment;
  r = CheckModuleResult(e, facts.version, a, clock.Now());  // identical re-send
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  r = CheckModuleResult(e, facts.version, {"c", std::nullopt, true, Utc(2026, 2, 21)}, clock.Now());
  EXPECT_EQ(ErrorReason(r.status()), "ENROLMENT_WITHDRAWN");
  r = CheckModuleResult(e, facts.version, {"zz", std::nullopt, true, Utc(2026, 2, 21)},
                        clock.Now());
  EXPECT_EQ(ErrorReason(r.status()), "MODULE_NOT_IN_VERSION");
}

TEST(TrainingExpiryRules, CertificateLapsesAsTheClockPassesValidUntil) {
  FakeClock clock(Utc(2026, 3, 1));
  const VersionFacts facts = Facts();
  v1::Enrolment e = NewEnrolment("forces/derbyshire/enrolments/e1", Officer(), kVersionName,
                                 facts.course_name, v1::RECORD_SOURCE_API, clock.Now());
  e = ApplyResults(kForce, facts, Officer(), e,
                   {{"a", std::nullopt, true, clock.Now()}, {"c", std::nullopt, true, clock.Now()}},
                   v1::RECORD_SOURCE_API, clock.Now())
          .enrolment;
  ASSERT_EQ(e.state(), v1::ENROLMENT_STATE_COMPLETED);
  EXPECT_EQ(ErrorReason(RequireOpen(e, clock.Now())), "ENROLMENT_NOT_OPEN");

  clock.Set(Utc(2027, 3, 1) - absl::Seconds(1));
  v1::Enrolment seen = e;
  PresentAsOf(clock.Now(), &seen);
  EXPECT_EQ(seen.state(), v1::ENROLMENT_STATE_COMPLETED);
  clock.Advance(absl::Seconds(1));
  PresentAsOf(clock.Now(), &seen);
  EXPECT_EQ(seen.state(), v1::ENROLMENT_STATE_EXPIRED);

  EnrolmentChange expired = ExpireCertificate(kForce, e, Officer(), clock.Now());
  EXPECT_EQ(expired.enrolment.state(), v1::ENROLMENT_STATE_EXPIRED);
  ASSERT_THAT(Payloads(expired.events), ElementsAre(OutreachEvent::kCertificateExpired));
  EXPECT_EQ(expired.events[0].certificate_expired().division(), "north");
}

TEST(TrainingVersionRules, PublishNeedsAMandatoryModuleAndRetireAPublishedVersion) {
  const absl::Time now = Utc(2026, 3, 1);
  v1::CourseVersion v;
  v.set_name(kVersionName);
  v.set_state(v1::COURSE_VERSION_STATE_DRAFT);
  *v.add_modules() = Module("b", false);
  EXPECT_EQ(ErrorReason(RetireVersion(now, &v)), "COURSE_VERSION_NOT_PUBLISHED");
  EXPECT_EQ(ErrorReason(PublishVersion(now, &v)), "COURSE_VERSION_EMPTY");
  *v.add_modules() = Module("a", true);
  ASSERT_TRUE(PublishVersion(now, &v).ok());
  EXPECT_EQ(v.state(), v1::COURSE_VERSION_STATE_PUBLISHED);
  EXPECT_EQ(TimeFromProto(v.publish_time()), now);
  EXPECT_EQ(ErrorReason(PublishVersion(now, &v)), "COURSE_VERSION_NOT_DRAFT");
  ASSERT_TRUE(RetireVersion(now, &v).ok());
  EXPECT_EQ(v.state(), v1::COURSE_VERSION_STATE_RETIRED);
}

TEST(TrainingEnrolmentRules, OnlyActiveOfficersWithoutAnOpenEnrolmentEnrol) {
  const VersionFacts facts = Facts();
  v1::Officer o = Officer();
  EXPECT_TRUE(CheckEnrolment(o, facts.version, "").ok());
  EXPECT_EQ(ErrorReason(CheckEnrolment(o, facts.version, "forces/derbyshire/enrolments/e1")),
            "DUPLICATE_ACTIVE_ENROLMENT");
  o.set_active(false);
  EXPECT_EQ(ErrorReason(CheckEnrolment(o, facts.version, "")), "OFFICER_INACTIVE");
  EXPECT_EQ(
      ErrorReason(CheckEnrolment(Officer(), Facts(v1::COURSE_VERSION_STATE_RETIRED).version, "")),
      "COURSE_VERSION_RETIRED");
  const OutreachEvent created = EnrolmentCreated(
      kForce, NewEnrolment("n", o, kVersionName, "c", v1::RECORD_SOURCE_API, Utc(2026, 3, 1)),
      Utc(2026, 3, 1));
  ASSERT_TRUE(created.has_enrolment_created());
  EXPECT_FALSE(created.enrolment_created().imported());
  EXPECT_EQ(created.enrolment_created().division(), "north");
}

}  // namespace
}  // namespace outreach::training
