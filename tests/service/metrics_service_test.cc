#include "services/metrics/metrics_service.h"

#include <sqlite3.h>

#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "tests/support/service_harness.h"
#include "tests/support/test_database.h"
#include "tests/unit/metrics_test_events.h"

namespace outreach::metrics {
namespace {

using ::outreach::testing::Ctx;
using ::outreach::testing::ReasonOf;
using ::outreach::testing::ServiceHarness;
using ::outreach::testing::ViolatedFields;
using testing::D;
using ::testing::ElementsAre;
using testing::Utc;

class MetricsServiceTest : public ::testing::Test {
 protected:
  MetricsServiceTest()
      : harness_(MetricsServiceSpec(), Utc(2025, 1, 15)),
        stub_(v1::MetricsService::NewStub(harness_.channel())) {}

  v1::IngestEventsResponse Ingest(std::vector<ev::OutreachEvent> events,
                                  const std::string& force = "derbyshire") {
    v1::IngestEventsRequest req;
    req.set_parent("forces/" + force);
    for (auto& e : events) *req.add_events() = std::move(e);
    v1::IngestEventsResponse resp;
    grpc::Status s = v1::MetricsService::NewStub(harness_.IngestChannel(req))
                         ->IngestEvents(::outreach::testing::AnonymousCtx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  static v1::GetDashboardRequest YearRequest(const std::string& force = "derbyshire",
                                             const std::string& area = "") {
    v1::GetDashboardRequest req;
    req.set_name("forces/" + force + "/dashboard");
    req.mutable_period()->set_kind(v1::PERIOD_KIND_ACADEMIC_YEAR);
    req.set_area(area);
    return req;
  }

  v1::Dashboard Dashboard(const v1::GetDashboardRequest& req) {
    v1::Dashboard d;
    grpc::Status s = stub_->GetDashboard(Ctx().get(), req, &d);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return d;
  }

  ServiceHarness harness_;
  std::unique_ptr<v1::MetricsService::Stub> stub_;
};

TEST_F(MetricsServiceTest, IngestReportsEveryOutcome) {
  testing::Delivery d;
  ev::OutreachEvent future = testing::Delivered("e3", d);
  *future.mutable_occurred_time() = ToProtoTime(Utc(2025, 1, 15) + absl::Minutes(10));
  ev::OutreachEvent empty =
      testing::Envelope("e4", "derbyshire", "forces/derbyshire/x/y", Utc(2025, 1, 1));
  ev::OutreachEvent bad_reach =
      testing::Engagement("e5", "derbyshire", "a1", D(2025, 1, 2), 1, 10, 11, 1);
  // One service sends only its own kinds (deploy/security/policy.json): workshops' batch, then
  // campaigns' with the bad engagement report.
  auto resp = Ingest({testing::Delivered("e1", d), testing::Delivered("e1", d), future, empty});
  EXPECT_EQ(resp.accepted(), 1);
  EXPECT_EQ(resp.duplicates(), 1);
  EXPECT_EQ(resp.rejected(), 2);
  ASSERT_EQ(resp.results_size(), 4);
  EXPECT_EQ(resp.results(0).outcome(), v1::INGEST_OUTCOME_ACCEPTED);
  EXPECT_EQ(resp.results(1).outcome(), v1::INGEST_OUTCOME_DUPLICATE);
  EXPECT_EQ(resp.results(2).reason(), "EVENT_TIME_IN_FUTURE");
  EXPECT_EQ(resp.results(3).reason(), "EVENT_PAYLOAD_MISSING");
  auto reach = Ingest(
      {testing::Envelope("e0", "derbyshire", "forces/derbyshire/x/y", Utc(2025, 1, 1)), bad_reach});
  EXPECT_EQ(reach.rejected(), 2);
  ASSERT_EQ(reach.results_size(), 2);
  EXPECT_EQ(reach.results(1).reason(), "FIELD_INVALID");
  EXPECT_EQ(reach.results(1).field(), "engagement_reported.reach");
  EXPECT_EQ(reach.results(1).index(), 1);
  EXPECT_EQ(reach.results(1).event_id(), "e5");
  // Re-sending the whole batch: the accepted one is now a duplicate, rejections stay.
  auto again = Ingest({testing::Delivered("e1", d)});
  EXPECT_EQ(again.duplicates(), 1);
  EXPECT_EQ(Dashboard(YearRequest()).workshops().workshops_delivered(), 1);
}

TEST_F(MetricsServiceTest, IngestRefusesBadCalls) {
  struct Case {
    const char* what;
    std::function<void(v1::IngestEventsRequest&)> build;
    const char* field;
  } cases[] = {
      {"no parent", [](auto& r) { r.clear_parent(); }, "parent"},
      {"bad parent", [](auto& r) { r.set_parent("derbyshire"); }, "parent"},
      {"no events", [](auto& r) { r.clear_events(); }, "events"},
      {"too many events",
       [](auto& r) {
         for (int i = 0; i < 1000; ++i) *r.add_events() = r.events(0);
       },
       "events"},
  };
  for (const auto& c : cases) {
    v1::IngestEventsRequest req;
    req.set_parent("forces/derbyshire");
    *req.add_events() = testing::Delivered("e1", testing::Delivery{});
    c.build(req);
    v1::IngestEventsResponse resp;
    grpc::Status s = v1::MetricsService::NewStub(harness_.IngestChannel(req))
                         ->IngestEvents(::outreach::testing::AnonymousCtx().get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_THAT(ViolatedFields(s), ElementsAre(c.field)) << c.what;
  }
}

TEST_F(MetricsServiceTest, DashboardRefusesBadRequests) {
  struct Case {
    const char* what;
    std::function<void(v1::GetDashboardRequest&)> build;
    const char* field;
  } cases[] = {
      {"bad name", [](auto& r) { r.set_name("forces/derbyshire"); }, "name"},
      {"bad force", [](auto& r) { r.set_name("forces/Derby Shire/dashboard"); }, "name"},
      {"no period", [](auto& r) { r.clear_period(); }, "period.kind"},
      {"bad area", [](auto& r) { r.set_area("north/east"); }, "area"},
      {"long area", [](auto& r) { r.set_area(std::string(33, 'a')); }, "area"},
      {"bad anchor",
       [](auto& r) {
         r.mutable_period()->mutable_anchor_date()->set_year(2025);
         r.mutable_period()->mutable_anchor_date()->set_month(13);
         r.mutable_period()->mutable_anchor_date()->set_day(1);
       },
       "period.anchor_date"},
  };
  for (const auto& c : cases) {
    v1::GetDashboardRequest req = YearRequest();
    c.build(req);
    v1::Dashboard d;
    grpc::Status s = stub_->GetDashboard(Ctx().get(), req, &d);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_THAT(ViolatedFields(s), ElementsAre(c.field)) << c.what;
  }
}

TEST_F(MetricsServiceTest, DashboardShowsKpisForThePeriodAndArea) {
  testing::Delivery a;
  a.delivered = Utc(2024, 10, 1);
  testing::Delivery b = a;
  b.workshop = "w2";
  b.area = "south";
  b.venue = "school-b";
  b.delivered = Utc(2024, 8, 31, 23, 30);  // 1 Sep 00:30 BST: this academic year
  testing::Delivery old = a;
  old.workshop = "w3";
  old.delivered = Utc(2024, 8, 31, 22, 30);  // 23:30 BST on 31 Aug: last year
  Ingest({testing::Delivered("d1", a), testing::Delivered("d2", b), testing::Delivered("d3", old)});
  v1::Dashboard d = Dashboard(YearRequest());
  EXPECT_EQ(d.name(), "forces/derbyshire/dashboard");
  EXPECT_EQ(d.date_range().start_date().month(), 9);
  EXPECT_EQ(d.date_range().start_date().year(), 2024);
  EXPECT_EQ(d.workshops().workshops_delivered(), 2);
  EXPECT_EQ(d.workshops().pupils_reached(), 60);
  EXPECT_EQ(d.workshops().schools_covered(), 2);
  EXPECT_EQ(d.data_version(), 1);
  EXPECT_EQ(d.as_of().seconds(), absl::ToUnixSeconds(Utc(2024, 10, 1)));
  EXPECT_EQ(Dashboard(YearRequest("derbyshire", "south")).workshops().workshops_delivered(), 1);
  // Another force sees nothing of it.
  v1::Dashboard other = Dashboard(YearRequest("notts"));
  EXPECT_EQ(other.workshops().workshops_delivered(), 0);
  EXPECT_FALSE(other.has_as_of());
  // A week containing 1 Oct 2024.
  v1::GetDashboardRequest week = YearRequest();
  week.mutable_period()->set_kind(v1::PERIOD_KIND_WEEK);
  *week.mutable_period()->mutable_anchor_date() = ToProtoDate(D(2024, 10, 3));
  EXPECT_EQ(Dashboard(week).workshops().workshops_delivered(), 1);
}

TEST_F(MetricsServiceTest, QuerySeriesAndItsBadInputs) {
  testing::Delivery a;
  a.delivered = Utc(2024, 10, 1);
  Ingest({testing::Delivered("d1", a)});
  v1::QuerySeriesRequest good;
  good.set_parent("forces/derbyshire");
  good.set_metric(v1::METRIC_PUPILS_REACHED);
  good.set_granularity(v1::GRANULARITY_TERM);
  good.set_group_by(v1::GROUP_BY_AREA);
  *good.mutable_date_range()->mutable_start_date() = ToProtoDate(D(2024, 9, 1));
  *good.mutable_date_range()->mutable_end_date() = ToProtoDate(D(2025, 8, 31));
  v1::QuerySeriesResponse resp;
  ASSERT_TRUE(stub_->QuerySeries(Ctx().get(), good, &resp).ok());
  ASSERT_EQ(resp.series_size(), 1);
  EXPECT_EQ(resp.series(0).group_key(), "north");
  ASSERT_EQ(resp.series(0).points_size(), 3);
  EXPECT_EQ(resp.series(0).points(0).label(), "AY2024-autumn");
  EXPECT_EQ(resp.series(0).points(0).value(), 30);
  EXPECT_EQ(resp.data_version(), 1);

  struct Case {
    const char* what;
    std::function<void(v1::QuerySeriesRequest&)> build;
    const char* field;
  } cases[] = {
      {"bad parent", [](auto& r) { r.set_parent("forces/"); }, "parent"},
      {"no metric", [](auto& r) { r.clear_metric(); }, "metric"},
      {"no granularity", [](auto& r) { r.clear_granularity(); }, "granularity"},
      {"unsupported group", [](auto& r) { r.set_group_by(v1::GROUP_BY_CHANNEL); }, "group_by"},
      {"no range", [](auto& r) { r.clear_date_range(); }, "date_range"},
      {"reversed range",
       [](auto& r) { *r.mutable_date_range()->mutable_end_date() = ToProtoDate(D(2024, 1, 1)); },
       "date_range.end_date"},
      {"too many buckets",
       [](auto& r) {
         r.set_granularity(v1::GRANULARITY_DAY);
         *r.mutable_date_range()->mutable_start_date() = ToProtoDate(D(2015, 1, 1));
       },
       "date_range"},
      {"course on workshop metric", [](auto& r) { r.set_course("forces/derbyshire/courses/c1"); },
       "course"},
      {"course of other force",
       [](auto& r) {
         r.set_metric(v1::METRIC_COURSE_COMPLETIONS);
         r.set_course("forces/notts/courses/c1");
       },
       "course"},
      {"bad area", [](auto& r) { r.set_area("a b"); }, "area"},
  };
  for (const auto& c : cases) {
    v1::QuerySeriesRequest req = good;
    c.build(req);
    grpc::Status s = stub_->QuerySeries(Ctx().get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_THAT(ViolatedFields(s), ElementsAre(c.field)) << c.what;
  }
}

TEST_F(MetricsServiceTest, ForceSettingsWithEtags) {
  v1::GetForceSettingsRequest get;
  get.set_name("forces/derbyshire/settings");
  v1::ForceSettings defaults;
  ASSERT_TRUE(stub_->GetForceSettings(Ctx().get(), get, &defaults).ok());
  EXPECT_FALSE(defaults.etag().empty());
  EXPECT_EQ(defaults.training_targets_size(), 0);
  EXPECT_FALSE(defaults.has_create_time());

  v1::UpdateForceSettingsRequest up;
  *up.mutable_force_settings() = defaults;
  up.mutable_force_settings()->set_display_name("Derbyshire Constabulary");
  auto* t = up.mutable_force_settings()->add_training_targets();
  t->set_course("forces/derbyshire/courses/cyber");
  t->add_roles(cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  t->set_officers(128);
  up.mutable_update_mask()->add_paths("*");
  v1::ForceSettings updated;
  ASSERT_TRUE(stub_->UpdateForceSettings(Ctx().get(), up, &updated).ok());
  EXPECT_NE(updated.etag(), defaults.etag());
  EXPECT_TRUE(updated.has_create_time());
  EXPECT_EQ(updated.display_name(), "Derbyshire Constabulary");

  // The dashboard shows the target at once.
  v1::Dashboard d = Dashboard(YearRequest());
  EXPECT_EQ(d.force_display_name(), "Derbyshire Constabulary");
  ASSERT_EQ(d.training().targets_size(), 1);
  EXPECT_EQ(d.training().targets(0).target_officers_required(), 128);
  EXPECT_EQ(d.training().targets(0).shortfall(), 128);

  // Stale etag.
  v1::ForceSettings out;
  grpc::Status s = stub_->UpdateForceSettings(Ctx().get(), up, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");

  struct Case {
    const char* what;
    std::function<void(v1::UpdateForceSettingsRequest&)> build;
    const char* field;
  } cases[] = {
      {"no etag", [](auto& r) { r.mutable_force_settings()->clear_etag(); }, "force_settings.etag"},
      {"no mask", [](auto& r) { r.clear_update_mask(); }, "update_mask"},
      {"unknown path", [](auto& r) { r.mutable_update_mask()->add_paths("etag"); }, "update_mask"},
      {"bad name", [](auto& r) { r.mutable_force_settings()->set_name("forces/x"); },
       "force_settings.name"},
      {"percent too high",
       [](auto& r) { r.mutable_force_settings()->mutable_training_targets(0)->set_percent(150); },
       "force_settings.training_targets[0].percent"},
      {"duplicate course",
       [](auto& r) {
         *r.mutable_force_settings()->add_training_targets() =
             r.force_settings().training_targets(0);
       },
       "force_settings.training_targets[1].course"},
  };
  for (const auto& c : cases) {
    v1::UpdateForceSettingsRequest req = up;
    *req.mutable_force_settings() = updated;
    c.build(req);
    s = stub_->UpdateForceSettings(Ctx().get(), req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_THAT(ViolatedFields(s), ElementsAre(c.field)) << c.what;
  }
  // Settings of another force are untouched.
  get.set_name("forces/notts/settings");
  ASSERT_TRUE(stub_->GetForceSettings(Ctx().get(), get, &out).ok());
  EXPECT_EQ(out.training_targets_size(), 0);
}

// Text limits count characters (code points) as every other service does, not UTF-8 bytes.
TEST_F(MetricsServiceTest, ForceSettingsTextLimitsCountCharacters) {
  std::string accents_101, accents_201;
  for (int i = 0; i < 101; ++i) accents_101 += "\xc3\xa9";  // é: 202 bytes, 101 characters
  accents_201 = accents_101;
  for (int i = 0; i < 100; ++i) accents_201 += "\xc3\xa9";

  v1::GetForceSettingsRequest get;
  get.set_name("forces/derbyshire/settings");
  v1::ForceSettings current;
  ASSERT_TRUE(stub_->GetForceSettings(Ctx().get(), get, &current).ok());
  v1::UpdateForceSettingsRequest up;
  *up.mutable_force_settings() = current;
  up.mutable_force_settings()->set_display_name(accents_101);
  auto* t = up.mutable_force_settings()->add_training_targets();
  t->set_course("forces/derbyshire/courses/cyber");
  t->set_display_name(accents_101);
  t->add_roles(cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  t->set_officers(10);
  up.mutable_update_mask()->add_paths("*");
  v1::ForceSettings updated;
  grpc::Status s = stub_->UpdateForceSettings(Ctx().get(), up, &updated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(updated.display_name(), accents_101);

  *up.mutable_force_settings() = updated;
  up.mutable_force_settings()->set_display_name(accents_201);
  up.mutable_force_settings()->mutable_training_targets(0)->set_display_name(accents_201);
  s = stub_->UpdateForceSettings(Ctx().get(), up, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("force_settings.display_name",
                                             "force_settings.training_targets[0].display_name"));
}

TEST_F(MetricsServiceTest, ConcurrentDeliveriesOfTheSameEventsCountOnce) {
  std::vector<ev::OutreachEvent> events;
  for (int i = 0; i < 40; ++i) {
    testing::Delivery d;
    d.workshop = absl::StrCat("w", i);
    d.delivered = Utc(2024, 10, 1) + absl::Minutes(i);
    events.push_back(testing::Delivered(absl::StrCat("e", i), d));
  }
  std::atomic<int> accepted{0}, duplicates{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      v1::IngestEventsRequest req;
      req.set_parent("forces/derbyshire");
      for (const auto& e : events) *req.add_events() = e;
      v1::IngestEventsResponse resp;
      grpc::Status s = v1::MetricsService::NewStub(harness_.IngestChannel(req))
                           ->IngestEvents(::outreach::testing::AnonymousCtx().get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      accepted += resp.accepted();
      duplicates += resp.duplicates();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 40);
  EXPECT_EQ(duplicates.load(), 5 * 40);
  v1::Dashboard d = Dashboard(YearRequest());
  EXPECT_EQ(d.workshops().workshops_delivered(), 40);
  EXPECT_EQ(d.workshops().pupils_reached(), 40 * 30);
  EXPECT_EQ(d.data_version(), 1);
}

TEST_F(MetricsServiceTest, WatchSendsNowAndAfterAnIngest) {
  v1::WatchDashboardRequest req;
  req.set_name("forces/derbyshire/dashboard");
  req.mutable_period()->set_kind(v1::PERIOD_KIND_ACADEMIC_YEAR);
  auto ctx = Ctx();
  auto reader = stub_->WatchDashboard(ctx.get(), req);
  v1::Dashboard first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_EQ(first.workshops().workshops_delivered(), 0);
  EXPECT_EQ(first.data_version(), 0);
  Ingest({testing::Delivered("e1", testing::Delivery{})});
  v1::Dashboard second;
  ASSERT_TRUE(reader->Read(&second));
  EXPECT_EQ(second.workshops().workshops_delivered(), 1);
  EXPECT_EQ(second.data_version(), 1);
  ctx->TryCancel();
  v1::Dashboard ignored;
  while (reader->Read(&ignored)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  // A bad request fails at once.
  req.set_area("no spaces");
  auto ctx2 = Ctx();
  auto bad = stub_->WatchDashboard(ctx2.get(), req);
  EXPECT_FALSE(bad->Read(&ignored));
  grpc::Status s = bad->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("area"));
}

TEST_F(MetricsServiceTest, WatchCoalescesBurstsOfIngests) {
  // Coalescing promises at most one message per 500 ms (kMinGap in metrics_service.cc), each
  // computed when it is sent. So while the reader does not read, a burst of ingests that takes
  // `burst` can start at most burst / 500 ms + 1 computations, and the first one after the
  // burst has everything: the reader gets at most burst / 500 ms + 2 messages, however fast or
  // slow the machine. Without coalescing the stream would follow the ingests one by one.
  v1::WatchDashboardRequest req;
  req.set_name("forces/derbyshire/dashboard");
  req.mutable_period()->set_kind(v1::PERIOD_KIND_ACADEMIC_YEAR);
  const absl::Time begin = absl::Now();
  auto ctx = Ctx();
  auto reader = stub_->WatchDashboard(ctx.get(), req);
  v1::Dashboard d;
  ASSERT_TRUE(reader->Read(&d));
  constexpr int kIngests = 20;
  for (int i = 0; i < kIngests; ++i) {
    testing::Delivery w;
    w.workshop = absl::StrCat("w", i);
    Ingest({testing::Delivered(absl::StrCat("e", i), w)});
  }
  const absl::Duration burst = absl::Now() - begin;
  int messages = 1;
  while (d.workshops().workshops_delivered() < kIngests && reader->Read(&d)) ++messages;
  EXPECT_EQ(d.workshops().workshops_delivered(), kIngests);
  EXPECT_LT(messages - 1, kIngests);  // fewer messages than ingests
  EXPECT_LE(messages, burst / absl::Milliseconds(500) + 2) << "burst took " << burst;
  // The last message is the final dashboard, not a stale or partial one.
  v1::Dashboard final_dashboard = Dashboard(YearRequest());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(d, final_dashboard))
      << "watched: " << d.DebugString() << "\nfinal: " << final_dashboard.DebugString();
  ctx->TryCancel();
  while (reader->Read(&d)) {
  }
  (void)reader->Finish();
}

// Threads of this process (client and server share it), from /proc.
int ProcessThreads() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

TEST_F(MetricsServiceTest, WatchStreamsHoldNoThreadAndAllSeeOneIngest) {
  // 320 streams over 8 connections (the server takes 64 calls per connection). On the sync API
  // each stream held a server thread; as reactors of one hub they hold none, so the process
  // gains no thread per stream, and one ingest reaches every stream.
  constexpr int kConnections = 8;
  constexpr int kPerConnection = 40;
  v1::WatchDashboardRequest req;
  req.set_name("forces/derbyshire/dashboard");
  req.mutable_period()->set_kind(v1::PERIOD_KIND_ACADEMIC_YEAR);
  struct Watcher {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<v1::Dashboard>> reader;
  };
  std::vector<std::unique_ptr<v1::MetricsService::Stub>> stubs;
  for (int c = 0; c < kConnections; ++c) {
    stubs.push_back(v1::MetricsService::NewStub(harness_.SeparateChannel()));
  }
  // One stream first, so that gRPC's own threads (pollers, executors) exist before the count.
  Watcher probe{Ctx(), nullptr};
  probe.reader = stub_->WatchDashboard(probe.ctx.get(), req);
  v1::Dashboard d;
  ASSERT_TRUE(probe.reader->Read(&d));
  const int before = ProcessThreads();
  std::vector<Watcher> watchers;
  for (int c = 0; c < kConnections; ++c) {
    for (int i = 0; i < kPerConnection; ++i) {
      Watcher w{Ctx(), nullptr};
      w.reader = stubs[c]->WatchDashboard(w.ctx.get(), req);
      watchers.push_back(std::move(w));
    }
  }
  for (auto& w : watchers) {
    ASSERT_TRUE(w.reader->Read(&d));
    EXPECT_EQ(d.workshops().workshops_delivered(), 0);
  }
  const int with_streams = ProcessThreads();
  EXPECT_LT(with_streams - before, 16) << before << " threads before, " << with_streams << " with "
                                       << watchers.size() << " more streams";
  Ingest({testing::Delivered("e1", testing::Delivery{})});
  for (auto& w : watchers) {
    ASSERT_TRUE(w.reader->Read(&d));
    EXPECT_EQ(d.workshops().workshops_delivered(), 1);
  }
  watchers.push_back(std::move(probe));
  for (auto& w : watchers) w.ctx->TryCancel();
  for (auto& w : watchers) {
    while (w.reader->Read(&d)) {
    }
    EXPECT_EQ(w.reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
}

TEST_F(MetricsServiceTest, BusyStoreIsUnavailableAndNothingIsStored) {
  if (TestingOnPostgres()) {
    GTEST_SKIP() << "SQLite's busy timeout: this case holds the file's write lock with sqlite3;"
                    " PostgreSQL has no file lock (it queues the writer behind row locks)";
  }
  // Another writer holds the database's write lock past the busy timeout.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(harness_.db().path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  v1::IngestEventsRequest req;
  req.set_parent("forces/derbyshire");
  *req.add_events() = testing::Delivered("e1", testing::Delivery{});
  v1::IngestEventsResponse resp;
  auto ctx = ::outreach::testing::AnonymousCtx();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status s =
      v1::MetricsService::NewStub(harness_.IngestChannel(req))->IngestEvents(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(s), "STORAGE_UNAVAILABLE");
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  // The same batch again: nothing was stored the first time.
  EXPECT_EQ(Ingest({testing::Delivered("e1", testing::Delivery{})}).accepted(), 1);
}

TEST_F(MetricsServiceTest, EverythingSurvivesARestart) {
  testing::Delivery d;
  Ingest({testing::Delivered("e1", d)});  // from workshops
  Ingest({testing::Engagement("r1", "derbyshire", "a1", D(2024, 10, 3), 1, 100, 50, 5)});
  harness_.Restart();
  stub_ = v1::MetricsService::NewStub(harness_.channel());
  v1::Dashboard after = Dashboard(YearRequest());
  EXPECT_EQ(after.workshops().workshops_delivered(), 1);
  EXPECT_EQ(after.campaigns().impressions(), 100);
  EXPECT_EQ(Ingest({testing::Delivered("e1", d)}).duplicates(), 1);
}

}  // namespace
}  // namespace outreach::metrics
