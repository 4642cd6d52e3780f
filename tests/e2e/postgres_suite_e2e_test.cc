// The suite with two replicas of EVERY service on PostgreSQL, end to end: real processes of
// workshops, training, campaigns and metrics (two each, each pair on one database of a private
// PostgreSQL server), one real redis-server shared by the metrics replicas. Clients reach each
// pair as one target ("ipv4:127.0.0.1:P1,127.0.0.1:P2") with gRPC's round_robin
// (common/client.h ChannelArgumentsFor), and the domain services publish to both metrics
// replicas the same way.
//
// Three writers stream writes (workshops delivered with headcounts, training completions,
// campaign engagement) while the test kill -9s one replica of every service, starts it again,
// and restarts the PostgreSQL server (pg_ctl restart -m fast: every session of every replica
// is cut). Writers retry UNAVAILABLE (and a deadline) with the same request: every write
// carries a request_id or replaces what it writes. At the end the dashboard equals exactly what
// the writers had acknowledged — nothing lost, nothing counted twice — and every outbox is
// empty, after which the dashboard is still exact (no late resend can still arrive).
//
// The server is private (not the `postgres` fixture's): a test may only restart a server it
// owns.
#include <httplib.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/client.h"
#include "gtest/gtest.h"
#include "outreach/campaigns/v1/campaigns.grpc.pb.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "outreach/training/v1/training.grpc.pb.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/redis_server.h"
#include "tests/support/replica_set.h"
#include "tests/support/service_harness.h"
#include "tests/support/suite_processes.h"
#include "tests/support/suite_requests.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace outreach {
namespace {

using outreach::testing::Ctx;
using outreach::testing::ReplicaSet;
using outreach::testing::WaitFor;
namespace requests = outreach::testing::requests;
namespace ws = outreach::workshops::v1;
namespace mt = outreach::metrics::v1;
namespace tr = outreach::training::v1;
namespace cp = outreach::campaigns::v1;
namespace cm = outreach::common::v1;

constexpr char kForce[] = "forces/derbyshire";
// Writes per writer, and the points where a writer waits for the chaos to have happened, so
// that the kills and the restart fall in the middle of the stream whatever the machine's speed.
constexpr int kWrites = 10;
constexpr int kKillBy = 5;       // the kills happen while writes 3..4 run
constexpr int kRestartedBy = 8;  // the restarts happen while writes 6..7 run

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

// What the writers were told OK, which the dashboard must show exactly.
struct Acknowledged {
  std::atomic<int64_t> delivered{0}, pupils{0}, parents{0}, disclosures{0};
  std::atomic<int64_t> enrolments{0}, completions{0};
  std::atomic<int64_t> impressions{0};
  std::atomic<int64_t> retries{0};
};

class PostgresSuite : public ::testing::Test {
 protected:
  void SetUp() override {
    began_ = absl::Now();
    base_time_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 60 * 60);
    ASSERT_TRUE(postgres_.Start()) << postgres_.Log();
    for (const char* db : {"workshops", "training", "campaigns", "metrics"}) {
      absl::Status made = ::outreach::testing::RunAdminSql(
          postgres_.url(),
          absl::StrCat("CREATE DATABASE ", db,
                       " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"));
      ASSERT_TRUE(made.ok()) << made;
    }
    Phase("postgres started");
    redis_.Start();
    ASSERT_FALSE(HasFatalFailure());
    metrics_ = Replicas("metrics", "OUTREACH_METRICS_BIN", /*http=*/false, {redis_.MetricsFlag()});
    const std::string to_metrics = "--metrics-address=" + metrics_->Target();
    workshops_ = Replicas("workshops", "OUTREACH_WORKSHOPS_BIN", true, {to_metrics});
    training_ = Replicas("training", "OUTREACH_TRAINING_BIN", true, {to_metrics});
    campaigns_ = Replicas("campaigns", "OUTREACH_CAMPAIGNS_BIN", true, {to_metrics});
    for (ReplicaSet* set : All()) {
      for (int i = 0; i < set->size(); ++i) set->Launch(i);
    }
    for (ReplicaSet* set : All()) {
      for (int i = 0; i < set->size(); ++i) {
        set->AwaitServing(i);
        if (HasFatalFailure()) return;
      }
    }
    Phase("eight replicas serving");
    workshops_stub_ = ws::WorkshopsService::NewStub(Channel(*workshops_));
    training_stub_ = tr::TrainingService::NewStub(Channel(*training_));
    campaigns_stub_ = cp::CampaignsService::NewStub(Channel(*campaigns_));
    metrics_stub_ = mt::MetricsService::NewStub(Channel(*metrics_));
  }

