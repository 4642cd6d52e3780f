// The real `workshops` binary: acknowledged writes survive kill -9 and a restart on the same
// file; SIGTERM drains and exits 0; the demo loader runs twice against it without error. The
// binary runs as in production: TLS, tokens and the shipped policy
// (tests/support/process_security.h).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/service_harness.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace outreach::workshops {
namespace {

namespace wv1 = ::outreach::workshops::v1;
namespace cv1 = ::outreach::common::v1;
using ::outreach::testing::AnonymousCtx;
using ::outreach::testing::ChildProcess;
using ::outreach::testing::Ctx;
using ::outreach::testing::ProcessSecurity;
using ::testing::HasSubstr;

std::string Binary(const char* env, const char* fallback) {
  const char* path = std::getenv(env);
  return path != nullptr ? path : fallback;
}

std::unique_ptr<ChildProcess> StartServer(const TempDir& dir, ProcessSecurity& security,
                                          std::string* port) {
  std::vector<std::string> args{"--db-path=" + dir.File("workshops.db"),
                                "--grpc-address=127.0.0.1:0", "--http-address=off",
                                "--drain-timeout=5s"};
  for (auto& flag : security.FlagsFor("workshops")) args.push_back(std::move(flag));
  auto server = std::make_unique<ChildProcess>(Binary("OUTREACH_WORKSHOPS", "workshops"), args);
  EXPECT_TRUE(server->Start());
  *port = server->WaitForLogValue("grpc_port", absl::Seconds(30));
  EXPECT_FALSE(port->empty()) << server->Stderr();
  return server;
}

std::unique_ptr<wv1::WorkshopsService::Stub> Connect(ProcessSecurity& security,
                                                     const std::string& port) {
  return wv1::WorkshopsService::NewStub(security.Channel(port));
}

TEST(WorkshopsProcess, AcknowledgedWritesSurviveKillNine) {
  TempDir dir;
  ProcessSecurity security(dir.File("pki"));
  std::string port;
  auto server = StartServer(dir, security, &port);
  ASSERT_FALSE(port.empty());
  auto stub = Connect(security, port);

  wv1::CreateVenueRequest cv;
  cv.set_parent("forces/derbyshire");
  cv.set_venue_id("example-academy");
  cv.mutable_venue()->set_display_name("Example Academy, Derby");
  cv.mutable_venue()->set_kind(cv1::VENUE_KIND_SECONDARY);
  cv.mutable_venue()->set_area("derby-city");
  cv.mutable_venue()->set_pupil_roll(800);
  wv1::Venue venue;
  ASSERT_TRUE(stub->CreateVenue(Ctx().get(), cv, &venue).ok());

  wv1::CreatePresenterRequest cp;
  cp.set_parent("forces/derbyshire");
  cp.set_presenter_id("dmiu-coordinator");
  cp.mutable_presenter()->set_display_name("Digital Media Coordinator");
  cp.mutable_presenter()->set_team(cv1::PRESENTER_TEAM_DIGITAL_MEDIA_INVESTIGATION_UNIT);
  wv1::Presenter presenter;
  ASSERT_TRUE(stub->CreatePresenter(Ctx().get(), cp, &presenter).ok());
  wv1::GrantAccreditationRequest grant;
  grant.set_name(presenter.name());
  grant.set_etag(presenter.etag());
  *grant.mutable_expire_time() = ToProtoTime(absl::Now() + absl::Hours(24 * 300));
  ASSERT_TRUE(stub->GrantAccreditation(Ctx().get(), grant, &presenter).ok());

  wv1::CreateTopicRequest ct;
  ct.set_parent("forces/derbyshire");
  ct.set_topic_id("sexting-ks3");
  ct.mutable_topic()->set_display_name("Sexting: think before you send");
  ct.mutable_topic()->set_category(wv1::TOPIC_CATEGORY_SEXTING);
  ct.mutable_topic()->set_min_year_group(7);
  ct.mutable_topic()->set_max_year_group(9);
  ct.mutable_topic()->set_suitable_for_pupils(true);
  ct.mutable_topic()->set_version("2025.1");
  wv1::Topic topic;
  ASSERT_TRUE(stub->CreateTopic(Ctx().get(), ct, &topic).ok());

  // A session that started two hours ago, delivered now.
  wv1::ScheduleWorkshopRequest sw;
  sw.set_parent("forces/derbyshire");
  sw.set_workshop_id("y8-sexting");
  auto* w = sw.mutable_workshop();
  w->set_title("Year 8 sexting lesson");
  w->set_venue(venue.name());
  const absl::Time start = absl::Now() - absl::Hours(2);
  *w->mutable_start_time() = ToProtoTime(start);
  *w->mutable_end_time() = ToProtoTime(start + absl::Hours(1));
  w->set_format(cv1::WORKSHOP_FORMAT_LESSON);
  w->add_audiences(cv1::WORKSHOP_AUDIENCE_PUPILS);
  w->add_year_groups(8);
  w->add_topics(topic.name());
  w->add_presenters(presenter.name());
  wv1::Workshop workshop;
  ASSERT_TRUE(stub->ScheduleWorkshop(Ctx().get(), sw, &workshop).ok());
  wv1::DeliverWorkshopRequest dw;
  dw.set_name(workshop.name());
  dw.set_etag(workshop.etag());
  dw.mutable_delivery()->set_actual_duration_minutes(50);
  auto* y8 = dw.mutable_delivery()->mutable_headcount()->add_pupils();
  y8->set_year_group(8);
  y8->set_pupils(28);
  dw.set_request_id("deliver-y8");
  wv1::Workshop delivered;
  ASSERT_TRUE(stub->DeliverWorkshop(Ctx().get(), dw, &delivered).ok());

  server->Signal(SIGKILL);
  EXPECT_EQ(server->Wait(absl::Seconds(10)), 128 + SIGKILL);

  auto again = StartServer(dir, security, &port);
  ASSERT_FALSE(port.empty());
  stub = Connect(security, port);
  wv1::GetWorkshopRequest gw;
  gw.set_name(workshop.name());
  wv1::Workshop got;
  ASSERT_TRUE(stub->GetWorkshop(Ctx().get(), gw, &got).ok());
  EXPECT_EQ(got.state(), wv1::WORKSHOP_STATE_DELIVERED);
  EXPECT_EQ(got.etag(), delivered.etag());
  EXPECT_EQ(got.delivery().headcount().pupils(0).pupils(), 28);
  wv1::GetPresenterRequest gp;
  gp.set_name(presenter.name());
  wv1::Presenter p;
  ASSERT_TRUE(stub->GetPresenter(Ctx().get(), gp, &p).ok());
  EXPECT_EQ(p.accreditation().state(), cv1::ACCREDITATION_STATE_ACCREDITED);
  // The request_id ledger survived too: the retry returns the same delivery.
  wv1::Workshop retried;
  ASSERT_TRUE(stub->DeliverWorkshop(Ctx().get(), dw, &retried).ok());
  EXPECT_EQ(retried.etag(), delivered.etag());
  wv1::GetCoverageRequest cov;
  cov.set_name("forces/derbyshire/coverage");
  cov.set_academic_year(AcademicYearOf(LocalDay(absl::Now() - absl::Minutes(10))));
  wv1::Coverage coverage;
  ASSERT_TRUE(stub->GetCoverage(Ctx().get(), cov, &coverage).ok());
  EXPECT_EQ(coverage.schools_total(), 1);

  again->Signal(SIGTERM);
  EXPECT_EQ(again->Wait(absl::Seconds(15)), 0) << again->Stderr();
  EXPECT_THAT(again->Stderr(), HasSubstr("event=stopped"));
}

// Runs a command to completion; returns its exit code (-1 if it could not start).
int RunToExit(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(WorkshopsProcess, HealthServingDemoLoadsTwiceAndSigtermExitsZero) {
  TempDir dir;
  ProcessSecurity security(dir.File("pki"));
  std::string port;
  auto server = StartServer(dir, security, &port);
  ASSERT_FALSE(port.empty());
  {
    auto health = grpc::health::v1::Health::NewStub(security.Channel(port));
    grpc::health::v1::HealthCheckRequest hreq;
    hreq.set_service("outreach.workshops.v1.WorkshopsService");
    grpc::health::v1::HealthCheckResponse hresp;
    // Health stays open: a caller with no token is answered.
    ASSERT_TRUE(health->Check(AnonymousCtx().get(), hreq, &hresp).ok());
    EXPECT_EQ(hresp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  {
    wv1::ListWorkshopsRequest anonymous;
    anonymous.set_parent("forces/derbyshire");
    wv1::ListWorkshopsResponse refused;
    EXPECT_EQ(Connect(security, port)
                  ->ListWorkshops(AnonymousCtx().get(), anonymous, &refused)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // The demo loader is a client of the suite like any other: TLS and a token (common/client.h).
  std::vector<std::string> demo = {Binary("OUTREACH_WORKSHOPS_DEMO", "workshops_demo"),
                                   "--target=127.0.0.1:" + port, "--force=derbyshire"};
  for (auto& flag : security.ClientFlags()) demo.push_back(std::move(flag));
  EXPECT_EQ(RunToExit(demo), 0);
  auto stub = Connect(security, port);
  wv1::ListWorkshopsRequest lw;
  lw.set_parent("forces/derbyshire");
  wv1::ListWorkshopsResponse first;
  ASSERT_TRUE(stub->ListWorkshops(Ctx().get(), lw, &first).ok());
  EXPECT_GT(first.total_size(), 0);
  EXPECT_EQ(RunToExit(demo), 0);  // idempotent
  wv1::ListWorkshopsResponse second;
  ASSERT_TRUE(stub->ListWorkshops(Ctx().get(), lw, &second).ok());
  EXPECT_EQ(second.total_size(), first.total_size());
  lw.set_filter("state = WORKSHOP_STATE_DELIVERED");
  ASSERT_TRUE(stub->ListWorkshops(Ctx().get(), lw, &second).ok());
  EXPECT_GT(second.total_size(), 0);

  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(absl::Seconds(15)), 0) << server->Stderr();
}

}  // namespace
}  // namespace outreach::workshops

namespace outreach::workshops {
namespace {

// Plaintext is for development on this host: asked to listen in plaintext on every interface,
// the binary refuses to start with one line and exit code 2, as for any unusable setting.
TEST(WorkshopsProcess, PlaintextOffLoopbackRefusesToStart) {
  TempDir dir;
  ChildProcess server(
      Binary("OUTREACH_WORKSHOPS", "workshops"),
      {"--db-path=" + dir.File("workshops.db"), "--grpc-address=0.0.0.0:0", "--http-address=off",
       "--plaintext", "--policy-file=" + outreach::testing::PolicyFile()});
  ASSERT_TRUE(server.Start());
  EXPECT_EQ(server.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(server.Stderr(), HasSubstr("not a loopback address"));
}

}  // namespace
}  // namespace outreach::workshops
