// Metrics service throughput, measured against baselines taken in the same run (issue 6
// "Benchmark"). Prints numbers; asserts nothing.
//
//  1. GetDashboard QPS, p50, p99 at concurrency 1, 8, 64 for: a bare sync gRPC echo (the
//     machine's limit), the metrics service with the Redis + near-cache, and without a cache;
//     the ratio to echo.
//  2. Ingest throughput (events/s, batches of 500 through IngestEvents, durable commits) beside a
//     raw SQLite insert rate (500-row transactions, same durability) on the same disk.
//  3. Freshness between replicas: an ingest acknowledged by replica A -> replica B serves it
//     (p50/p99, at a steady write rate; B learns through Redis pub/sub).
//  4. Uncached dashboard time over a large generated data set (N academic years).
//
//   build/<dir>/bench/metrics_bench [--seconds=3] [--years=5]
//   [--redis-server=/usr/bin/redis-server] [--only=ingest]
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/redis.h"
#include "common/security/authorizer.h"
#include "common/security/interceptor.h"
#include "common/security/tls.h"
#include "common/store_support.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "services/metrics/metrics_service.h"
#include "tests/support/pki.h"
#include "tests/support/probe_service.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_security.h"

namespace outreach::bench {
namespace {

namespace v1 = ::outreach::metrics::v1;
namespace ev = ::outreach::events::v1;
namespace cv1 = ::outreach::common::v1;
using outreach::testing::v1::GetNoteRequest;
using outreach::testing::v1::Note;
using outreach::testing::v1::ProbeService;

// A bare sync echo of a reply about the size of a dashboard.
class Echo final : public ProbeService::Service {
 public:
  grpc::Status GetNote(grpc::ServerContext*, const GetNoteRequest* req, Note* note) override {
    note->set_key(req->key());
    note->set_body(std::string(400, 'x'));
    return grpc::Status::OK;
  }
};

// Every server of the bench runs as production does: TLS, and (metrics) the security
// interceptor with the test JWKS and the shipped policy deciding each call. Clients call with a
// force administrator's token; ingest comes in with the sending service's client certificate.
class BenchSecurity {
 public:
  static BenchSecurity& Get() {
    static auto* security = new BenchSecurity();
    return *security;
  }
  const std::shared_ptr<grpc::ServerCredentials>& server() const { return server_; }
  const std::shared_ptr<grpc::ChannelCredentials>& person() const { return person_; }
  // The credentials of service `name`'s publisher (mutual TLS as spiffe://outreach/<name>).
  std::shared_ptr<grpc::ChannelCredentials> Publisher(const std::string& name) {
    auto files = pki_->IssueClient(name);
    if (!files.ok()) Fail(files.status());
    return Check(security::ChannelCredentials(*files));
  }
  const security::Authorizer* authorizer() const { return authorizer_.get(); }
  void Authorize(grpc::ClientContext* ctx) const {
    ctx->AddMetadata("authorization", "Bearer " + token_);
  }
  std::shared_ptr<grpc::Channel> Channel(int port,
                                         const std::shared_ptr<grpc::ChannelCredentials>& creds,
                                         const grpc::ChannelArguments& args = {}) const {
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), creds, args);
  }