  void TearDown() override {
    if (HasFailure()) {
      for (ReplicaSet* set : All()) std::cout << set->Problems();
    }
    for (ReplicaSet* set : All()) set->Terminate();
    for (ReplicaSet* set : All()) set->AwaitExit();
    Phase("every replica stopped");
  }

  std::vector<ReplicaSet*> All() {
    std::vector<ReplicaSet*> out;
    for (auto* set : {&metrics_, &workshops_, &training_, &campaigns_}) {
      if (*set != nullptr) out.push_back(set->get());
    }
    return out;
  }

  std::unique_ptr<ReplicaSet> Replicas(const std::string& service, const char* env, bool http,
                                       std::vector<std::string> args) {
    args.push_back(absl::StrCat("--db-url=", postgres_.url(), "/", service));
    args.push_back("--page-token-key=suite-test-key");  // replicas share it
    return std::make_unique<ReplicaSet>(&security_, service, Env(env, service.c_str()),
                                        std::move(args), 2, http);
  }

  // A client channel as the suite's clients open one (common/client.h): TLS verifying the
  // servers, round_robin over both replicas. Calls carry their token in Ctx().
  std::shared_ptr<grpc::Channel> Channel(const ReplicaSet& set) {
    ClientSecurity client;
    client.tls_ca_file = security_.ca_file();
    auto channel = OpenChannel(set.Target(), client);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? *channel : nullptr;
  }

  // Runs `call` (which makes its own ClientContext) until it answers something other than
  // UNAVAILABLE or DEADLINE_EXCEEDED: a replica that died mid-call, or a store that is
  // restarting. Safe because every write of the scenario is idempotent (a request_id, or a
  // replacing report).
  template <typename Call>
  grpc::Status Retrying(Call call) {
    grpc::Status s;
    for (int attempt = 0; attempt < 200; ++attempt) {
      s = call();
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
          s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        return s;
      }
      ++acked_.retries;
      absl::SleepFor(absl::Milliseconds(100));  // the retry interval, not a wait for an effect
    }
    return s;
  }

  void CreateCatalogue();
  void CreateCourse();
  void CreateCampaign();
  void WriteWorkshops();
  void WriteTraining();
  void WriteCampaign();
  void ExpectDashboardExact();
  std::optional<mt::Dashboard> Dashboard();
  int64_t Backlog(const ReplicaSet& set, int replica);

  // Where the time goes, for whoever reads a slow run's output.
  void Phase(const char* what) {
    std::cout << "[" << absl::FormatDuration(absl::Now() - began_) << "] " << what << std::endl;
  }

  // A writer's way through the stream: wait for the chaos at the gates.
  void Gate(int write) {
    if (write == kKillBy) killed_.WaitForNotification();
    if (write == kRestartedBy) restarted_.WaitForNotification();
  }

  TempDir dir_;
  ::outreach::testing::ProcessSecurity security_{dir_.File("pki")};
  ::outreach::testing::PrivatePostgres postgres_;
  absl::Time began_;
  absl::Time base_time_;
  ::outreach::testing::RedisServer redis_{dir_.path()};
  std::unique_ptr<ReplicaSet> metrics_, workshops_, training_, campaigns_;
  std::unique_ptr<ws::WorkshopsService::Stub> workshops_stub_;
  std::unique_ptr<tr::TrainingService::Stub> training_stub_;
  std::unique_ptr<cp::CampaignsService::Stub> campaigns_stub_;
  std::unique_ptr<mt::MetricsService::Stub> metrics_stub_;
  std::string course_version_, activity_, campaign_;
  Acknowledged acked_;
  std::atomic<int> written_[3] = {0, 0, 0};
  absl::Notification killed_, restarted_;
};

