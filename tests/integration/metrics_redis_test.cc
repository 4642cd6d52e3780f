// The metrics service against a real redis-server started by the fixture on a free loopback
// port: cache hits, invalidation after ingest, TTL, Redis killed and back, two replicas sharing
// one Redis, a lost pub/sub connection, and the HTTP monitor routes.
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/redis.h"
#include "common/store_support.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/metrics/metrics_service.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/service_harness.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"
#include "tests/unit/metrics_test_events.h"

namespace outreach::metrics {
namespace {

using ::outreach::testing::ChildProcess;
using ::outreach::testing::Ctx;
using ::outreach::testing::ReasonOf;
using testing::Utc;

// Polls `done` every 20 ms for up to 10 s (waiting for asynchronous effects, not timing them).
bool Eventually(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return done();
}

// A real redis-server in a temporary directory; killed (-9) on destruction.
class RedisServer {
 public:
  explicit RedisServer(const std::string& dir)
      : dir_(dir), port_(::outreach::testing::FreeLoopbackPort()) {
    Start();
  }
  void Start() {
    process_ = std::make_unique<ChildProcess>(
        "/usr/bin/redis-server",
        std::vector<std::string>{"--port", absl::StrCat(port_), "--bind", "127.0.0.1", "--dir",
                                 dir_, "--save", "", "--appendonly", "no", "--logfile",
                                 dir_ + "/redis.log"});
    ASSERT_TRUE(process_->Start());
    redis::Options o;
    o.port = port_;
    o.retry_interval = absl::ZeroDuration();
    redis::Client probe(o);
    ASSERT_TRUE(Eventually([&] { return probe.Command({"PING"}).ok(); })) << "redis not up";
  }
  void Kill() {
    process_->Signal(SIGKILL);
    process_->Wait(absl::Seconds(5));
    process_.reset();
  }
  void Signal(int sig) { process_->Signal(sig); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  absl::StatusOr<redis::Reply> Command(const std::vector<std::string>& args) {
    redis::Options o;
    o.port = port_;
    o.command_timeout = absl::Seconds(1);
    redis::Client c(o);
    return c.Command(args);
  }

 private:
  std::string dir_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

// One metrics replica: its own server and cache, over a shared SQLite file.
class Replica {
 public:
  Replica(const std::string& db_path, FakeClock* clock, CacheOptions cache, bool with_http = false,
          KpiOptions kpis = {{"derbyshire"}}) {
    auto db = db::Database::Open(db_path, MetricsServiceSpec().schema);
    EXPECT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    RuntimeConfig config;
    config.service_name = "metrics";
    config.drain_timeout = absl::Seconds(2);
    if (with_http) config.http_address = "127.0.0.1:0";
    // As production runs: TLS, the test JWKS, the shipped policy.
    auto server = security_.pki().IssueServer("metrics");
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) config.security = ::outreach::testing::TestSecuritySettings(*server);
    runtime_ = std::make_unique<ServerRuntime>(config);
    ServiceContext context{db_.get(), clock, &page_tokens_, &runtime_->metrics(), runtime_.get()};
    service_ = MakeMetricsService(context, cache, kpis);
    runtime_->AddService(service_.get(), "outreach.metrics.v1.MetricsService",
                         [this] { return db_->Ping(); });
    absl::Status started = runtime_->Start();
    EXPECT_TRUE(started.ok()) << started;
    const std::string port = absl::StrCat(runtime_->grpc_port());
    stub_ = v1::MetricsService::NewStub(security_.Channel(port));
    // Every event these tests send is a workshops event (deliveries, venues): it comes in as the
    // workshops publisher sends it, with that service's client certificate.
    ingest_stub_ = v1::MetricsService::NewStub(security_.ServiceChannel(port, "workshops"));
  }
  ~Replica() { runtime_->Shutdown(); }

  v1::IngestEventsResponse Ingest(std::vector<ev::OutreachEvent> events,
                                  const std::string& force = "derbyshire") {
    v1::IngestEventsRequest req;
    req.set_parent("forces/" + force);
    for (auto& e : events) *req.add_events() = std::move(e);
    v1::IngestEventsResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = ingest_stub_->IngestEvents(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }
  v1::Dashboard Dashboard() {
    v1::GetDashboardRequest req;
    req.set_name("forces/derbyshire/dashboard");
    req.mutable_period()->set_kind(v1::PERIOD_KIND_ACADEMIC_YEAR);
    *req.mutable_period()->mutable_anchor_date() = ToProtoDate(testing::D(2024, 10, 1));
    v1::Dashboard d;
    grpc::Status s = stub_->GetDashboard(Ctx().get(), req, &d);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return d;
  }
  v1::QuerySeriesResponse Series() {
    v1::QuerySeriesRequest req;
    req.set_parent("forces/derbyshire");
    req.set_metric(v1::METRIC_WORKSHOPS_DELIVERED);
    req.set_granularity(v1::GRANULARITY_MONTH);
    *req.mutable_date_range()->mutable_start_date() = ToProtoDate(testing::D(2024, 9, 1));
    *req.mutable_date_range()->mutable_end_date() = ToProtoDate(testing::D(2024, 12, 31));
    v1::QuerySeriesResponse r;
    grpc::Status s = stub_->QuerySeries(Ctx().get(), req, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return r;
  }
  const ReplyCache::Stats& stats() { return service_->cache()->stats(); }
  ReplyCache& cache() { return *service_->cache(); }
  MetricsServiceImpl& service() { return *service_; }
  v1::MetricsService::Stub& stub() { return *stub_; }
  ServerRuntime& runtime() { return *runtime_; }

 private:
  TempDir pki_dir_;
  ::outreach::testing::ProcessSecurity security_{pki_dir_.path()};
  PageTokenCodec page_tokens_{"k"};
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<ServerRuntime> runtime_;
  std::unique_ptr<MetricsServiceImpl> service_;
  std::unique_ptr<v1::MetricsService::Stub> stub_;         // a person (calls carry a token)
  std::unique_ptr<v1::MetricsService::Stub> ingest_stub_;  // the workshops service
};

ev::OutreachEvent Workshop(int i) {
  testing::Delivery d;
  d.workshop = absl::StrCat("w", i);
  d.delivered = Utc(2024, 10, 1) + absl::Minutes(i);
  return testing::Delivered(absl::StrCat("e", i), d);
}

class MetricsRedisTest : public ::testing::Test {
 protected:
  MetricsRedisTest() : redis_(dir_.path()) {}

  CacheOptions Cache(bool near = true) {
    CacheOptions o;
    o.redis_address = redis_.address();
    o.near_cache = near;
    o.retry_interval = absl::Milliseconds(100);
    o.key_prefix = "test";
    return o;
  }
  std::string DbPath() const { return TestDatabaseLocation(dir_, "metrics"); }

  TempDir dir_;
  FakeClock clock_{Utc(2025, 1, 15)};
  RedisServer redis_;
};

TEST_F(MetricsRedisTest, HitThenInvalidationAfterIngest) {
  Replica r(DbPath(), &clock_, Cache());
  ASSERT_TRUE(Eventually([&] { return r.cache().subscribed(); }));
  r.Ingest({Workshop(1)});
  const v1::Dashboard computed = r.Dashboard();
  EXPECT_EQ(computed.workshops().workshops_delivered(), 1);
  EXPECT_EQ(r.stats().misses.load(), 1);
  // A near-cache hit is the stored bytes with the request's name and period appended: the
  // caller reads the same message as the computed reply.
  const v1::Dashboard hit = r.Dashboard();
  EXPECT_EQ(r.stats().near_hits.load(), 1);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(hit, computed))
      << hit.DebugString() << " vs " << computed.DebugString();
  EXPECT_EQ(hit.name(), "forces/derbyshire/dashboard");
  EXPECT_EQ(hit.period().kind(), v1::PERIOD_KIND_ACADEMIC_YEAR);
  // The warm entry is answered only after the caller was admitted.
  {
    v1::GetDashboardRequest req;
    req.set_name("forces/derbyshire/dashboard");
    req.mutable_period()->set_kind(v1::PERIOD_KIND_ACADEMIC_YEAR);
    *req.mutable_period()->mutable_anchor_date() = ToProtoDate(testing::D(2024, 10, 1));
    v1::Dashboard refused;
    auto ctx = ::outreach::testing::AnonymousCtx();
    EXPECT_EQ(r.stub().GetDashboard(ctx.get(), req, &refused).error_code(), grpc::UNAUTHENTICATED);
    EXPECT_EQ(r.stats().near_hits.load(), 1);
  }
  // The reply is in Redis under the version it was computed from, with a TTL.
  auto keys = redis_.Command({"KEYS", "test:reply:derbyshire:1:*"});
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->elements.size(), 1u);
  auto ttl = redis_.Command({"PTTL", keys->elements[0].str});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 60000);
  // The shared version follows the store.
  auto version = redis_.Command({"GET", r.cache().VersionKey("derbyshire")});
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->str, "1");

