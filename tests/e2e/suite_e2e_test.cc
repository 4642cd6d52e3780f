// The suite end to end: real `redis-server`, `metrics` and `workshops` binaries as processes on
// loopback. A scripted scenario goes through the public gRPC APIs; the dashboard served by
// metrics must then equal the totals computed here from the scenario, exactly — also when
// metrics is down for the whole scenario, when workshops is killed -9 half-way, and when Redis
// stops mid-scenario. Everything runs as in production: TLS on every port, the scenario's calls
// carry a token, and the services publish to metrics over mutual TLS with their own
// certificates (tests/support/process_security.h).
#include <httplib.h>
#include <signal.h>

#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "outreach/campaigns/v1/campaigns.grpc.pb.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "outreach/training/v1/training.grpc.pb.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/service_harness.h"
#include "tests/support/suite_processes.h"
#include "tests/support/suite_requests.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace outreach {
namespace {

using outreach::testing::ChildProcess;
using outreach::testing::Ctx;
using outreach::testing::ProcessSecurity;
using outreach::testing::WaitFor;
namespace requests = outreach::testing::requests;
namespace ws = outreach::workshops::v1;
namespace mt = outreach::metrics::v1;
namespace tr = outreach::training::v1;
namespace cp = outreach::campaigns::v1;
namespace cm = outreach::common::v1;

constexpr char kForce[] = "forces/derbyshire";

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

struct Totals {
  int64_t delivered = 0;
  int64_t pupils = 0;
  int64_t parents = 0;
  int64_t staff = 0;
  int64_t disclosures = 0;
};

class Suite : public ::testing::Test {
 protected:
  void SetUp() override {
    base_time_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 60 * 60);
    redis_port_ = ::outreach::testing::FreeLoopbackPort();
    metrics_port_ = ::outreach::testing::FreeLoopbackPort();
    workshops_port_ = ::outreach::testing::FreeLoopbackPort();
    StartRedis();
    StartMetrics();
    StartWorkshops();
  }

  void StartRedis() {
    redis_ = std::make_unique<ChildProcess>(
        Env("OUTREACH_REDIS_SERVER", "/usr/bin/redis-server"),
        std::vector<std::string>{"--port", std::to_string(redis_port_), "--bind", "127.0.0.1",
                                 "--dir", dir_.path(), "--save", "", "--appendonly", "no",
                                 "--logfile", dir_.File("redis.log")});
    ASSERT_TRUE(redis_->Start());
    ASSERT_TRUE(WaitFor([&] { return ::outreach::testing::LoopbackPortAnswers(redis_port_); }));
  }

  void StopRedis() {
    redis_->Signal(SIGKILL);
    redis_->Wait(absl::Seconds(5));
  }

  // `fixed` (--grpc-address …) and then the binary's security flags.
  std::vector<std::string> ArgsFor(const std::string& service, std::vector<std::string> fixed) {
    for (auto& flag : security_.FlagsFor(service)) fixed.push_back(std::move(flag));
    return fixed;
  }

  void StartMetrics() {
    metrics_ = std::make_unique<ChildProcess>(
        Env("OUTREACH_METRICS_BIN", "metrics"),
        ArgsFor("metrics", {absl::StrCat("--grpc-address=127.0.0.1:", metrics_port_),
                            "--http-address=off", "--db-path=" + dir_.File("metrics.db"),
                            absl::StrCat("--redis-address=127.0.0.1:", redis_port_)}));
    ASSERT_TRUE(metrics_->Start());
    ASSERT_FALSE(metrics_->WaitForLogValue("grpc_port", absl::Seconds(20)).empty())
        << metrics_->Stderr();
    metrics_stub_ = mt::MetricsService::NewStub(security_.Channel(absl::StrCat(metrics_port_)));
  }

  void StartWorkshops() {
    workshops_ = std::make_unique<ChildProcess>(
        Env("OUTREACH_WORKSHOPS_BIN", "workshops"),
        ArgsFor("workshops",
                {absl::StrCat("--grpc-address=127.0.0.1:", workshops_port_),
                 "--http-address=127.0.0.1:0", "--db-path=" + dir_.File("workshops.db"),
                 absl::StrCat("--metrics-address=127.0.0.1:", metrics_port_)}));
    ASSERT_TRUE(workshops_->Start());
    ASSERT_FALSE(workshops_->WaitForLogValue("grpc_port", absl::Seconds(20)).empty())
        << workshops_->Stderr();
    // Its /metrics tells when its outbox is empty (see WorkshopsBacklog).
    ASSERT_TRUE(absl::SimpleAtoi(workshops_->WaitForLogValue("http_port", absl::Seconds(20)),
                                 &workshops_http_port_))
        << workshops_->Stderr();
    workshops_stub_ =
        ws::WorkshopsService::NewStub(security_.Channel(absl::StrCat(workshops_port_)));
  }