 private:
  BenchSecurity() {
    auto pki = testing::Pki::Create(dir_.path());
    if (!pki.ok()) Fail(pki.status());
    pki_ = std::make_unique<testing::Pki>(std::move(*pki));
    auto files = pki_->IssueServer("metrics");
    if (!files.ok()) Fail(files.status());
    server_ = Check(security::ServerCredentials(*files));
    person_ = Check(security::ChannelCredentials(security::TlsFiles{"", "", pki_->ca_file()}));
    auto authorizer =
        security::Authorizer::Create(testing::TestSecuritySettings(*files), SystemClock::Get());
    if (!authorizer.ok()) Fail(authorizer.status());
    authorizer_ = std::move(*authorizer);
    token_ = testing::TestToken();
  }
  [[noreturn]] static void Fail(const absl::Status& s) {
    std::fprintf(stderr, "metrics_bench security: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
  template <typename T>
  static T Check(absl::StatusOr<T> v) {
    if (!v.ok()) Fail(v.status());
    return *std::move(v);
  }

  TempDir dir_;
  std::unique_ptr<testing::Pki> pki_;
  std::shared_ptr<grpc::ServerCredentials> server_;
  std::shared_ptr<grpc::ChannelCredentials> person_;
  std::unique_ptr<security::Authorizer> authorizer_;
  std::string token_;
};

struct Result {
  double qps = 0, p50_us = 0, p99_us = 0;
  int64_t errors = 0;
};

// Closed-loop clients, one connection each; `call` makes one call on client `c`'s channel.
Result Drive(int port, int concurrency, absl::Duration duration,
             const std::function<std::function<bool()>(std::shared_ptr<grpc::Channel>)>& make) {
  std::vector<std::thread> clients;
  std::vector<std::vector<double>> latencies(concurrency);
  std::atomic<bool> measuring{false}, stop{false};
  std::atomic<int64_t> errors{0};
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&, c] {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      auto call = make(BenchSecurity::Get().Channel(port, BenchSecurity::Get().person(), args));
      while (!stop.load(std::memory_order_relaxed)) {
        const absl::Time begin = absl::Now();
        const bool ok = call();
        if (measuring.load(std::memory_order_relaxed)) {
          latencies[c].push_back(absl::ToDoubleMicroseconds(absl::Now() - begin));
          if (!ok) errors++;
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(300));  // warm-up
  measuring = true;
  const absl::Time begin = absl::Now();
  absl::SleepFor(duration);
  measuring = false;
  const absl::Duration elapsed = absl::Now() - begin;
  stop = true;
  for (auto& t : clients) t.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.qps = static_cast<double>(all.size()) / absl::ToDoubleSeconds(elapsed);
  if (!all.empty()) {
    r.p50_us = all[all.size() / 2];
    r.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  r.errors = errors.load();
  return r;
}

absl::Time Utc(int y, int m, int d, int h = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0), absl::UTCTimeZone());
}

ev::OutreachEvent Delivery(int64_t i, absl::Time when) {
  ev::OutreachEvent e;
  e.set_event_id(absl::StrCat("wd-", i));
  e.set_force("derbyshire");
  e.set_source("workshops");
  e.set_subject(absl::StrCat("forces/derbyshire/workshops/w", i));
  *e.mutable_occurred_time() = ToProtoTime(when);
  auto* p = e.mutable_workshop_delivered();
  p->set_venue(absl::StrCat("forces/derbyshire/venues/school-", i % 300));
  p->set_venue_kind(cv1::VENUE_KIND_SECONDARY);
  p->set_area(absl::StrCat("area-", i % 12));
  p->add_audiences(cv1::WORKSHOP_AUDIENCE_PUPILS);
  p->add_topics(absl::StrCat("forces/derbyshire/topics/t", i % 6));
  *p->mutable_delivered_time() = ToProtoTime(when);
  auto* y = p->mutable_headcount()->add_pupils();
  y->set_year_group(8);
  y->set_pupils(28);
  p->mutable_headcount()->set_staff(2);
  p->mutable_feedback()->set_responses(20);
  p->mutable_feedback()->set_ratings_count(10);
  p->mutable_feedback()->set_ratings_sum(42);
  return e;
}

ev::OutreachEvent Engagement(int64_t i, absl::CivilDay day) {
  ev::OutreachEvent e;
  e.set_event_id(absl::StrCat("eng-", i));
  e.set_force("derbyshire");
  e.set_source("campaigns");
  e.set_subject(absl::StrCat("forces/derbyshire/activities/a", i % 40));
  *e.mutable_occurred_time() = ToProtoTime(StartOfLocalDay(day) + absl::Hours(20));
  auto* p = e.mutable_engagement_reported();
  p->set_campaign("forces/derbyshire/campaigns/c1");
  p->set_channel(static_cast<cv1::Channel>(1 + i % 6));
  p->add_audiences(cv1::CAMPAIGN_AUDIENCE_PARENTS);
  *p->mutable_day() = ToProtoDate(day);
  p->set_revision(1);
  p->set_impressions(1000);
  p->set_reach(400);
  p->set_engagements(30);
  p->set_clicks(10);
  return e;
}

struct Served {
  std::unique_ptr<metrics::MetricsServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

Served Serve(db::Database* db, const Clock* clock, const metrics::CacheOptions& cache,
             MetricsRegistry* registry) {
  Served s;
  static PageTokenCodec tokens("bench");
  s.service = metrics::MakeMetricsService(ServiceContext{db, clock, &tokens, registry}, cache);
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", BenchSecurity::Get().server(), &s.port);
  b.RegisterService(s.service.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(
      security::MakeSecurityInterceptor(BenchSecurity::Get().authorizer(), nullptr));
  b.experimental().SetInterceptorCreators(std::move(factories));
  s.server = b.BuildAndStart();
  return s;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * p))];
}

int Main(int argc, char** argv) {
  int seconds = 3;
  int years = 5;
  std::string redis_binary = "/usr/bin/redis-server";
  std::string only;  // "ingest": only the ingest stage
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--seconds=")) (void)absl::SimpleAtoi(arg, &seconds);
    if (absl::ConsumePrefix(&arg, "--years=")) (void)absl::SimpleAtoi(arg, &years);
    if (absl::ConsumePrefix(&arg, "--redis-server=")) redis_binary = std::string(arg);
    if (absl::ConsumePrefix(&arg, "--only=")) only = std::string(arg);
  }
  TempDir dir;
  SystemClock* clock = SystemClock::Get();
  MetricsRegistry registry;
  std::printf("metrics_bench: %u cores, client and server in one process, %ds per cell\n",
              std::thread::hardware_concurrency(), seconds);