  // An acknowledged ingest is visible to the very next read.
  r.Ingest({Workshop(2)});
  v1::Dashboard after = r.Dashboard();
  EXPECT_EQ(after.workshops().workshops_delivered(), 2);
  EXPECT_EQ(after.data_version(), 2);
  EXPECT_EQ(r.stats().misses.load(), 2);
  // Series are cached the same way.
  EXPECT_EQ(r.Series().series(0).points(1).value(), 2);
  EXPECT_EQ(r.Series().series(0).points(1).value(), 2);
  EXPECT_EQ(r.stats().near_hits.load(), 2);
}

TEST_F(MetricsRedisTest, RedisLevelHitsAndTtl) {
  CacheOptions o = Cache(/*near=*/false);
  o.ttl = absl::Milliseconds(300);
  Replica r(DbPath(), &clock_, o);
  r.Ingest({Workshop(1)});
  EXPECT_EQ(r.Dashboard().workshops().workshops_delivered(), 1);
  EXPECT_EQ(r.Dashboard().workshops().workshops_delivered(), 1);
  EXPECT_EQ(r.stats().misses.load(), 1);
  EXPECT_EQ(r.stats().redis_hits.load(), 1);
  EXPECT_EQ(r.stats().near_hits.load(), 0);
  auto keys = redis_.Command({"KEYS", "test:reply:*"});
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->elements.size(), 1u);
  const std::string key = keys->elements[0].str;
  auto ttl = redis_.Command({"PTTL", key});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 300);
  // The entry expires by itself; the next read computes again.
  ASSERT_TRUE(Eventually([&] { return redis_.Command({"EXISTS", key})->integer == 0; }));
  EXPECT_EQ(r.Dashboard().workshops().workshops_delivered(), 1);
  EXPECT_EQ(r.stats().misses.load(), 2);
}

