// ImportCompletions and StreamImportCompletions over a real server: idempotency per
// (officer, version, module), per-record errors with index and reason, whole-call errors,
// events, and a 10,000-record import whose duration is printed (measured, not asserted).
#include <chrono>
#include <cstdio>

#include "tests/service/training_fixture.h"

namespace outreach::training {
namespace {

using ::testing::ElementsAre;

constexpr char kParent[] = "forces/derbyshire";
absl::Time Days(int n) { return TestStart() - absl::Hours(24 * n); }

v1::CompletionRecord ModuleRecord(const std::string& officer, const std::string& version,
                                  const std::string& module, int score, absl::Time when) {
  v1::CompletionRecord r;
  r.set_officer(officer);
  r.set_course_version(version);
  r.set_module_id(module);
  r.set_score(score);
  *r.mutable_completed_time() = ToProtoTime(when);
  return r;
}

class TrainingImportTest : public TrainingFixture {
 protected:
  void SetUp() override {
    course_ = CreateCourse("cyber", 12);
    version_ = CreateVersion(course_.name(), "v1");
  }

  v1::ImportCompletionsResponse Import(const std::vector<v1::CompletionRecord>& records) {
    v1::ImportCompletionsRequest req;
    req.set_parent(kParent);
    for (const auto& r : records) *req.add_records() = r;
    v1::ImportCompletionsResponse out;
    grpc::Status s = stub_->ImportCompletions(Ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::ListEnrolmentsResponse Enrolments() {
    v1::ListEnrolmentsRequest req;
    req.set_parent(kParent);
    req.set_page_size(500);
    v1::ListEnrolmentsResponse out;
    EXPECT_TRUE(stub_->ListEnrolments(Ctx().get(), req, &out).ok());
    return out;
  }

  v1::Course course_;
  v1::CourseVersion version_;
};

TEST_F(TrainingImportTest, ImportingTheSameRecordsTwiceChangesNothing) {
  v1::Officer a = CreateOfficer("a");
  v1::Officer b = CreateOfficer("b", cv1::OFFICER_ROLE_CALL_HANDLER, "south");
  std::vector<v1::CompletionRecord> records = {
      ModuleRecord(a.name(), version_.name(), "a", 80, Days(5)),
      ModuleRecord(a.name(), version_.name(), "c", 90, Days(4)),
      ModuleRecord(b.name(), version_.name(), "a", 40, Days(3)),
  };
  // A whole-version record by staff number.
  v1::CompletionRecord whole;
  whole.set_staff_number(CreateOfficer("c").staff_number());
  whole.set_course_version(version_.name());
  *whole.mutable_completed_time() = ToProtoTime(Days(2));
  records.push_back(whole);

  v1::ImportCompletionsResponse first = Import(records);
  EXPECT_EQ(first.applied(), 4);
  EXPECT_EQ(first.skipped(), 0);
  EXPECT_EQ(first.rejected(), 0);
  const auto events = OutboxEvents();
  const auto listed = Enrolments();
  ASSERT_EQ(listed.total_size(), 3);
  int completed = 0;
  for (const auto& e : listed.enrolments()) {
    EXPECT_EQ(e.source(), v1::RECORD_SOURCE_IMPORT);
    if (e.state() == v1::ENROLMENT_STATE_COMPLETED) ++completed;
  }
  EXPECT_EQ(completed, 2);  // a (both mandatory modules) and c (whole version)

  v1::ImportCompletionsResponse second = Import(records);
  EXPECT_EQ(second.applied(), 0);
  EXPECT_EQ(second.skipped(), 4);
  EXPECT_EQ(second.rejected(), 0);
  EXPECT_EQ(OutboxEvents().size(), events.size());
  const auto again = Enrolments();
  ASSERT_EQ(again.total_size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(again.enrolments(i).etag(), listed.enrolments(i).etag());

  // Events carry the import flag and the dimensions metrics needs.
  int created = 0, modules = 0, completions = 0;
  for (const auto& e : events) {
    if (e.has_enrolment_created()) {
      ++created;
      EXPECT_TRUE(e.enrolment_created().imported());
    } else if (e.has_module_completed()) {
      ++modules;
      EXPECT_TRUE(e.module_completed().imported());
    } else if (e.has_enrolment_completed()) {
      ++completions;
      EXPECT_TRUE(e.enrolment_completed().imported());
      EXPECT_EQ(e.enrolment_completed().role(), cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
      EXPECT_EQ(e.enrolment_completed().division(), "north");
    }
  }
  EXPECT_EQ(created, 3);
  EXPECT_EQ(modules, 2 + 1 + 3);  // whole version: every module
  EXPECT_EQ(completions, 2);

  // A different result for the open enrolment replaces the stored one: applied.
  records[2].set_score(75);
  v1::ImportCompletionsResponse third = Import({records[2]});
  EXPECT_EQ(third.applied(), 1);
  EXPECT_EQ(Enrolments().total_size(), 3);
}

TEST_F(TrainingImportTest, BadRecordsAreReportedWithIndexAndReasonWhileGoodOnesAreKept) {
  v1::Officer a = CreateOfficer("a");
  v1::CourseVersion draft = CreateVersion(course_.name(), "draft", false);
  std::vector<v1::CompletionRecord> records;
  records.push_back(ModuleRecord(a.name(), version_.name(), "a", 80, Days(5)));  // 0 ok
  records.push_back(ModuleRecord("forces/derbyshire/officers/ghost", version_.name(), "a", 80,
                                 Days(5)));                                       // 1
  records.push_back(ModuleRecord(a.name(), version_.name(), "zz", 80, Days(5)));  // 2
  records.push_back(ModuleRecord(a.name(), version_.name(), "c", 80,
                                 TestStart() + absl::Hours(1)));                  // 3
  records.push_back(ModuleRecord(a.name(), draft.name(), "a", 80, Days(5)));      // 4
  records.push_back(ModuleRecord(a.name(), version_.name(), "c", 101, Days(5)));  // 5
  v1::CompletionRecord no_learner = ModuleRecord("", version_.name(), "a", 80, Days(5));
  no_learner.clear_learner();
  records.push_back(no_learner);  // 6
  v1::CompletionRecord by_staff;
  by_staff.set_staff_number("NOBODY");
  by_staff.set_course_version(version_.name());
  *by_staff.mutable_completed_time() = ToProtoTime(Days(5));
  by_staff.set_external_record_id("ext-7");
  records.push_back(by_staff);  // 7
  records.push_back(ModuleRecord(a.name(), "forces/derbyshire/courses/cyber/versions/v9", "a", 80,
                                 Days(5)));                                      // 8
  records.push_back(ModuleRecord(a.name(), version_.name(), "c", 95, Days(4)));  // 9 ok
  v1::ImportCompletionsResponse out = Import(records);
  EXPECT_EQ(out.applied(), 2);
  EXPECT_EQ(out.skipped(), 0);
  EXPECT_EQ(out.rejected(), 8);
  std::vector<std::tuple<int, std::string, std::string>> errors;
  for (const auto& e : out.errors()) errors.emplace_back(e.index(), e.reason(), e.field());
  EXPECT_THAT(errors,
              ElementsAre(std::make_tuple(1, "RESOURCE_NOT_FOUND", "officer"),
                          std::make_tuple(2, "MODULE_NOT_IN_VERSION", "module_id"),
                          std::make_tuple(3, "FIELD_INVALID", "completed_time"),
                          std::make_tuple(4, "COURSE_VERSION_NOT_PUBLISHED", "course_version"),
                          std::make_tuple(5, "FIELD_INVALID", "score"),
                          std::make_tuple(6, "FIELD_INVALID", "officer"),
                          std::make_tuple(7, "RESOURCE_NOT_FOUND", "staff_number"),
                          std::make_tuple(8, "RESOURCE_NOT_FOUND", "course_version")));
  EXPECT_EQ(out.errors(6).external_record_id(), "ext-7");
  const auto listed = Enrolments();
  ASSERT_EQ(listed.total_size(), 1);
  EXPECT_EQ(listed.enrolments(0).state(), v1::ENROLMENT_STATE_COMPLETED);
}

TEST_F(TrainingImportTest, HistoryMayTargetRetiredVersionsAndInactiveOfficers) {
  v1::Officer gone =
      CreateOfficer("gone", cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR, "north", false);
  v1::RetireCourseVersionRequest ret;
  ret.set_name(version_.name());
  ret.set_etag(version_.etag());
  ASSERT_TRUE(stub_->RetireCourseVersion(Ctx().get(), ret, &version_).ok());
  v1::CompletionRecord whole;
  whole.set_officer(gone.name());
  whole.set_course_version(version_.name());
  *whole.mutable_completed_time() = ToProtoTime(Days(30));
  v1::ImportCompletionsResponse out = Import({whole});
  EXPECT_EQ(out.applied(), 1);
  const auto listed = Enrolments();
  ASSERT_EQ(listed.total_size(), 1);
  EXPECT_EQ(listed.enrolments(0).state(), v1::ENROLMENT_STATE_COMPLETED);
  EXPECT_EQ(listed.enrolments(0).complete_time().seconds(), absl::ToUnixSeconds(Days(30)));

  // An import never counts as a duplicate active enrolment, and a withdrawn enrolment never
  // takes records: a new one is created.
  v1::Officer o = CreateOfficer("o");
  v1::Enrolment e = MustEnrol(o.name(), CreateVersion(course_.name(), "v2").name());
  v1::WithdrawEnrolmentRequest w;
  w.set_name(e.name());
  w.set_etag(e.etag());
  w.set_reason("moved to another unit");
  ASSERT_TRUE(stub_->WithdrawEnrolment(Ctx().get(), w, &e).ok());
  out = Import({ModuleRecord(o.name(), e.course_version(), "a", 90, Days(1))});
  EXPECT_EQ(out.applied(), 1);
  EXPECT_EQ(Enrolments().total_size(), 3);
  // That import left an open enrolment in v2; history for v1 (retired) still loads beside it.
  out = Import({ModuleRecord(o.name(), version_.name(), "a", 90, Days(200))});
  EXPECT_EQ(out.applied(), 1);
  EXPECT_EQ(out.rejected(), 0);
  EXPECT_EQ(Enrolments().total_size(), 4);
}

TEST_F(TrainingImportTest, ImportedCertificatesAlreadyPastValidityExpireAtOnce) {
  v1::Officer o = CreateOfficer("o");
  v1::CompletionRecord whole;
  whole.set_officer(o.name());
  whole.set_course_version(version_.name());
  *whole.mutable_completed_time() = ToProtoTime(Days(500));
  ASSERT_EQ(Import({whole}).applied(), 1);
  const auto listed = Enrolments();
  ASSERT_EQ(listed.total_size(), 1);
  EXPECT_EQ(listed.enrolments(0).state(), v1::ENROLMENT_STATE_EXPIRED);
  EXPECT_EQ(EventsOf(OutreachEvent::kCertificateExpired).size(), 1u);
  EXPECT_EQ(Import({whole}).skipped(), 1);
  EXPECT_EQ(EventsOf(OutreachEvent::kCertificateExpired).size(), 1u);
}

TEST_F(TrainingImportTest, WholeCallErrors) {
  v1::ImportCompletionsRequest req;
  req.set_parent(kParent);
  v1::ImportCompletionsResponse out;
  grpc::Status s = stub_->ImportCompletions(Ctx().get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("records"));
  for (int i = 0; i < 1001; ++i) req.add_records();
  s = stub_->ImportCompletions(Ctx().get(), req, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("records"));

  // Streams: the first message must name the force, later ones the same.
  {
    auto ctx = Ctx();
    v1::ImportCompletionsResponse resp;
    auto writer = stub_->StreamImportCompletions(ctx.get(), &resp);
    v1::StreamImportCompletionsRequest msg;
    msg.add_records();
    writer->Write(msg);
    writer->WritesDone();
    s = writer->Finish();
    EXPECT_THAT(ViolatedFields(s), ElementsAre("parent"));
  }
  {
    auto ctx = Ctx();
    v1::ImportCompletionsResponse resp;
    auto writer = stub_->StreamImportCompletions(ctx.get(), &resp);
    v1::StreamImportCompletionsRequest msg;
    msg.set_parent(kParent);
    writer->Write(msg);
    msg.set_parent("forces/nottinghamshire");
    writer->Write(msg);
    writer->WritesDone();
    s = writer->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(ViolatedFields(s), ElementsAre("parent"));
  }
  {
    auto ctx = Ctx();
    v1::ImportCompletionsResponse resp;
    auto writer = stub_->StreamImportCompletions(ctx.get(), &resp);
    writer->WritesDone();
    s = writer->Finish();
    EXPECT_THAT(ViolatedFields(s), ElementsAre("parent"));
  }
}

TEST_F(TrainingImportTest, StreamIndexesCountAcrossMessagesAndPartsMayRepeatTheParent) {
  v1::Officer a = CreateOfficer("a");
  v1::Officer b = CreateOfficer("b");
  auto ctx = Ctx();
  v1::ImportCompletionsResponse resp;
  auto writer = stub_->StreamImportCompletions(ctx.get(), &resp);
  v1::StreamImportCompletionsRequest msg;
  msg.set_parent(kParent);
  *msg.add_records() = ModuleRecord(a.name(), version_.name(), "a", 80, Days(3));  // 0
  *msg.add_records() = ModuleRecord(a.name(), version_.name(), "a", 80, Days(3));  // 1 same
  ASSERT_TRUE(writer->Write(msg));
  msg.Clear();  // later messages may leave the parent empty...
  *msg.add_records() = ModuleRecord(b.name(), version_.name(), "nope", 80, Days(3));  // 2
  ASSERT_TRUE(writer->Write(msg));
  msg.set_parent(kParent);  // ...or repeat it
  msg.clear_records();
  *msg.add_records() = ModuleRecord(b.name(), version_.name(), "c", 80, Days(3));  // 3
  ASSERT_TRUE(writer->Write(msg));
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.applied(), 2);
  EXPECT_EQ(resp.skipped(), 1);
  EXPECT_EQ(resp.rejected(), 1);
  ASSERT_EQ(resp.errors_size(), 1);
  EXPECT_EQ(resp.errors(0).index(), 2);
  EXPECT_EQ(resp.errors(0).reason(), "MODULE_NOT_IN_VERSION");
  EXPECT_EQ(Enrolments().total_size(), 2);
}

// 500 officers x 20 modules = 10,000 module records, streamed in 10 messages of 1000. The first
// pass applies all of them (500 enrolments created and completed); a second pass of the same
// file is skipped record by record. Durations are printed, not asserted.
TEST_F(TrainingImportTest, TenThousandRecordsStreamedTwice) {
  std::vector<v1::Module> modules;
  for (int m = 0; m < 20; ++m) modules.push_back(Module(absl::StrCat("m", m), m < 15, 50));
  v1::CourseVersion big = CreateVersion(course_.name(), "big", true, modules);
  std::vector<std::string> officers;
  for (int i = 0; i < 500; ++i) {
    v1::CreateOfficerRequest req;
    req.set_parent(kParent);
    req.set_officer_id(absl::StrFormat("bulk-%04d", i));
    req.mutable_officer()->set_staff_number(absl::StrFormat("B%05d", i));
    req.mutable_officer()->set_role(i % 4 ? cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR
                                          : cv1::OFFICER_ROLE_RESPONSE_OFFICER);
    req.mutable_officer()->set_division(i % 2 ? "north" : "south");
    req.mutable_officer()->set_active(true);
    v1::Officer out;
    ASSERT_TRUE(stub_->CreateOfficer(Ctx().get(), req, &out).ok());
    officers.push_back(out.name());
  }
  std::vector<v1::CompletionRecord> records;
  // Optional modules first, so that each enrolment completes on its last record.
  for (int m = 19; m >= 0; --m) {
    for (int i = 0; i < 500; ++i) {
      records.push_back(ModuleRecord(officers[i], big.name(), absl::StrCat("m", m), 60 + (i % 40),
                                     Days(60) + absl::Minutes(m)));
    }
  }
  // A bad record in the middle (index 5000, officer 0's mandatory m9): reported, the rest kept.
  records[5000].set_module_id("not-a-module");

  auto stream_all = [&](v1::ImportCompletionsResponse* resp) {
    auto ctx = outreach::testing::Ctx();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(300));
    auto writer = stub_->StreamImportCompletions(ctx.get(), resp);
    for (size_t start = 0; start < records.size(); start += 1000) {
      v1::StreamImportCompletionsRequest msg;
      if (start == 0) msg.set_parent(kParent);
      for (size_t i = start; i < start + 1000; ++i) *msg.add_records() = records[i];
      if (!writer->Write(msg)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  };

  v1::ImportCompletionsResponse first;
  const absl::Time t0 = absl::Now();
  grpc::Status s = stream_all(&first);
  const absl::Duration first_took = absl::Now() - t0;
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(first.applied(), 9999);
  EXPECT_EQ(first.rejected(), 1);
  ASSERT_EQ(first.errors_size(), 1);
  EXPECT_EQ(first.errors(0).index(), 5000);
  EXPECT_EQ(first.errors(0).reason(), "MODULE_NOT_IN_VERSION");

  v1::ImportCompletionsResponse second;
  const absl::Time t1 = absl::Now();
  s = stream_all(&second);
  const absl::Duration second_took = absl::Now() - t1;
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(second.applied(), 0);
  EXPECT_EQ(second.skipped(), 9999);
  EXPECT_EQ(second.rejected(), 1);
  std::printf(
      "measured: 10000-record stream import: first pass %.0f ms (9999 applied), "
      "second pass %.0f ms (9999 skipped)\n",
      absl::ToDoubleMilliseconds(first_took), absl::ToDoubleMilliseconds(second_took));

  v1::GetComplianceReportRequest req;
  req.set_name("forces/derbyshire/complianceReport");
  req.set_course(course_.name());
  req.set_role(cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  v1::ComplianceReport report;
  ASSERT_TRUE(stub_->GetComplianceReport(Ctx().get(), req, &report).ok());
  EXPECT_EQ(report.totals().officers_in_scope(), 375);
  EXPECT_EQ(report.totals().current(), 375);  // every mandatory module passed (score >= 50)
}

}  // namespace
}  // namespace outreach::training