  // Redis for the cached runs.
  std::unique_ptr<testing::ChildProcess> redis;
  std::string redis_address = "off";
  if (std::filesystem::exists(redis_binary)) {
    const int port = ::outreach::testing::FreeLoopbackPort();
    redis = std::make_unique<testing::ChildProcess>(
        redis_binary, std::vector<std::string>{"--port", absl::StrCat(port), "--bind", "127.0.0.1",
                                               "--dir", dir.path(), "--save", "", "--appendonly",
                                               "no", "--logfile", dir.File("redis.log")});
    redis->Start();
    redis::Options o;
    o.port = port;
    o.retry_interval = absl::ZeroDuration();
    redis::Client probe(o);
    for (int i = 0; i < 100 && !probe.Command({"PING"}).ok(); ++i) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    redis_address = absl::StrCat("127.0.0.1:", port);
  } else {
    std::printf("(no redis-server: cached rows skipped)\n");
  }

  // --- 2. ingest vs raw SQLite ----------------------------------------------------------
  {
    constexpr int kBatches = 20, kBatch = 500;
    // Events spread over `spread_days` local days (300: every event of a batch on another day,
    // the worst case for rollups; 7: a publisher's batch of recent changes).
    auto ingest = [&](int spread_days, std::vector<v1::IngestEventsRequest>* out) -> double {
      auto db = db::Database::Open(dir.File(absl::StrCat("ingest-", spread_days, ".db")),
                                   metrics::MetricsServiceSpec().schema);
      if (!db.ok()) return 0;
      Served s = Serve(db->get(), clock, metrics::CacheOptions{}, nullptr);
      // Deliveries come from workshops, engagement from campaigns: each sender its own request.
      std::map<ev::OutreachEvent::PayloadCase, std::unique_ptr<v1::MetricsService::Stub>> senders;
      senders[ev::OutreachEvent::kWorkshopDelivered] = v1::MetricsService::NewStub(
          BenchSecurity::Get().Channel(s.port, BenchSecurity::Get().Publisher("workshops")));
      senders[ev::OutreachEvent::kEngagementReported] = v1::MetricsService::NewStub(
          BenchSecurity::Get().Channel(s.port, BenchSecurity::Get().Publisher("campaigns")));
      std::vector<v1::IngestEventsRequest> requests(kBatches);
      int64_t n = 0;
      for (auto& r : requests) {
        r.set_parent("forces/derbyshire");
        for (int i = 0; i < kBatch; ++i, ++n) {
          const absl::CivilDay day = absl::CivilDay(2024, 9, 1) + n % spread_days;
          *r.add_events() =
              n % 2 == 0 ? Delivery(n, StartOfLocalDay(day) + absl::Hours(11)) : Engagement(n, day);
        }
      }
      std::vector<std::pair<v1::MetricsService::Stub*, v1::IngestEventsRequest>> sends;
      for (const auto& r : requests) {
        std::map<ev::OutreachEvent::PayloadCase, v1::IngestEventsRequest> by_sender;
        for (const auto& e : r.events()) {
          v1::IngestEventsRequest& part = by_sender[e.payload_case()];
          part.set_parent(r.parent());
          *part.add_events() = e;
        }
        for (auto& [kind, part] : by_sender) {
          sends.emplace_back(senders[kind].get(), std::move(part));
        }
      }
      const absl::Time begin = absl::Now();
      for (const auto& [stub, r] : sends) {
        v1::IngestEventsResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
        if (!stub->IngestEvents(&ctx, r, &resp).ok()) std::printf("ingest failed\n");
      }
      const double rate = kBatches * kBatch / absl::ToDoubleSeconds(absl::Now() - begin);
      s.server->Shutdown();
      *out = std::move(requests);
      return rate;
    };
    // The same batches straight into the store, without gRPC, TLS and the security check:
    // what the storage alone costs, beside the raw insert below.
    auto store_only = [&](int spread_days, const std::vector<v1::IngestEventsRequest>& requests) {
      auto db = db::Database::Open(dir.File(absl::StrCat("store-", spread_days, ".db")),
                                   metrics::MetricsServiceSpec().schema);
      if (!db.ok()) return 0.0;
      auto store = metrics::NewSqlMetricsStore(db->get());
      const absl::Time begin = absl::Now();
      for (const auto& r : requests) {
        if (!store->Ingest("derbyshire", r.events(), clock->Now()).ok()) {
          std::printf("store ingest failed\n");
        }
      }
      return kBatches * kBatch / absl::ToDoubleSeconds(absl::Now() - begin);
    };
    auto raw = db::Database::Open(
        dir.File("raw.db"),
        {{"raw",
          {{1, "t",
            "CREATE TABLE t (force TEXT, id TEXT, body BLOB, PRIMARY KEY (force, "
            "id))"}}}});
    // The raw insert rate, measured before and after the ingest runs; the higher is the
    // baseline (the disk's limit), as a busy moment only ever lowers it.
    auto raw_insert = [&](int round, const std::string& body) {
      const absl::Time raw_begin = absl::Now();
      for (int b = 0; b < kBatches; ++b) {
        (void)(*raw)->Write([&](db::Connection& c) -> absl::Status {
          // One prepared statement per transaction, as the store reuses its statements.
          auto st = c.Prepare("INSERT INTO t (force, id, body) VALUES (?, ?, ?)");
          if (!st.ok()) return st.status();
          for (int i = 0; i < kBatch; ++i) {
            if (auto r = st->Reset(); !r.ok()) return r;
            st->Bind(1, "derbyshire")
                .Bind(2, absl::StrCat(round, "-", b, "-", i))
                .BindBlob(3, body);
            if (auto r = st->Run(); !r.ok()) return r;
          }
          return absl::OkStatus();
        });
      }
      return kBatches * kBatch / absl::ToDoubleSeconds(absl::Now() - raw_begin);
    };
    std::vector<v1::IngestEventsRequest> requests;
    const double spread_rate = ingest(300, &requests);
    const std::string body = requests[0].events(0).SerializeAsString();
    const double raw_before = raw_insert(0, body);
    const double spread_store_rate = store_only(300, requests);
    const double ingest_rate = ingest(7, &requests);
    const double store_rate = store_only(7, requests);
    const double raw_after = raw_insert(1, body);
    const double raw_rate = std::max(raw_before, raw_after);
    std::printf("\nraw SQLite insert before / after: %.0f / %.0f rows/s", raw_before, raw_after);
    std::printf(
        "\ningest (batches of %d, durable): %.0f events/s (events over 7 days), %.0f events/s "
        "(over 300 days); raw SQLite insert: %.0f rows/s (ratios %.2f, %.2f)\n",
        kBatch, ingest_rate, spread_rate, raw_rate, ingest_rate / raw_rate, spread_rate / raw_rate);
    std::printf(
        "store alone (no gRPC): %.0f events/s over 7 days, %.0f over 300 days (ratios %.2f, "
        "%.2f)\n",
        store_rate, spread_store_rate, store_rate / raw_rate, spread_store_rate / raw_rate);
  }

