// The real `training` binary: acknowledged writes survive kill -9, SIGTERM exits 0, and the
// `training_demo` loader runs twice cleanly and yields the seed article's numbers (128 frontline
// investigators completed last year's package) by construction. TLS, tokens and the shipped
// policy throughout (tests/support/process_security.h).
#include <signal.h>

#include <chrono>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "outreach/training/v1/training.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/temp_dir.h"

namespace outreach::training {
namespace {

namespace v1 = outreach::training::v1;
namespace cv1 = outreach::common::v1;
using outreach::testing::ChildProcess;
using outreach::testing::ProcessSecurity;
using ::testing::HasSubstr;

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

// The default test caller (a force administrator of the test forces), with a longer deadline
// than service_harness.h's: the demo's data makes some reports slow on a shared 2-core machine.
std::unique_ptr<grpc::ClientContext> Ctx() {
  static const std::string* token = new std::string(outreach::testing::TestToken());
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  ctx->AddMetadata("authorization", "Bearer " + *token);
  return ctx;
}

std::vector<std::string> ServerArgs(const std::string& db, ProcessSecurity& security) {
  std::vector<std::string> args{"--db-path=" + db, "--grpc-address=127.0.0.1:0",
                                "--http-address=127.0.0.1:0", "--drain-timeout=5s"};
  for (auto& flag : security.FlagsFor("training")) args.push_back(std::move(flag));
  return args;
}

class Server {
 public:
  Server(const std::string& db, ProcessSecurity& security)
      : security_(security),
        process_(Env("TRAINING_BINARY", "training"), ServerArgs(db, security)) {}
  bool Start() {
    if (!process_.Start()) return false;
    port_ = process_.WaitForLogValue("grpc_port", absl::Seconds(30));
    if (port_.empty()) return false;
    stub_ = v1::TrainingService::NewStub(security_.Channel(port_));
    return true;
  }
  v1::TrainingService::Stub& stub() { return *stub_; }
  ChildProcess& process() { return process_; }
  const std::string& port() const { return port_; }