  // Starts another domain service binary (training, campaigns) publishing to metrics.
  std::shared_ptr<grpc::Channel> StartDomain(const char* env, const std::string& name,
                                             std::unique_ptr<ChildProcess>* process) {
    const int port = ::outreach::testing::FreeLoopbackPort();
    *process = std::make_unique<ChildProcess>(
        Env(env, name.c_str()),
        ArgsFor(name, {absl::StrCat("--grpc-address=127.0.0.1:", port), "--http-address=off",
                       "--db-path=" + dir_.File(name + ".db"),
                       absl::StrCat("--metrics-address=127.0.0.1:", metrics_port_)}));
    EXPECT_TRUE((*process)->Start());
    EXPECT_FALSE((*process)->WaitForLogValue("grpc_port", absl::Seconds(20)).empty())
        << (*process)->Stderr();
    return security_.Channel(absl::StrCat(port));
  }

  void Kill(std::unique_ptr<ChildProcess>& process) {
    process->Signal(SIGKILL);
    EXPECT_EQ(process->Wait(absl::Seconds(10)), 128 + SIGKILL);
  }

  void Stop(std::unique_ptr<ChildProcess>& process) {
    process->Signal(SIGTERM);
    EXPECT_EQ(process->Wait(absl::Seconds(15)), 0) << process->Stderr();
  }

  // The catalogue the workshops need: two schools, an accredited presenter, a topic.
  void CreateCatalogue() {
    for (const auto& [id, roll] :
         {std::pair<std::string, int>{"example-academy", 1200}, {"sample-primary", 300}}) {
      ws::Venue venue;
      ASSERT_TRUE(
          workshops_stub_
              ->CreateVenue(Ctx().get(), requests::School(kForce, id, roll, "derby-city"), &venue)
              .ok());
    }
    ws::Presenter presenter;
    ASSERT_TRUE(workshops_stub_
                    ->CreatePresenter(Ctx().get(),
                                      requests::Presenter(kForce, "snt-officer-1",
                                                          "Safer Neighbourhood officer 1"),
                                      &presenter)
                    .ok());
    grpc::Status granted = workshops_stub_->GrantAccreditation(
        Ctx().get(), requests::Grant(presenter, absl::Now() + absl::Hours(24 * 365)), &presenter);
    ASSERT_TRUE(granted.ok()) << granted.error_message();
    ws::Topic topic;
    grpc::Status created =
        workshops_stub_->CreateTopic(Ctx().get(), requests::SextingTopic(kForce), &topic);
    ASSERT_TRUE(created.ok()) << created.error_message();
  }