TEST_F(MetricsRedisTest, RedisDownStillServesAndCacheReturnsWithRedis) {
  Replica r(DbPath(), &clock_, Cache());
  ASSERT_TRUE(Eventually([&] { return r.cache().subscribed(); }));
  r.Ingest({Workshop(1)});
  r.Dashboard();
  r.Dashboard();
  EXPECT_EQ(r.stats().near_hits.load(), 1);

  redis_.Kill();
  ASSERT_TRUE(Eventually([&] { return !r.cache().subscribed(); }));
  // Ingest and reads keep working, from the store, with correct numbers.
  EXPECT_EQ(r.Ingest({Workshop(2)}).accepted(), 1);
  for (int i = 0; i < 3; ++i) {
    v1::Dashboard d = r.Dashboard();
    EXPECT_EQ(d.workshops().workshops_delivered(), 2);
  }
  EXPECT_GT(r.stats().errors.load(), 0);
  EXPECT_EQ(r.stats().near_hits.load(), 1);  // the near-cache is off while unsubscribed

  redis_.Start();
  ASSERT_TRUE(Eventually([&] { return r.cache().subscribed(); }));
  // The client reconnects by itself: the cache is used again.
  ASSERT_TRUE(Eventually([&] {
    r.Dashboard();
    return r.stats().near_hits.load() >= 2;
  }));
  EXPECT_EQ(r.Dashboard().workshops().workshops_delivered(), 2);
}

TEST_F(MetricsRedisTest, SlowRedisNeverFailsACall) {
  CacheOptions o = Cache();
  o.command_timeout = absl::Milliseconds(50);
  Replica r(DbPath(), &clock_, o);
  r.Ingest({Workshop(1)});
  redis_.Signal(SIGSTOP);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r.Dashboard().workshops().workshops_delivered(), 1);
  EXPECT_EQ(r.Ingest({Workshop(2)}).accepted(), 1);
  EXPECT_EQ(r.Dashboard().workshops().workshops_delivered(), 2);
  EXPECT_GT(r.stats().errors.load(), 0);
  // A stalled server answers no PING: the subscription counts as lost and the near-cache is off.
  ASSERT_TRUE(Eventually([&] { return !r.cache().subscribed(); }));
  const int64_t near_hits = r.stats().near_hits.load();
  EXPECT_EQ(r.Dashboard().workshops().workshops_delivered(), 2);
  EXPECT_EQ(r.stats().near_hits.load(), near_hits);
  redis_.Signal(SIGCONT);
  ASSERT_TRUE(Eventually([&] { return r.cache().subscribed(); }));
}