 private:
  ProcessSecurity& security_;
  ChildProcess process_;
  std::string port_;
  std::unique_ptr<v1::TrainingService::Stub> stub_;
};

TEST(TrainingProcess, AcknowledgedWritesSurviveKillNineAndSigtermExitsZero) {
  TempDir dir;
  ProcessSecurity security(dir.File("pki"));
  const std::string db = dir.File("training.db");
  std::vector<v1::Enrolment> acknowledged;
  std::string version_name;
  {
    Server server(db, security);
    ASSERT_TRUE(server.Start()) << server.process().Stderr();
    auto& stub = server.stub();
    v1::CreateCourseRequest course;
    course.set_parent("forces/derbyshire");
    course.set_course_id("cyber");
    course.mutable_course()->set_display_name("Cybercrime package");
    course.mutable_course()->set_origin(v1::COURSE_ORIGIN_FORCE);
    course.mutable_course()->set_validity_months(24);
    v1::Course c;
    ASSERT_TRUE(stub.CreateCourse(Ctx().get(), course, &c).ok());
    v1::CreateCourseVersionRequest ver;
    ver.set_parent(c.name());
    ver.set_course_version_id("v1");
    ver.mutable_course_version()->set_display_name("v1");
    auto* m = ver.mutable_course_version()->add_modules();
    m->set_module_id("intro");
    m->set_title("Intro");
    m->set_mandatory(true);
    m->set_pass_mark(50);
    m->set_expected_duration_minutes(30);
    m->set_origin(v1::COURSE_ORIGIN_FORCE);
    v1::CourseVersion v;
    ASSERT_TRUE(stub.CreateCourseVersion(Ctx().get(), ver, &v).ok());
    v1::PublishCourseVersionRequest pub;
    pub.set_name(v.name());
    pub.set_etag(v.etag());
    ASSERT_TRUE(stub.PublishCourseVersion(Ctx().get(), pub, &v).ok());
    version_name = v.name();
    for (int i = 0; i < 20; ++i) {
      v1::CreateOfficerRequest o;
      o.set_parent("forces/derbyshire");
      o.set_officer_id(absl::StrCat("o", i));
      o.mutable_officer()->set_staff_number(absl::StrCat("S", i));
      o.mutable_officer()->set_role(cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
      o.mutable_officer()->set_division("north");
      o.mutable_officer()->set_active(true);
      v1::Officer officer;
      ASSERT_TRUE(stub.CreateOfficer(Ctx().get(), o, &officer).ok());
      v1::EnrolOfficerRequest en;
      en.set_parent("forces/derbyshire");
      en.mutable_enrolment()->set_officer(officer.name());
      en.mutable_enrolment()->set_course_version(v.name());
      v1::Enrolment e;
      ASSERT_TRUE(stub.EnrolOfficer(Ctx().get(), en, &e).ok());
      if (i % 2 == 0) {
        v1::RecordModuleResultRequest r;
        r.set_name(e.name());
        r.set_module_id("intro");
        r.set_score(80);
        *r.mutable_completed_time() = ToProtoTime(absl::Now() - absl::Hours(1));
        ASSERT_TRUE(stub.RecordModuleResult(Ctx().get(), r, &e).ok());
        EXPECT_EQ(e.state(), v1::ENROLMENT_STATE_COMPLETED);
      }
      acknowledged.push_back(e);
    }
    server.process().Signal(SIGKILL);
    EXPECT_EQ(server.process().Wait(absl::Seconds(10)), 128 + SIGKILL);
  }
  Server again(db, security);
  ASSERT_TRUE(again.Start()) << again.process().Stderr();
  for (const auto& e : acknowledged) {
    v1::GetEnrolmentRequest get;
    get.set_name(e.name());
    v1::Enrolment got;
    ASSERT_TRUE(again.stub().GetEnrolment(Ctx().get(), get, &got).ok()) << e.name();
    EXPECT_EQ(got.etag(), e.etag());
    EXPECT_EQ(got.state(), e.state());
  }
  v1::ListOfficersRequest list;
  list.set_parent("forces/derbyshire");
  v1::ListOfficersResponse officers;
  ASSERT_TRUE(again.stub().ListOfficers(Ctx().get(), list, &officers).ok());
  EXPECT_EQ(officers.total_size(), 20);
  again.process().Signal(SIGTERM);
  EXPECT_EQ(again.process().Wait(absl::Seconds(15)), 0) << again.process().Stderr();
  EXPECT_THAT(again.process().Stderr(), HasSubstr("event=stopped"));
}

// The demo loader is a client of the suite like any other: TLS and a token (common/client.h).
int RunDemo(ProcessSecurity& security, const std::string& port) {
  std::vector<std::string> args{"--target=127.0.0.1:" + port, "--force=derbyshire"};
  for (auto& flag : security.ClientFlags()) args.push_back(std::move(flag));
  ChildProcess demo(Env("TRAINING_DEMO_BINARY", "training_demo"), args);
  if (!demo.Start()) return -1;
  const int code = demo.Wait(absl::Seconds(90));
  if (code != 0) ADD_FAILURE() << demo.Stderr();
  return code;
}

TEST(TrainingProcess, DemoLoadsTwiceAndAnswersHowManyFrontlineInvestigatorsTrainedLastYear) {
  TempDir dir;
  ProcessSecurity security(dir.File("pki"));
  Server server(dir.File("training.db"), security);
  ASSERT_TRUE(server.Start()) << server.process().Stderr();
  auto& stub = server.stub();
  ASSERT_EQ(RunDemo(security, server.port()), 0);

  auto snapshot = [&] {
    v1::ListEnrolmentsRequest req;
    req.set_parent("forces/derbyshire");
    req.set_page_size(500);
    v1::ListEnrolmentsResponse out;
    EXPECT_TRUE(stub.ListEnrolments(Ctx().get(), req, &out).ok());
    std::vector<std::string> etags;
    for (const auto& e : out.enrolments()) etags.push_back(e.name() + "@" + e.etag());
    return etags;
  };
  const auto first = snapshot();
  EXPECT_EQ(first.size(), 138u + 62u);             // 128 + 10 completed v1; 62 on v2
  ASSERT_EQ(RunDemo(security, server.port()), 0);  // idempotent: the second run changes nothing
  EXPECT_EQ(snapshot(), first);

  const int last_year = static_cast<int>(LocalDay(absl::Now()).year()) - 1;
  v1::GetComplianceReportRequest req;
  req.set_name("forces/derbyshire/complianceReport");
  req.set_course("forces/derbyshire/courses/cybercrime");
  req.set_role(cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  v1::ComplianceReport report;
  ASSERT_TRUE(stub.GetComplianceReport(Ctx().get(), req, &report).ok());
  int fi_last_year = -1;
  for (const auto& y : report.completions_by_year()) {
    if (y.year() == last_year && y.role() == cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR) {
      fi_last_year = y.officers();
    }
  }
  EXPECT_EQ(fi_last_year, 128);
  const auto& t = report.totals();
  EXPECT_EQ(t.officers_in_scope(), 150);
  EXPECT_EQ(t.current(), 128);
  EXPECT_EQ(t.overdue(), 4);
  EXPECT_EQ(t.in_progress(), 18);
  EXPECT_EQ(t.never_trained(), 0);

  // Staff trained per year by role (every course, every role): DMIU as well.
  v1::GetComplianceReportRequest all;
  all.set_name("forces/derbyshire/complianceReport");
  ASSERT_TRUE(stub.GetComplianceReport(Ctx().get(), all, &report).ok());
  int dmi_last_year = -1;
  for (const auto& y : report.completions_by_year()) {
    if (y.year() == last_year && y.role() == cv1::OFFICER_ROLE_DIGITAL_MEDIA_INVESTIGATOR) {
      dmi_last_year = y.officers();
    }
  }
  EXPECT_EQ(dmi_last_year, 10);
  EXPECT_EQ(report.totals().officers_in_scope(), 150 + 12 + 30 + 6);

  // v2 is the published College of Policing package; v1 is retired.
  v1::GetCourseVersionRequest gv;
  gv.set_name("forces/derbyshire/courses/cybercrime/versions/v2");
  v1::CourseVersion v2;
  ASSERT_TRUE(stub.GetCourseVersion(Ctx().get(), gv, &v2).ok());
  EXPECT_EQ(v2.state(), v1::COURSE_VERSION_STATE_PUBLISHED);
  gv.set_name("forces/derbyshire/courses/cybercrime/versions/v1");
  ASSERT_TRUE(stub.GetCourseVersion(Ctx().get(), gv, &v2).ok());
  EXPECT_EQ(v2.state(), v1::COURSE_VERSION_STATE_RETIRED);

  server.process().Signal(SIGTERM);
  EXPECT_EQ(server.process().Wait(absl::Seconds(15)), 0);
}

}  // namespace
}  // namespace outreach::training
