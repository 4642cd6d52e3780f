// Two real processes of each domain service (workshops, training, campaigns) on ONE PostgreSQL
// database per service, and calls racing across both replicas: the rules that a single process
// kept by running one writer at a time must hold when two processes write at once. PostgreSQL
// (SERIALIZABLE, common/db_postgres.cc) is what decides; these tests show it does:
//   - 8 conflicting schedules of one presenter at overlapping times: one wins, 7 get
//     FAILED_PRECONDITION PRESENTER_DOUBLE_BOOKED;
//   - one request_id sent to both replicas at once: one resource, every answer the same;
//   - updates racing with one etag: one OK, the rest ABORTED ETAG_MISMATCH;
//   - 8 enrolments of one officer in one course version: one enrolment, 7 get
//     FAILED_PRECONDITION DUPLICATE_ACTIVE_ENROLMENT.
// The server is the `postgres` CTest fixture's (OUTREACH_TEST_POSTGRES_URL_FILE); each test
// makes its own databases on it. TLS and tokens as in production (process_security.h).
#include <iostream>
#include <latch>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "outreach/campaigns/v1/campaigns.grpc.pb.h"
#include "outreach/training/v1/training.grpc.pb.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process_security.h"
#include "tests/support/replica_set.h"
#include "tests/support/service_harness.h"
#include "tests/support/suite_requests.h"
#include "tests/support/temp_dir.h"