  if (only == "ingest") return 0;

  // --- 1. dashboard QPS: echo, cached, uncached -------------------------------------------
  auto db = db::Database::Open(dir.File("metrics.db"), metrics::MetricsServiceSpec().schema);
  if (!db.ok()) return 1;
  {
    // A term of data: 2000 deliveries, 3000 engagement days.
    auto store = metrics::NewSqlMetricsStore(db->get());
    google::protobuf::RepeatedPtrField<ev::OutreachEvent> batch;
    for (int64_t i = 0; i < 5000; ++i) {
      const absl::CivilDay day = absl::CivilDay(2024, 9, 1) + i % 120;
      *batch.Add() =
          i % 5 < 2 ? Delivery(i, StartOfLocalDay(day) + absl::Hours(11)) : Engagement(i, day);
      if (batch.size() == 500) {
        (void)store->Ingest("derbyshire", batch, clock->Now());
        batch.Clear();
      }
    }
  }
  v1::GetDashboardRequest dash;
  dash.set_name("forces/derbyshire/dashboard");
  dash.mutable_period()->set_kind(v1::PERIOD_KIND_ACADEMIC_YEAR);
  *dash.mutable_period()->mutable_anchor_date() = ToProtoDate(absl::CivilDay(2024, 10, 1));
  auto dashboard_call = [&](const std::shared_ptr<grpc::Channel>& ch) -> std::function<bool()> {
    auto stub = std::shared_ptr<v1::MetricsService::Stub>(v1::MetricsService::NewStub(ch));
    return [stub, &dash] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      BenchSecurity::Get().Authorize(&ctx);
      v1::Dashboard d;
      return stub->GetDashboard(&ctx, dash, &d).ok();
    };
  };
  std::printf("\nGetDashboard (academic year, whole force, 5000 events stored)\n");
  std::printf("%-22s %5s %10s %10s %10s %8s %8s\n", "variant", "conc", "qps", "p50_us", "p99_us",
              "vs_echo", "p99/echo");
  std::map<int, Result> echo;
  {
    Echo service;
    int port = 0;
    grpc::ServerBuilder b;
    // The same TLS as the metrics servers; no interceptor: the baseline is gRPC alone.
    b.AddListeningPort("127.0.0.1:0", BenchSecurity::Get().server(), &port);
    b.RegisterService(&service);
    auto server = b.BuildAndStart();
    for (int conc : {1, 8, 64}) {
      echo[conc] = Drive(port, conc, absl::Seconds(seconds), [](auto ch) -> std::function<bool()> {
        auto stub = std::shared_ptr<ProbeService::Stub>(ProbeService::NewStub(ch));
        return [stub] {
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
          GetNoteRequest req;
          req.set_key("k");
          Note n;
          return stub->GetNote(&ctx, req, &n).ok();
        };
      });
      const Result& r = echo[conc];
      std::printf("%-22s %5d %10.0f %10.0f %10.0f %8.2f %8.2f\n", "echo (sync)", conc, r.qps,
                  r.p50_us, r.p99_us, 1.0, 1.0);
      std::fflush(stdout);
    }
    server->Shutdown();
  }
  struct Variant {
    const char* name;
    metrics::CacheOptions cache;
  };
  std::vector<Variant> variants;
  if (redis_address != "off") {
    metrics::CacheOptions near;
    near.redis_address = redis_address;
    variants.push_back({"cached (near+redis)", near});
    metrics::CacheOptions l2 = near;
    l2.near_cache = false;
    variants.push_back({"cached (redis only)", l2});
  }
  variants.push_back({"uncached", metrics::CacheOptions{}});
  for (const auto& v : variants) {
    Served s = Serve(db->get(), clock, v.cache, &registry);
    absl::SleepFor(absl::Milliseconds(200));  // let the subscription come up
    for (int conc : {1, 8, 64}) {
      Result r = Drive(s.port, conc, absl::Seconds(seconds), dashboard_call);
      std::printf("%-22s %5d %10.0f %10.0f %10.0f %8.2f %8.2f%s\n", v.name, conc, r.qps, r.p50_us,
                  r.p99_us, r.qps / echo[conc].qps, r.p99_us / echo[conc].p99_us,
                  r.errors > 0 ? absl::StrCat("  (", r.errors, " errors)").c_str() : "");
      std::fflush(stdout);
    }
    s.service->BeginDrain();
    s.server->Shutdown();
  }

  // --- 3. freshness between replicas -------------------------------------------------------
  if (redis_address != "off") {
    metrics::CacheOptions near;
    near.redis_address = redis_address;
    Served a = Serve(db->get(), clock, near, &registry);
    Served b = Serve(db->get(), clock, near, &registry);
    absl::SleepFor(absl::Milliseconds(300));
    // Deliveries into A as the workshops publisher sends them; dashboards from B as a person.
    auto stub_a = v1::MetricsService::NewStub(
        BenchSecurity::Get().Channel(a.port, BenchSecurity::Get().Publisher("workshops")));
    auto stub_b = v1::MetricsService::NewStub(
        BenchSecurity::Get().Channel(b.port, BenchSecurity::Get().person()));
    std::vector<double> lags;
    const absl::Time end = absl::Now() + absl::Seconds(seconds);
    int64_t i = 100000;
    while (absl::Now() < end) {
      v1::IngestEventsRequest req;
      req.set_parent("forces/derbyshire");
      *req.add_events() = Delivery(i++, Utc(2024, 10, 2));
      v1::IngestEventsResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      if (!stub_a->IngestEvents(&ctx, req, &resp).ok()) continue;
      const absl::Time acked = absl::Now();
      const int64_t want = b.service->store()->DataVersion("derbyshire").value_or(0);
      for (;;) {
        grpc::ClientContext c2;
        c2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        BenchSecurity::Get().Authorize(&c2);
        v1::Dashboard d;
        if (stub_b->GetDashboard(&c2, dash, &d).ok() && d.data_version() >= want) break;
      }
      lags.push_back(absl::ToDoubleMicroseconds(absl::Now() - acked));
      absl::SleepFor(absl::Milliseconds(20));  // steady write rate, ~40/s
    }
    std::printf(
        "\nfreshness (ack on replica A -> served by replica B, %zu writes): p50 %.0f us, "
        "p99 %.0f us\n",
        lags.size(), Percentile(lags, 0.5), Percentile(lags, 0.99));
    a.service->BeginDrain();
    b.service->BeginDrain();
    a.server->Shutdown();
    b.server->Shutdown();
  }

  // --- 4. uncached dashboard over a large data set --------------------------------------------
  {
    auto big = db::Database::Open(dir.File("big.db"), metrics::MetricsServiceSpec().schema);
    if (!big.ok()) return 1;
    auto store = metrics::NewSqlMetricsStore(big->get());
    google::protobuf::RepeatedPtrField<ev::OutreachEvent> batch;
    int64_t n = 0;
    const absl::Time gen_begin = absl::Now();
    // Per academic year: 4000 workshops, 40 activities reporting daily.
    for (int y = 0; y < years; ++y) {
      const absl::CivilDay start(2019 + y, 9, 1);
      for (int i = 0; i < 4000; ++i, ++n) {
        *batch.Add() = Delivery(n, StartOfLocalDay(start + (i * 365) / 4000) + absl::Hours(11));
        if (batch.size() == 500) {
          (void)store->Ingest("derbyshire", batch, clock->Now());
          batch.Clear();
        }
      }
      for (int d = 0; d < 365; ++d) {
        for (int a = 0; a < 40; ++a, ++n) {
          ev::OutreachEvent e = Engagement(n, start + d);
          e.set_subject(absl::StrCat("forces/derbyshire/activities/a", a));
          *batch.Add() = e;
          if (batch.size() == 500) {
            (void)store->Ingest("derbyshire", batch, clock->Now());
            batch.Clear();
          }
        }
      }
    }
    if (!batch.empty()) (void)store->Ingest("derbyshire", batch, clock->Now());
    const double gen_s = absl::ToDoubleSeconds(absl::Now() - gen_begin);
    std::vector<double> times;
    const metrics::DayRange whole{absl::CivilDay(2019, 9, 1), absl::CivilDay(2019 + years, 8, 31)};
    const metrics::DayRange year{absl::CivilDay(2019 + years - 1, 9, 1),
                                 absl::CivilDay(2019 + years, 8, 31)};
    std::vector<double> whole_times;
    for (int i = 0; i < 20; ++i) {
      absl::Time t = absl::Now();
      (void)store->ComputeDashboard("derbyshire", year, "", clock->Now());
      times.push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
      t = absl::Now();
      (void)store->ComputeDashboard("derbyshire", whole, "", clock->Now());
      whole_times.push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
    }
    std::printf(
        "\nlarge data set: %d academic years, %lld events (generated in %.1f s, %.0f "
        "events/s)\n  uncached dashboard, one academic year: p50 %.1f ms, p99 %.1f ms\n"
        "  uncached dashboard, all %d years: p50 %.1f ms, p99 %.1f ms\n",
        years, static_cast<long long>(n), gen_s, static_cast<double>(n) / gen_s,
        Percentile(times, 0.5), Percentile(times, 0.99), years, Percentile(whole_times, 0.5),
        Percentile(whole_times, 0.99));
  }
  return 0;
}

}  // namespace
}  // namespace outreach::bench

int main(int argc, char** argv) { return outreach::bench::Main(argc, argv); }