TEST_F(MetricsRedisTest, TwoReplicasNeverServeOlderThanAnAcknowledgedIngest) {
  Replica a(DbPath(), &clock_, Cache());
  Replica b(DbPath(), &clock_, Cache());
  ASSERT_TRUE(Eventually([&] { return a.cache().subscribed() && b.cache().subscribed(); }));
  a.Ingest({Workshop(0)});
  for (int round = 1; round <= 5; ++round) {
    // B holds the current dashboard in its near-cache.
    b.Dashboard();
    ASSERT_EQ(b.Dashboard().workshops().workshops_delivered(), round);
    const int64_t hits = b.stats().near_hits.load();
    EXPECT_GE(hits, round);
    // A acknowledges an ingest; once B has the invalidation, B never answers older data.
    v1::IngestEventsResponse ack = a.Ingest({Workshop(round)});
    ASSERT_EQ(ack.accepted(), 1);
    const int64_t acked_version = round + 1;
    ASSERT_TRUE(Eventually([&] { return b.cache().KnownVersion("derbyshire") >= acked_version; }));
    v1::Dashboard d = b.Dashboard();
    EXPECT_EQ(d.data_version(), acked_version);
    EXPECT_EQ(d.workshops().workshops_delivered(), round + 1);
  }
  // And A shares B's computed replies through Redis.
  const int64_t redis_hits = a.stats().redis_hits.load();
  a.Dashboard();
  EXPECT_EQ(a.stats().redis_hits.load(), redis_hits + 1);
}

TEST_F(MetricsRedisTest, LostSubscriptionDropsTheNearCache) {
  Replica a(DbPath(), &clock_, Cache());
  CacheOptions off;  // a writer that never publishes (e.g. a replica cut off from Redis)
  Replica writer(DbPath(), &clock_, off);
  ASSERT_TRUE(Eventually([&] { return a.cache().subscribed(); }));
  writer.Ingest({Workshop(1)});
  a.Dashboard();
  EXPECT_EQ(a.Dashboard().workshops().workshops_delivered(), 1);
  EXPECT_EQ(a.stats().near_hits.load(), 1);
  // A change A is never told about...
  writer.Ingest({Workshop(2)});
  // ...then A's subscription is cut: it may have missed invalidations, so it drops L1.
  const int64_t lost = a.stats().disconnects.load();
  auto killed = redis_.Command({"CLIENT", "KILL", "TYPE", "pubsub"});
  ASSERT_TRUE(killed.ok());
  EXPECT_GE(killed->integer, 1);
  ASSERT_TRUE(Eventually([&] { return a.stats().disconnects.load() > lost; }));
  EXPECT_EQ(a.Dashboard().workshops().workshops_delivered(), 2);
  ASSERT_TRUE(Eventually([&] { return a.cache().subscribed(); }));
  EXPECT_EQ(a.Dashboard().workshops().workshops_delivered(), 2);
}

TEST_F(MetricsRedisTest, WatchUpdatesAfterIngestAndEndsOnDrain) {
  Replica r(DbPath(), &clock_, Cache());
  v1::WatchDashboardRequest req;
  req.set_name("forces/derbyshire/dashboard");
  req.mutable_period()->set_kind(v1::PERIOD_KIND_ACADEMIC_YEAR);
  *req.mutable_period()->mutable_anchor_date() = ToProtoDate(testing::D(2024, 10, 1));
  auto ctx = Ctx();
  auto reader = r.stub().WatchDashboard(ctx.get(), req);
  v1::Dashboard d;
  ASSERT_TRUE(reader->Read(&d));
  EXPECT_EQ(d.workshops().workshops_delivered(), 0);
  r.Ingest({Workshop(1)});
  ASSERT_TRUE(reader->Read(&d));
  EXPECT_EQ(d.workshops().workshops_delivered(), 1);
  r.service().BeginDrain();
  while (reader->Read(&d)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(s), "SERVER_DRAINING");
}

TEST_F(MetricsRedisTest, HttpDashboardJsonAndPrometheusGauges) {
  Replica r(DbPath(), &clock_, Cache(), /*with_http=*/true);
  r.Ingest({testing::Venue("v1", "derbyshire", "school-a", cv1::VENUE_KIND_SECONDARY, "north",
                           Utc(2024, 9, 1)),
            Workshop(1)});
  httplib::Client http("127.0.0.1", r.runtime().http_port());
  // The JSON dashboard needs a token whose forces include the one asked for; /metrics is open.
  const std::string path = "/dashboard?force=derbyshire&period=ACADEMIC_YEAR&anchor=2024-10-01";
  auto anonymous = http.Get(path);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  const httplib::Headers token = {{"Authorization", "Bearer " + ::outreach::testing::TestToken()}};
  auto res = http.Get(path, token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  v1::Dashboard parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(res->body, &parsed).ok()) << res->body;
  EXPECT_EQ(parsed.workshops().workshops_delivered(), 1);
  EXPECT_THAT(res->body, ::testing::HasSubstr("\"workshopsDelivered\": \"1\""));

  auto bad = http.Get("/dashboard?force=derbyshire&period=FORTNIGHT", token);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, ::testing::HasSubstr("period"));
  EXPECT_THAT(bad->body, ::testing::HasSubstr("\"code\":\"INVALID_ARGUMENT\""));

  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr("outreach_kpi_workshops_delivered{force=\"derbyshire\",area="
                                   "\"all\"} 1"));
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr("outreach_kpi_pupils_reached{force=\"derbyshire\",area="
                                   "\"north\"} 30"));
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("outreach_metrics_cache_requests_total"));
}