void PostgresSuite::CreateCatalogue() {
  for (const auto& [id, roll] :
       {std::pair<std::string, int>{"example-academy", 1200}, {"sample-primary", 300}}) {
    ws::Venue venue;
    grpc::Status s = workshops_stub_->CreateVenue(
        Ctx().get(), requests::School(kForce, id, roll, "derby-city"), &venue);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ws::Presenter presenter;
  ASSERT_TRUE(workshops_stub_
                  ->CreatePresenter(
                      Ctx().get(),
                      requests::Presenter(kForce, "snt-officer-1", "Safer Neighbourhood officer 1"),
                      &presenter)
                  .ok());
  grpc::Status s = workshops_stub_->GrantAccreditation(
      Ctx().get(), requests::Grant(presenter, absl::Now() + absl::Hours(24 * 365)), &presenter);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ws::Topic topic;
  s = workshops_stub_->CreateTopic(Ctx().get(), requests::SextingTopic(kForce), &topic);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

// A published course of one mandatory module: passing it completes the enrolment.
void PostgresSuite::CreateCourse() {
  tr::Course created;
  grpc::Status s = training_stub_->CreateCourse(
      Ctx().get(), requests::CybercrimeCourse(kForce, "cybercrime-investigation"), &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  tr::CourseVersion v;
  s = training_stub_->CreateCourseVersion(
      Ctx().get(), requests::CourseVersion(created.name(), "v1", {"sexting-law"}), &v);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = training_stub_->PublishCourseVersion(Ctx().get(), requests::Publish(v), &v);
  ASSERT_TRUE(s.ok()) << s.error_message();
  course_version_ = v.name();
}

// An active campaign with one activity published `kWrites + 1` days ago.
void PostgresSuite::CreateCampaign() {
  const absl::CivilDay today = LocalDay(base_time_);
  const cp::CreateCampaignRequest create =
      requests::ResidentsCampaign(kForce, today - (kWrites + 2), today + 30);
  cp::Campaign campaign;
  grpc::Status s = campaigns_stub_->CreateCampaign(Ctx().get(), create, &campaign);
  ASSERT_TRUE(s.ok()) << s.error_message();
  cp::ScheduleCampaignRequest schedule;
  schedule.set_name(campaign.name());
  schedule.set_etag(campaign.etag());
  s = campaigns_stub_->ScheduleCampaign(Ctx().get(), schedule, &campaign);
  ASSERT_TRUE(s.ok()) << s.error_message();
  cp::ActivateCampaignRequest activate;
  activate.set_name(campaign.name());
  activate.set_etag(campaign.etag());
  s = campaigns_stub_->ActivateCampaign(Ctx().get(), activate, &campaign);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const absl::Time published = StartOfLocalDay(today - (kWrites + 1)) + absl::Hours(10);
  cp::CreateActivityRequest activity;
  activity.set_parent(campaign.name());
  activity.set_activity_id("facebook-launch");
  activity.set_request_id("activity-1");
  activity.mutable_activity()->set_title("Launch post");
  activity.mutable_activity()->set_channel(cm::CHANNEL_FACEBOOK);
  activity.mutable_activity()->set_message_text("Sexting: know the risks, know who to tell.");
  activity.mutable_activity()->set_link_uri("https://www.example.org/online-safety");
  *activity.mutable_activity()->mutable_scheduled_time() = ToProtoTime(published);
  cp::Activity a;
  s = campaigns_stub_->CreateActivity(Ctx().get(), activity, &a);
  ASSERT_TRUE(s.ok()) << s.error_message();
  cp::PublishActivityRequest publish;
  publish.set_name(a.name());
  publish.set_etag(a.etag());
  *publish.mutable_publish_time() = ToProtoTime(published);
  s = campaigns_stub_->PublishActivity(Ctx().get(), publish, &a);
  ASSERT_TRUE(s.ok()) << s.error_message();
  campaign_ = campaign.name();
  activity_ = a.name();
}

// Workshop i: scheduled i+2 × 2 hours ago, delivered with its headcount.
void PostgresSuite::WriteWorkshops() {
  for (int i = 0; i < kWrites; ++i) {
    Gate(i);
    const std::string id = absl::StrCat("session-", i);
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
    w->add_year_groups(i % 2 == 0 ? 8 : 6);
    w->add_topics("forces/derbyshire/topics/sexting");
    w->add_presenters("forces/derbyshire/presenters/snt-officer-1");
    ws::Workshop scheduled;
    grpc::Status s =
        Retrying([&] { return workshops_stub_->ScheduleWorkshop(Ctx().get(), sreq, &scheduled); });
    ASSERT_TRUE(s.ok()) << id << ": " << s.error_code() << " " << s.error_message();
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
    d->set_safeguarding_disclosures(i % 3 == 0 ? 1 : 0);
    if (i % 3 == 0) d->add_referral_references(absl::StrCat("REF-", 1000 + i));
    ws::Workshop delivered;
    s = Retrying([&] { return workshops_stub_->DeliverWorkshop(Ctx().get(), dreq, &delivered); });
    ASSERT_TRUE(s.ok()) << id << ": " << s.error_code() << " " << s.error_message();
    acked_.delivered += 1;
    acked_.pupils += pupils;
    acked_.parents += i;
    acked_.disclosures += i % 3 == 0 ? 1 : 0;
    ++written_[0];
  }
}

// Officer i: created, enrolled, passes the one module (completing the course).
void PostgresSuite::WriteTraining() {
  for (int i = 0; i < kWrites; ++i) {
    Gate(i);
    const tr::CreateOfficerRequest officer = requests::Officer(kForce, i);
    tr::Officer o;
    grpc::Status s =
        Retrying([&] { return training_stub_->CreateOfficer(Ctx().get(), officer, &o); });
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_code() << " " << s.error_message();
    const tr::EnrolOfficerRequest enrol = requests::Enrol(kForce, i, o.name(), course_version_);
    tr::Enrolment e;
    s = Retrying([&] { return training_stub_->EnrolOfficer(Ctx().get(), enrol, &e); });
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_code() << " " << s.error_message();
    ++acked_.enrolments;
    // A result already held changes nothing, so a retry is safe without a request_id.
    tr::RecordModuleResultRequest result;
    result.set_name(e.name());
    result.set_module_id("sexting-law");
    result.set_score(85);
    result.set_passed(true);
    *result.mutable_completed_time() = ToProtoTime(base_time_ - absl::Hours(1));
    s = Retrying([&] { return training_stub_->RecordModuleResult(Ctx().get(), result, &e); });
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_code() << " " << s.error_message();
    EXPECT_EQ(e.state(), tr::ENROLMENT_STATE_COMPLETED) << e.DebugString();
    ++acked_.completions;
    ++written_[1];
  }
}

// Day i after the launch: a report that replaces whatever that day had.
void PostgresSuite::WriteCampaign() {
  const absl::CivilDay first = LocalDay(base_time_) - kWrites;
  for (int i = 0; i < kWrites; ++i) {
    Gate(i);
    cp::ReportEngagementRequest report;
    report.set_parent(campaign_);
    cp::EngagementReport* r = report.add_reports();
    r->set_activity(activity_);
    *r->mutable_day() = ToProtoDate(first + i);
    r->set_impressions(int64_t{1000} * (i + 1));
    r->set_reach(int64_t{600} * (i + 1));
    r->set_engagements(int64_t{30} * (i + 1));
    r->set_clicks(int64_t{10} * (i + 1));
    cp::ReportEngagementResponse response;
    grpc::Status s =
        Retrying([&] { return campaigns_stub_->ReportEngagement(Ctx().get(), report, &response); });
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_code() << " " << s.error_message();
    acked_.impressions += int64_t{1000} * (i + 1);
    ++written_[2];
  }
}

std::optional<mt::Dashboard> PostgresSuite::Dashboard() {
  mt::GetDashboardRequest req;
  req.set_name("forces/derbyshire/dashboard");
  req.mutable_period()->set_kind(mt::PERIOD_KIND_ACADEMIC_YEAR);
  *req.mutable_period()->mutable_anchor_date() = ToProtoDate(LocalDay(base_time_));
  mt::Dashboard out;
  if (!metrics_stub_->GetDashboard(Ctx().get(), req, &out).ok()) return std::nullopt;
  return out;
}

// Outbox events of `set`'s database not yet acknowledged by metrics (the outreach_outbox_backlog
// gauge on a replica's /metrics; -1 while that does not answer).
int64_t PostgresSuite::Backlog(const ReplicaSet& set, int replica) {
  return ::outreach::testing::OutboxBacklog(set.HttpPort(replica));
}

void PostgresSuite::ExpectDashboardExact() {
  auto expect_exact = [&](const mt::Dashboard& d) {
    EXPECT_EQ(d.workshops().workshops_delivered(), acked_.delivered.load());
    EXPECT_EQ(d.workshops().pupils_reached(), acked_.pupils.load());
    EXPECT_EQ(d.workshops().parents_reached(), acked_.parents.load());
    EXPECT_EQ(d.workshops().safeguarding_disclosures(), acked_.disclosures.load());
    EXPECT_EQ(d.workshops().schools_covered(), 2);
    EXPECT_EQ(d.training().enrolments_created(), acked_.enrolments.load());
    EXPECT_EQ(d.training().course_completions(), acked_.completions.load());
    EXPECT_EQ(d.training().officers_trained(), acked_.completions.load());
    EXPECT_EQ(d.campaigns().impressions(), acked_.impressions.load());
    EXPECT_EQ(d.campaigns().activities_published(), 1);
  };
  std::optional<mt::Dashboard> d;
  WaitFor(
      [&] {
        d = Dashboard();
        return d && d->workshops().workshops_delivered() >= acked_.delivered &&
               d->training().course_completions() >= acked_.completions &&
               d->campaigns().impressions() >= acked_.impressions;
      },
      absl::Seconds(45));
  ASSERT_TRUE(d.has_value()) << "metrics never answered GetDashboard";
  expect_exact(*d);
  // Once no outbox has anything left to send, no late resend can still come: still exact.
  for (ReplicaSet* set : {workshops_.get(), training_.get(), campaigns_.get()}) {
    ASSERT_TRUE(WaitFor([&] { return Backlog(*set, 1) == 0; }, absl::Seconds(45)))
        << "outbox backlog: " << Backlog(*set, 1);
    EXPECT_EQ(Backlog(*set, 0), 0);  // the other replica reads the same database
  }
  auto again = Dashboard();
  ASSERT_TRUE(again.has_value());
  expect_exact(*again);
}

TEST_F(PostgresSuite, ReplicasKilledAndStoreRestartedLoseAndDoubleNothing) {
  CreateCatalogue();
  CreateCourse();
  CreateCampaign();
  ASSERT_FALSE(HasFailure());
  Phase("catalogue, course and campaign created");
  std::vector<std::thread> writers;
  writers.emplace_back([this] { WriteWorkshops(); });
  writers.emplace_back([this] { WriteTraining(); });
  writers.emplace_back([this] { WriteCampaign(); });
  auto all_past = [this](int n) {
    return [this, n] { return written_[0] >= n && written_[1] >= n && written_[2] >= n; };
  };
  // Mid-stream: kill -9 one replica of every service, metrics included.
  WaitFor(all_past(kKillBy - 2), absl::Seconds(60));
  for (ReplicaSet* set : All()) set->Kill(0);
  Phase("replica 0 of every service killed");
  killed_.Notify();
  // Later: the killed replicas come back, and PostgreSQL restarts under everyone.
  WaitFor(all_past(kRestartedBy - 2), absl::Seconds(60));
  for (ReplicaSet* set : All()) set->Launch(0);
  for (ReplicaSet* set : All()) set->AwaitServing(0);
  Phase("killed replicas serving again");
  EXPECT_TRUE(postgres_.Restart()) << postgres_.Log();
  Phase("postgres restarted");
  restarted_.Notify();
  for (auto& t : writers) t.join();
  Phase("writers done");
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(acked_.delivered.load(), kWrites);
  EXPECT_EQ(acked_.completions.load(), kWrites);
  ExpectDashboardExact();
  Phase("dashboard exact, outboxes empty");
  std::cout << "retries after UNAVAILABLE or a deadline: " << acked_.retries.load() << "\n";
}

}  // namespace
}  // namespace outreach