  // Schedules and delivers workshop `i` (hours in the past, one hour long) and adds what it
  // delivered to `expected`. Retries are safe: both calls carry request ids.
  void DeliverWorkshop(int i, Totals* expected) {
    const std::string id = absl::StrCat("session-", i);
    // Derived from a time fixed at set-up, so that a retry sends exactly the same request.
    const absl::Time start = base_time_ - absl::Hours(2 * (i + 2));
    ws::ScheduleWorkshopRequest sreq;
    sreq.set_parent(kForce);
    sreq.set_workshop_id(id);
    sreq.set_request_id("schedule-" + id);
    ws::Workshop* w = sreq.mutable_workshop();
    w->set_title(absl::StrCat("Staying safe online, session ", i));
    w->set_venue(i % 2 == 0 ? "forces/derbyshire/venues/example-academy"
                            : "forces/derbyshire/venues/sample-primary");
    *w->mutable_start_time() = ToProtoTime(start);
    *w->mutable_end_time() = ToProtoTime(start + absl::Hours(1));
    w->set_format(cm::WORKSHOP_FORMAT_WORKSHOP);
    w->add_audiences(cm::WORKSHOP_AUDIENCE_PUPILS);
    w->add_audiences(cm::WORKSHOP_AUDIENCE_PARENTS);
    w->add_audiences(cm::WORKSHOP_AUDIENCE_STAFF);
    w->add_year_groups(i % 2 == 0 ? 8 : 6);
    w->add_topics("forces/derbyshire/topics/sexting");
    w->add_presenters("forces/derbyshire/presenters/snt-officer-1");
    ws::Workshop scheduled;
    grpc::Status s = workshops_stub_->ScheduleWorkshop(Ctx().get(), sreq, &scheduled);
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();

    ws::DeliverWorkshopRequest dreq;
    dreq.set_name(scheduled.name());
    dreq.set_etag(scheduled.etag());
    dreq.set_request_id("deliver-" + id);
    ws::DeliveryRecord* d = dreq.mutable_delivery();
    *d->mutable_delivered_time() = ToProtoTime(start + absl::Minutes(55));
    d->set_actual_duration_minutes(55);
    const int pupils = 20 + 3 * i;
    auto* yg = d->mutable_headcount()->add_pupils();
    yg->set_year_group(i % 2 == 0 ? 8 : 6);
    yg->set_pupils(pupils);
    d->mutable_headcount()->set_parents(i);
    d->mutable_headcount()->set_staff(2);
    d->set_safeguarding_disclosures(i % 3 == 0 ? 1 : 0);
    if (i % 3 == 0) d->add_referral_references(absl::StrCat("REF-", 1000 + i));
    ws::Workshop delivered;
    s = workshops_stub_->DeliverWorkshop(Ctx().get(), dreq, &delivered);
    ASSERT_TRUE(s.ok()) << s.error_message();
    expected->delivered += 1;
    expected->pupils += pupils;
    expected->parents += i;
    expected->staff += 2;
    expected->disclosures += i % 3 == 0 ? 1 : 0;
  }

  std::optional<mt::Dashboard> Dashboard() {
    mt::GetDashboardRequest req;
    req.set_name("forces/derbyshire/dashboard");
    req.mutable_period()->set_kind(mt::PERIOD_KIND_ACADEMIC_YEAR);
    *req.mutable_period()->mutable_anchor_date() = ToProtoDate(LocalDay(absl::Now()));
    mt::Dashboard out;
    if (!metrics_stub_->GetDashboard(Ctx().get(), req, &out).ok()) return std::nullopt;
    return out;
  }

  // Events the workshops outbox has not yet had acknowledged, from the outreach_outbox_backlog
  // gauge on its /metrics; -1 while that does not answer.
  int64_t WorkshopsBacklog() { return ::outreach::testing::OutboxBacklog(workshops_http_port_); }

  // Polls until the dashboard shows `expected.delivered` workshops (or 30 s pass), then checks
  // every total exactly.
  void ExpectDashboard(const Totals& expected) {
    std::optional<mt::Dashboard> d;
    WaitFor(
        [&] {
          d = Dashboard();
          return d && d->workshops().workshops_delivered() >= expected.delivered;
        },
        absl::Seconds(30));
    ASSERT_TRUE(d.has_value()) << "metrics never answered GetDashboard";
    EXPECT_EQ(d->workshops().workshops_delivered(), expected.delivered);
    EXPECT_EQ(d->workshops().pupils_reached(), expected.pupils);
    EXPECT_EQ(d->workshops().parents_reached(), expected.parents);
    EXPECT_EQ(d->workshops().staff_reached(), expected.staff);
    EXPECT_EQ(d->workshops().safeguarding_disclosures(), expected.disclosures);
    EXPECT_EQ(d->workshops().schools_total(), 2);
    EXPECT_EQ(d->workshops().schools_covered(), expected.delivered >= 2 ? 2 : expected.delivered);
    // Still exact once workshops has nothing left to send, so no late resend can still come:
    // nothing arrives twice.
    ASSERT_TRUE(WaitFor([&] { return WorkshopsBacklog() == 0; }, absl::Seconds(30)))
        << "workshops outbox backlog: " << WorkshopsBacklog();
    auto again = Dashboard();
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->workshops().workshops_delivered(), expected.delivered);
    EXPECT_EQ(again->workshops().pupils_reached(), expected.pupils);
  }

  TempDir dir_;
  ProcessSecurity security_{dir_.File("pki")};
  absl::Time base_time_;
  std::unique_ptr<ChildProcess> training_;
  std::unique_ptr<ChildProcess> campaigns_;
  int redis_port_ = 0;
  int metrics_port_ = 0;
  int workshops_port_ = 0;
  int workshops_http_port_ = 0;
  std::unique_ptr<ChildProcess> redis_;
  std::unique_ptr<ChildProcess> metrics_;
  std::unique_ptr<ChildProcess> workshops_;
  std::unique_ptr<mt::MetricsService::Stub> metrics_stub_;
  std::unique_ptr<ws::WorkshopsService::Stub> workshops_stub_;
};