// Invented forces and areas can neither push a configured force off /metrics nor make a scrape
// compute a dashboard per invented label set (reliability defect 8).
TEST_F(MetricsRedisTest, KpiGaugesCoverConfiguredForcesWithBoundedAreas) {
  Replica r(DbPath(), &clock_, Cache(), /*with_http=*/true, KpiOptions{{}, /*max_areas=*/3});
  // The operator configured derbyshire (ForceSettings); 60 invented forces send events, and
  // derbyshire itself has 10 areas.
  for (int f = 0; f < 60; ++f) {
    const std::string force = absl::StrCat("aaa-invented-", f);
    r.Ingest({testing::Venue(absl::StrCat("iv", f), force, "school", cv1::VENUE_KIND_PRIMARY,
                             "north", Utc(2024, 9, 1))},
             force);
  }
  std::vector<ev::OutreachEvent> venues;
  for (int a = 0; a < 10; ++a) {
    venues.push_back(testing::Venue(absl::StrCat("dv", a), "derbyshire", absl::StrCat("s", a),
                                    cv1::VENUE_KIND_SECONDARY, absl::StrCat("area-", a),
                                    Utc(2024, 9, 1)));
  }
  venues.push_back(Workshop(1));
  r.Ingest(venues);
  v1::GetForceSettingsRequest get;
  get.set_name("forces/derbyshire/settings");
  v1::ForceSettings defaults;
  ASSERT_TRUE(r.stub().GetForceSettings(Ctx().get(), get, &defaults).ok());
  v1::UpdateForceSettingsRequest up;
  *up.mutable_force_settings() = defaults;
  up.mutable_force_settings()->set_display_name("Derbyshire Constabulary");
  up.mutable_update_mask()->add_paths("display_name");
  v1::ForceSettings settings;
  ASSERT_TRUE(r.stub().UpdateForceSettings(Ctx().get(), up, &settings).ok());

  httplib::Client http("127.0.0.1", r.runtime().http_port());
  auto scrape = http.Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_THAT(scrape->body,
              ::testing::HasSubstr("outreach_kpi_workshops_delivered{force=\"derbyshire\",area="
                                   "\"all\"} 1"));
  EXPECT_THAT(scrape->body, ::testing::Not(::testing::HasSubstr("aaa-invented")));
  // "all" plus at most 3 areas, for each of the 13 KPI gauges.
  size_t series = 0;
  for (size_t at = scrape->body.find("outreach_kpi_data_version{"); at != std::string::npos;
       at = scrape->body.find("outreach_kpi_data_version{", at + 1)) {
    ++series;
  }
  EXPECT_EQ(series, 4u) << scrape->body;
  // A second scrape of unchanged data shows the same numbers (served from the snapshot).
  auto again = http.Get("/metrics");
  ASSERT_TRUE(again);
  EXPECT_THAT(again->body,
              ::testing::HasSubstr("outreach_kpi_workshops_delivered{force=\"derbyshire\",area="
                                   "\"all\"} 1"));
  // The gauges are set only when a force's data changed: the next delivery shows on the next
  // scrape, and the series count stays the same.
  r.Ingest({Workshop(2)});
  auto changed = http.Get("/metrics");
  ASSERT_TRUE(changed);
  EXPECT_THAT(changed->body,
              ::testing::HasSubstr("outreach_kpi_workshops_delivered{force=\"derbyshire\",area="
                                   "\"all\"} 2"));
  size_t series_after = 0;
  for (size_t at = changed->body.find("outreach_kpi_data_version{"); at != std::string::npos;
       at = changed->body.find("outreach_kpi_data_version{", at + 1)) {
    ++series_after;
  }
  EXPECT_EQ(series_after, series);
}

}  // namespace
}  // namespace outreach::metrics