namespace outreach {
namespace {

using outreach::testing::Ctx;
using outreach::testing::ReasonOf;
using outreach::testing::ReplicaSet;
using outreach::testing::ScopedDatabase;
namespace requests = outreach::testing::requests;
namespace ws = outreach::workshops::v1;
namespace tr = outreach::training::v1;
namespace cp = outreach::campaigns::v1;
namespace cm = outreach::common::v1;

constexpr char kForce[] = "forces/derbyshire";
constexpr int kRacers = 8;

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

// Runs call(i) for i in [0, kRacers) on as many threads, released together, and returns the
// statuses by i.
template <typename Call>
std::vector<grpc::Status> Race(Call call) {
  std::vector<grpc::Status> out(kRacers);
  std::latch go(kRacers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRacers; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      out[i] = call(i);
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

// How many calls got each (code, reason); "OK" for successes.
std::map<std::string, int> Outcomes(const std::vector<grpc::Status>& statuses) {
  std::map<std::string, int> out;
  for (const auto& s : statuses) {
    ++out[s.ok() ? std::string("OK")
                 : absl::StrCat(s.error_code(), " ", ReasonOf(s), " ", s.error_message())];
  }
  return out;
}

// Two replicas of one service on a database of their own.
class Replicas : public ::testing::Test {
 protected:
  // Starts two replicas of `service` on a fresh database; returns the channels to each.
  std::vector<std::shared_ptr<grpc::Channel>> StartPair(const std::string& service,
                                                        const char* binary_env) {
    const std::string base = ::outreach::testing::FixturePostgresUrl();
    if (base.empty()) return {};
    database_ = std::make_unique<ScopedDatabase>(base, service);
    if (!database_->ok()) return {};
    replicas_ =
        std::make_unique<ReplicaSet>(&security_, service, Env(binary_env, service.c_str()),
                                     std::vector<std::string>{"--db-url=" + database_->url(),
                                                              "--page-token-key=replicas-test-key"},
                                     2, /*http=*/false);
    replicas_->StartAll();
    return {security_.Channel(replicas_->Port(0)), security_.Channel(replicas_->Port(1))};
  }

  void TearDown() override {
    if (replicas_ != nullptr && HasFailure()) {
      std::cout << "what the replicas logged (warnings, errors):\n" << replicas_->Problems();
    }
    if (replicas_ != nullptr) replicas_->StopAll();
    replicas_.reset();
    database_.reset();
  }

  TempDir dir_;
  ::outreach::testing::ProcessSecurity security_{dir_.File("pki")};
  std::unique_ptr<ScopedDatabase> database_;
  std::unique_ptr<ReplicaSet> replicas_;
};

// --- workshops ---

// A school, an accredited presenter and a topic, created through replica 0.
void CreateCatalogue(ws::WorkshopsService::Stub& stub) {
  ws::Venue v;
  grpc::Status s = stub.CreateVenue(
      Ctx().get(), requests::School(kForce, "example-academy", 1200, "derby-city"), &v);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ws::Presenter p;
  s = stub.CreatePresenter(
      Ctx().get(), requests::Presenter(kForce, "snt-officer-1", "Safer Neighbourhood officer 1"),
      &p);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = stub.GrantAccreditation(Ctx().get(), requests::Grant(p, absl::Now() + absl::Hours(24 * 365)),
                              &p);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ws::Topic t;
  s = stub.CreateTopic(Ctx().get(), requests::SextingTopic(kForce), &t);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

// A one-hour schedule of the one presenter at the one venue from `start`.
ws::ScheduleWorkshopRequest Schedule(const std::string& id, const std::string& request_id,
                                     absl::Time start) {
  ws::ScheduleWorkshopRequest req;
  req.set_parent(kForce);
  req.set_workshop_id(id);
  req.set_request_id(request_id);
  ws::Workshop* w = req.mutable_workshop();
  w->set_title("Staying safe online");
  w->set_venue("forces/derbyshire/venues/example-academy");
  *w->mutable_start_time() = ToProtoTime(start);
  *w->mutable_end_time() = ToProtoTime(start + absl::Hours(1));
  w->set_format(cm::WORKSHOP_FORMAT_WORKSHOP);
  w->add_audiences(cm::WORKSHOP_AUDIENCE_PUPILS);
  w->add_year_groups(8);
  w->add_topics("forces/derbyshire/topics/sexting");
  w->add_presenters("forces/derbyshire/presenters/snt-officer-1");
  return req;
}

absl::Time NextWeek() {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 3600 * 3600) +
         absl::Hours(24 * 7);
}

TEST_F(Replicas, ConflictingSchedulesAcrossReplicasHaveOneWinner) {
  auto channels = StartPair("workshops", "OUTREACH_WORKSHOPS_BIN");
  ASSERT_EQ(channels.size(), 2u);
  auto a = ws::WorkshopsService::NewStub(channels[0]);
  auto b = ws::WorkshopsService::NewStub(channels[1]);
  CreateCatalogue(*a);
  const absl::Time start = NextWeek();
  // Each racer books the presenter 0..35 minutes later than the first: all overlap.
  auto statuses = Race([&](int i) {
    ws::Workshop out;
    auto& stub = i % 2 == 0 ? *a : *b;
    return stub.ScheduleWorkshop(Ctx().get(),
                                 Schedule(absl::StrCat("session-", i), absl::StrCat("schedule-", i),
                                          start + absl::Minutes(5 * i)),
                                 &out);
  });
  int winners = 0;
  std::string winner;
  for (int i = 0; i < kRacers; ++i) {
    if (statuses[i].ok()) {
      ++winners;
      winner = absl::StrCat(kForce, "/workshops/session-", i);
      continue;
    }
    EXPECT_EQ(statuses[i].error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << statuses[i].error_message();
    EXPECT_EQ(ReasonOf(statuses[i]), "PRESENTER_DOUBLE_BOOKED") << statuses[i].error_message();
  }
  ASSERT_EQ(winners, 1) << ::testing::PrintToString(Outcomes(statuses));
  // Both replicas see the one workshop, and only it.
  for (auto* stub : {a.get(), b.get()}) {
    ws::ListWorkshopsRequest list;
    list.set_parent(kForce);
    ws::ListWorkshopsResponse page;
    grpc::Status s = stub->ListWorkshops(Ctx().get(), list, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(page.workshops_size(), 1);
    EXPECT_EQ(page.workshops(0).name(), winner);
  }
}

TEST_F(Replicas, OneRequestIdSentToBothReplicasMakesOneResource) {
  auto channels = StartPair("workshops", "OUTREACH_WORKSHOPS_BIN");
  ASSERT_EQ(channels.size(), 2u);
  auto a = ws::WorkshopsService::NewStub(channels[0]);
  auto b = ws::WorkshopsService::NewStub(channels[1]);
  CreateCatalogue(*a);
  const ws::ScheduleWorkshopRequest req = Schedule("session-1", "schedule-once", NextWeek());
  std::vector<ws::Workshop> answers(kRacers);
  auto statuses = Race([&](int i) {
    return (i % 2 == 0 ? *a : *b).ScheduleWorkshop(Ctx().get(), req, &answers[i]);
  });
  for (int i = 0; i < kRacers; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_code() << " "
                                  << statuses[i].error_message();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(answers[i], answers[0]))
        << answers[i].DebugString() << "\nvs\n"
        << answers[0].DebugString();
  }
  ws::ListWorkshopsRequest list;
  list.set_parent(kForce);
  ws::ListWorkshopsResponse page;
  ASSERT_TRUE(b->ListWorkshops(Ctx().get(), list, &page).ok());
  EXPECT_EQ(page.workshops_size(), 1);
}

TEST_F(Replicas, UpdatesWithOneEtagAcrossReplicasHaveOneWinner) {
  auto channels = StartPair("workshops", "OUTREACH_WORKSHOPS_BIN");
  ASSERT_EQ(channels.size(), 2u);
  auto a = ws::WorkshopsService::NewStub(channels[0]);
  auto b = ws::WorkshopsService::NewStub(channels[1]);
  CreateCatalogue(*a);
  ws::GetVenueRequest get;
  get.set_name("forces/derbyshire/venues/example-academy");
  ws::Venue venue;
  ASSERT_TRUE(b->GetVenue(Ctx().get(), get, &venue).ok());
  std::vector<ws::Venue> answers(kRacers);
  auto statuses = Race([&](int i) {
    ws::UpdateVenueRequest req;
    *req.mutable_venue() = venue;  // the same etag for every racer
    req.mutable_venue()->set_pupil_roll(1000 + i);
    req.mutable_update_mask()->add_paths("pupil_roll");
    return (i % 2 == 0 ? *a : *b).UpdateVenue(Ctx().get(), req, &answers[i]);
  });
  int winner = -1;
  for (int i = 0; i < kRacers; ++i) {
    if (statuses[i].ok()) {
      EXPECT_EQ(winner, -1) << ::testing::PrintToString(Outcomes(statuses));
      winner = i;
      continue;
    }
    EXPECT_EQ(statuses[i].error_code(), grpc::StatusCode::ABORTED) << statuses[i].error_message();
    EXPECT_EQ(ReasonOf(statuses[i]), "ETAG_MISMATCH") << statuses[i].error_message();
  }
  ASSERT_NE(winner, -1) << ::testing::PrintToString(Outcomes(statuses));
  // The stored venue is the winner's, on either replica.
  ws::Venue now;
  ASSERT_TRUE(a->GetVenue(Ctx().get(), get, &now).ok());
  EXPECT_EQ(now.pupil_roll(), 1000 + winner);
  EXPECT_EQ(now.etag(), answers[winner].etag());
}

// --- campaigns ---

cp::CreateCampaignRequest NewCampaign() {
  const absl::CivilDay today = LocalDay(absl::Now());
  cp::CreateCampaignRequest create;
  create.set_parent(kForce);
  create.set_campaign_id("protect-yourself-online");
  create.set_request_id("campaign-1");
  cp::Campaign* c = create.mutable_campaign();
  c->set_title("Protect yourself online");
  c->add_key_messages("Think before you share");
  c->add_audiences(cm::CAMPAIGN_AUDIENCE_RESIDENTS);
  c->add_areas("derby-city");
  *c->mutable_start_date() = ToProtoDate(today + 10);
  *c->mutable_end_date() = ToProtoDate(today + 40);
  c->set_reach_target(100000);
  return create;
}

TEST_F(Replicas, CampaignsCreateOnceAndUpdateOncePerEtag) {
  auto channels = StartPair("campaigns", "OUTREACH_CAMPAIGNS_BIN");
  ASSERT_EQ(channels.size(), 2u);
  auto a = cp::CampaignsService::NewStub(channels[0]);
  auto b = cp::CampaignsService::NewStub(channels[1]);
  // One request_id on both replicas at once: one campaign, the same answer everywhere.
  const cp::CreateCampaignRequest create = NewCampaign();
  std::vector<cp::Campaign> created(kRacers);
  auto statuses = Race([&](int i) {
    return (i % 2 == 0 ? *a : *b).CreateCampaign(Ctx().get(), create, &created[i]);
  });
  for (int i = 0; i < kRacers; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_code() << " "
                                  << statuses[i].error_message();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(created[i], created[0]));
  }
  // Updates racing with that one etag: one lands.
  std::vector<cp::Campaign> updated(kRacers);
  statuses = Race([&](int i) {
    cp::UpdateCampaignRequest req;
    *req.mutable_campaign() = created[0];
    req.mutable_campaign()->set_reach_target(200000 + i);
    req.mutable_update_mask()->add_paths("reach_target");
    return (i % 2 == 0 ? *a : *b).UpdateCampaign(Ctx().get(), req, &updated[i]);
  });
  int winner = -1;
  for (int i = 0; i < kRacers; ++i) {
    if (statuses[i].ok()) {
      EXPECT_EQ(winner, -1) << ::testing::PrintToString(Outcomes(statuses));
      winner = i;
      continue;
    }
    EXPECT_EQ(statuses[i].error_code(), grpc::StatusCode::ABORTED) << statuses[i].error_message();
    EXPECT_EQ(ReasonOf(statuses[i]), "ETAG_MISMATCH") << statuses[i].error_message();
  }
  ASSERT_NE(winner, -1) << ::testing::PrintToString(Outcomes(statuses));
  cp::ListCampaignsRequest list;
  list.set_parent(kForce);
  cp::ListCampaignsResponse page;
  ASSERT_TRUE(b->ListCampaigns(Ctx().get(), list, &page).ok());
  ASSERT_EQ(page.campaigns_size(), 1);
  EXPECT_EQ(page.campaigns(0).reach_target(), 200000 + winner);
}

// --- training ---

// A published course version and an active officer; returns their names.
std::pair<std::string, std::string> CourseAndOfficer(tr::TrainingService::Stub& stub) {
  tr::Course c;
  grpc::Status s = stub.CreateCourse(
      Ctx().get(), requests::CybercrimeCourse(kForce, "cybercrime-investigation"), &c);
  EXPECT_TRUE(s.ok()) << s.error_message();
  tr::CourseVersion v;
  s = stub.CreateCourseVersion(Ctx().get(),
                               requests::CourseVersion(c.name(), "v1", {"sexting-law"}), &v);
  EXPECT_TRUE(s.ok()) << s.error_message();
  s = stub.PublishCourseVersion(Ctx().get(), requests::Publish(v), &v);
  EXPECT_TRUE(s.ok()) << s.error_message();
  tr::Officer o;
  s = stub.CreateOfficer(Ctx().get(), requests::Officer(kForce, 1), &o);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return {v.name(), o.name()};
}

TEST_F(Replicas, DuplicateEnrolmentsAcrossReplicasLeaveOne) {
  auto channels = StartPair("training", "OUTREACH_TRAINING_BIN");
  ASSERT_EQ(channels.size(), 2u);
  auto a = tr::TrainingService::NewStub(channels[0]);
  auto b = tr::TrainingService::NewStub(channels[1]);
  const auto course_and_officer = CourseAndOfficer(*a);
  const std::string version = course_and_officer.first;
  const std::string officer = course_and_officer.second;
  ASSERT_FALSE(::testing::Test::HasFailure());
  // Distinct enrolments (ids, request ids) of one officer in one version: one is open at most.
  auto statuses = Race([&](int i) {
    tr::EnrolOfficerRequest enrol;
    enrol.set_parent(kForce);
    enrol.set_enrolment_id(absl::StrCat("enrolment-", i));
    enrol.set_request_id(absl::StrCat("enrol-", i));
    enrol.mutable_enrolment()->set_officer(officer);
    enrol.mutable_enrolment()->set_course_version(version);
    tr::Enrolment e;
    return (i % 2 == 0 ? *a : *b).EnrolOfficer(Ctx().get(), enrol, &e);
  });
  int winners = 0;
  for (const auto& s : statuses) {
    if (s.ok()) {
      ++winners;
      continue;
    }
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_EQ(ReasonOf(s), "DUPLICATE_ACTIVE_ENROLMENT") << s.error_message();
  }
  EXPECT_EQ(winners, 1) << ::testing::PrintToString(Outcomes(statuses));
  tr::ListEnrolmentsRequest list;
  list.set_parent(kForce);
  tr::ListEnrolmentsResponse page;
  grpc::Status s = b->ListEnrolments(Ctx().get(), list, &page);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(page.enrolments_size(), 1);
}

}  // namespace
}  // namespace outreach