TEST_F(Suite, DeliveriesShowUpOnTheDashboardExactlyOnce) {
  CreateCatalogue();
  Totals expected;
  for (int i = 0; i < 8; ++i) DeliverWorkshop(i, &expected);
  ExpectDashboard(expected);
  Stop(workshops_);
  Stop(metrics_);
}

// Training: officers who pass every mandatory module of a published version are trained.
int64_t TrainOfficers(tr::TrainingService::Stub& stub, int count, absl::Time now) {
  tr::Course created;
  grpc::Status s = stub.CreateCourse(
      Ctx().get(), requests::CybercrimeCourse(kForce, "cybercrime-investigation"), &created);
  EXPECT_TRUE(s.ok()) << s.error_message();
  tr::CourseVersion v;
  s = stub.CreateCourseVersion(
      Ctx().get(),
      requests::CourseVersion(created.name(), "v2", {"sexting-law", "digital-evidence"}), &v);
  EXPECT_TRUE(s.ok()) << s.error_message();
  s = stub.PublishCourseVersion(Ctx().get(), requests::Publish(v), &v);
  EXPECT_TRUE(s.ok()) << s.error_message();
  int64_t trained = 0;
  for (int i = 0; i < count; ++i) {
    tr::Officer o;
    s = stub.CreateOfficer(Ctx().get(), requests::Officer(kForce, i), &o);
    EXPECT_TRUE(s.ok()) << s.error_message();
    const tr::EnrolOfficerRequest enrol = requests::Enrol(kForce, i, o.name(), v.name());
    tr::Enrolment e;
    s = stub.EnrolOfficer(Ctx().get(), enrol, &e);
    EXPECT_TRUE(s.ok()) << s.error_message();
    // Every third officer passes only the first module: enrolled, not trained.
    for (const char* module : {"sexting-law", "digital-evidence"}) {
      if (i % 3 == 2 && std::string(module) == "digital-evidence") break;
      tr::RecordModuleResultRequest result;
      result.set_name(e.name());
      result.set_module_id(module);
      result.set_score(85);
      result.set_passed(true);
      *result.mutable_completed_time() = ToProtoTime(now - absl::Hours(1));
      s = stub.RecordModuleResult(Ctx().get(), result, &e);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    if (i % 3 != 2) ++trained;
  }
  return trained;
}

// Campaigns: one published activity, five days reported, the first day re-sent with new
// numbers (which must replace, not add). Returns the impressions the dashboard must show.
int64_t RunCampaign(cp::CampaignsService::Stub& stub, absl::Time now) {
  const absl::CivilDay today = LocalDay(now);
  const cp::CreateCampaignRequest create =
      requests::ResidentsCampaign(kForce, today - 10, today + 30);
  cp::Campaign campaign;
  grpc::Status s = stub.CreateCampaign(Ctx().get(), create, &campaign);
  EXPECT_TRUE(s.ok()) << s.error_message();
  cp::ScheduleCampaignRequest schedule;
  schedule.set_name(campaign.name());
  schedule.set_etag(campaign.etag());
  s = stub.ScheduleCampaign(Ctx().get(), schedule, &campaign);
  EXPECT_TRUE(s.ok()) << s.error_message();
  cp::ActivateCampaignRequest activate;
  activate.set_name(campaign.name());
  activate.set_etag(campaign.etag());
  s = stub.ActivateCampaign(Ctx().get(), activate, &campaign);
  EXPECT_TRUE(s.ok()) << s.error_message();
  cp::CreateActivityRequest activity;
  activity.set_parent(campaign.name());
  activity.set_activity_id("facebook-launch");
  activity.set_request_id("activity-1");
  activity.mutable_activity()->set_title("Launch post");
  activity.mutable_activity()->set_channel(cm::CHANNEL_FACEBOOK);
  activity.mutable_activity()->set_message_text("Sexting: know the risks, know who to tell.");
  activity.mutable_activity()->set_link_uri("https://www.example.org/online-safety");
  *activity.mutable_activity()->mutable_scheduled_time() =
      ToProtoTime(StartOfLocalDay(today - 8) + absl::Hours(10));
  cp::Activity a;
  s = stub.CreateActivity(Ctx().get(), activity, &a);
  EXPECT_TRUE(s.ok()) << s.error_message();
  cp::PublishActivityRequest publish;
  publish.set_name(a.name());
  publish.set_etag(a.etag());
  *publish.mutable_publish_time() = ToProtoTime(StartOfLocalDay(today - 8) + absl::Hours(10));
  s = stub.PublishActivity(Ctx().get(), publish, &a);
  EXPECT_TRUE(s.ok()) << s.error_message();

  int64_t impressions = 0;
  cp::ReportEngagementRequest report;
  report.set_parent(campaign.name());
  for (int d = 1; d <= 5; ++d) {
    cp::EngagementReport* r = report.add_reports();
    r->set_activity(a.name());
    *r->mutable_day() = ToProtoDate(today - (8 - d));
    r->set_impressions(int64_t{1000} * d);
    r->set_reach(int64_t{600} * d);
    r->set_engagements(int64_t{30} * d);
    r->set_clicks(int64_t{10} * d);
    impressions += int64_t{1000} * d;
  }
  cp::ReportEngagementResponse response;
  s = stub.ReportEngagement(Ctx().get(), report, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // The platform corrects day 1: 1000 -> 1500 impressions. Replace, never add.
  cp::ReportEngagementRequest resend;
  resend.set_parent(campaign.name());
  *resend.add_reports() = report.reports(0);
  resend.mutable_reports(0)->set_impressions(1500);
  s = stub.ReportEngagement(Ctx().get(), resend, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return impressions + 500;
}

TEST_F(Suite, AllFourServicesReachTheDashboardExactly) {
  auto training =
      tr::TrainingService::NewStub(StartDomain("OUTREACH_TRAINING_BIN", "training", &training_));
  auto campaigns = cp::CampaignsService::NewStub(
      StartDomain("OUTREACH_CAMPAIGNS_BIN", "campaigns", &campaigns_));
  CreateCatalogue();
  Totals expected;
  for (int i = 0; i < 4; ++i) DeliverWorkshop(i, &expected);
  const int64_t trained = TrainOfficers(*training, 9, base_time_);
  const int64_t impressions = RunCampaign(*campaigns, base_time_);
  ExpectDashboard(expected);
  std::optional<mt::Dashboard> d;
  WaitFor(
      [&] {
        d = Dashboard();
        return d && d->training().officers_trained() >= trained &&
               d->campaigns().impressions() >= impressions;
      },
      absl::Seconds(30));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->training().officers_trained(), trained);
  EXPECT_EQ(d->training().course_completions(), trained);
  EXPECT_EQ(d->training().enrolments_created(), 9);
  EXPECT_EQ(d->campaigns().impressions(), impressions);
  EXPECT_EQ(d->campaigns().activities_published(), 1);
  Stop(training_);
  Stop(campaigns_);
}

TEST_F(Suite, MetricsDownForTheWholeScenarioLosesNothing) {
  Kill(metrics_);
  CreateCatalogue();
  Totals expected;
  for (int i = 0; i < 8; ++i) DeliverWorkshop(i, &expected);
  // The publisher has tried, failed and is backing off once it logs outbox_publish_failed (the
  // only line with backlog=); then metrics comes back.
  ASSERT_FALSE(workshops_->WaitForLogValue("backlog", absl::Seconds(20)).empty())
      << workshops_->Stderr();
  StartMetrics();
  ExpectDashboard(expected);
}

TEST_F(Suite, WorkshopsKilledMidScenarioLosesAndDoublesNothing) {
  CreateCatalogue();
  Totals expected;
  for (int i = 0; i < 4; ++i) DeliverWorkshop(i, &expected);
  Kill(workshops_);
  StartWorkshops();
  // A client that never heard back retries with the same request ids: no double count.
  Totals ignored;
  DeliverWorkshop(3, &ignored);
  for (int i = 4; i < 8; ++i) DeliverWorkshop(i, &expected);
  ExpectDashboard(expected);
}

TEST_F(Suite, RedisStoppedMidScenarioStillServesExactNumbers) {
  CreateCatalogue();
  Totals expected;
  for (int i = 0; i < 4; ++i) DeliverWorkshop(i, &expected);
  ExpectDashboard(expected);
  StopRedis();
  for (int i = 4; i < 8; ++i) DeliverWorkshop(i, &expected);
  ExpectDashboard(expected);
  StartRedis();
  ExpectDashboard(expected);
}

}  // namespace
}  // namespace outreach
