// Freshness: how long after a domain service acknowledges a write the metrics dashboard shows
// it, at a steady write rate — through the real path (workshops commits the change and its
// outbox event in one transaction, the outbox publisher delivers it to metrics.IngestEvents,
// metrics' rollups change) — against a baseline measured in the same run: the same kind of
// event sent straight to IngestEvents (no outbox, no publisher).
//
// Real `metrics` and `workshops` binaries from this build, as processes on loopback.
//   build/default/bench/freshness_bench [--writes=40] [--rate=5]
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "grpcpp/create_channel.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/pki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_security.h"
#include "tests/unit/metrics_test_events.h"

namespace outreach::bench {
namespace {

namespace mt = outreach::metrics::v1;
namespace ws = outreach::workshops::v1;
using outreach::testing::ChildProcess;

// As a person calls: a force administrator's token for both forces the bench uses.
std::unique_ptr<grpc::ClientContext> Ctx() {
  static const std::string* token =
      new std::string(testing::TestToken({.forces = {"direct", "derbyshire"}}));
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ctx->AddMetadata("authorization", "Bearer " + *token);
  return ctx;
}

// A TLS channel to loopback `port`, presenting `files`' certificate when it has one.
std::shared_ptr<grpc::Channel> Channel(const std::string& port, const security::TlsFiles& files) {
  auto credentials = security::ChannelCredentials(files);
  if (!credentials.ok()) {
    std::fprintf(stderr, "%s\n", std::string(credentials.status().message()).c_str());
    std::exit(1);
  }
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), *credentials);
}

// Security flags for binary `name`: its own certificate from the bench's PKI.
std::vector<std::string> WithSecurity(testing::Pki& pki, const std::string& name,
                                      std::vector<std::string> args) {
  auto files = pki.IssueServer(name);
  if (!files.ok()) {
    std::fprintf(stderr, "%s\n", std::string(files.status().message()).c_str());
    std::exit(1);
  }
  for (auto& flag : testing::SecurityFlags(*files)) args.push_back(std::move(flag));
  return args;
}

int64_t SchoolsTotal(mt::MetricsService::Stub& metrics, const std::string& force) {
  mt::GetDashboardRequest req;
  req.set_name(absl::StrCat("forces/", force, "/dashboard"));
  req.mutable_period()->set_kind(mt::PERIOD_KIND_ACADEMIC_YEAR);
  mt::Dashboard d;
  if (!metrics.GetDashboard(Ctx().get(), req, &d).ok()) return -1;
  return d.workshops().schools_total();
}

struct Stats {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

Stats Summarise(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Stats s;
  if (ms.empty()) return s;
  s.p50_ms = ms[ms.size() / 2];
  s.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  s.max_ms = ms.back();
  return s;
}

// Runs `writes` writes at `rate` per second; after each acknowledged write, polls the dashboard
// every millisecond until schools_total reaches the expected count and records the wait.
std::vector<double> Measure(int writes, int rate, const std::function<bool(int)>& write,
                            const std::function<int64_t()>& visible) {
  std::vector<double> ms;
  const absl::Duration slot = absl::Seconds(1) / rate;
  absl::Time next = absl::Now();
  for (int i = 0; i < writes; ++i) {
    absl::SleepFor(next - absl::Now());
    next += slot;
    if (!write(i)) {
      std::fprintf(stderr, "write %d failed\n", i);
      continue;
    }
    const absl::Time acked = absl::Now();
    while (visible() < i + 1 && absl::Now() - acked < absl::Seconds(10)) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - acked));
  }
  return ms;
}

int Main(int argc, char** argv) {
  int writes = 40;
  int rate = 5;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--writes=")) (void)absl::SimpleAtoi(arg, &writes);
    if (absl::ConsumePrefix(&arg, "--rate=")) (void)absl::SimpleAtoi(arg, &rate);
  }
  TempDir dir;
  // TLS, tokens and the shipped policy, as production runs; workshops publishes to metrics over
  // mutual TLS with its own certificate.
  auto pki = testing::Pki::Create(dir.path());
  if (!pki.ok()) return 1;
  const int metrics_port = testing::FreeLoopbackPort();
  ChildProcess metrics(
      OUTREACH_METRICS_BIN,
      WithSecurity(
          *pki, "metrics",
          {absl::StrCat("--grpc-address=127.0.0.1:", metrics_port), "--http-address=off",
           "--log-level=warn", "--redis-address=off", "--db-path=" + dir.File("metrics.db")}));
  ChildProcess workshops(
      OUTREACH_WORKSHOPS_BIN,
      WithSecurity(*pki, "workshops",
                   {"--grpc-address=127.0.0.1:0", "--http-address=off",
                    "--db-path=" + dir.File("workshops.db"),
                    absl::StrCat("--metrics-address=localhost:", metrics_port)}));
  if (!metrics.Start() || metrics.WaitForLogValue("grpc_port", absl::Seconds(20)).empty()) {
    // --log-level=warn hides server_started; wait for the port instead.
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!testing::LoopbackPortAnswers(metrics_port) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  if (!workshops.Start()) return 1;
  const std::string workshops_port = workshops.WaitForLogValue("grpc_port", absl::Seconds(20));
  if (workshops_port.empty()) {
    std::fprintf(stderr, "workshops did not start:\n%s", workshops.Stderr().c_str());
    return 1;
  }
  const security::TlsFiles person{"", "", pki->ca_file()};
  auto metrics_stub = mt::MetricsService::NewStub(Channel(absl::StrCat(metrics_port), person));
  auto workshops_stub = ws::WorkshopsService::NewStub(Channel(workshops_port, person));
  // The baseline's direct ingest comes in as the workshops publisher's would: its certificate.
  auto publisher_files = pki->IssueClient("workshops");
  if (!publisher_files.ok()) return 1;
  auto ingest_stub =
      mt::MetricsService::NewStub(Channel(absl::StrCat(metrics_port), *publisher_files));

  std::printf("freshness: acknowledged write -> visible on GetDashboard, %d writes at %d/s\n",
              writes, rate);
  // Baseline: venue events straight into metrics.
  const std::vector<double> direct = Measure(
      writes, rate,
      [&](int i) {
        mt::IngestEventsRequest req;
        req.set_parent("forces/direct");
        *req.add_events() = metrics::testing::Venue(
            absl::StrCat("ev-", i), "direct", absl::StrCat("school-", i),
            outreach::common::v1::VENUE_KIND_SECONDARY, "north", absl::Now());
        mt::IngestEventsResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        return ingest_stub->IngestEvents(&ctx, req, &resp).ok() && resp.accepted() == 1;
      },
      [&] { return SchoolsTotal(*metrics_stub, "direct"); });
  // The real path: CreateVenue on workshops -> outbox -> publisher -> IngestEvents.
  const std::vector<double> through = Measure(
      writes, rate,
      [&](int i) {
        ws::CreateVenueRequest req;
        req.set_parent("forces/derbyshire");
        req.set_venue_id(absl::StrCat("school-", i));
        req.mutable_venue()->set_display_name(absl::StrCat("Example School ", i));
        req.mutable_venue()->set_kind(outreach::common::v1::VENUE_KIND_SECONDARY);
        req.mutable_venue()->set_area("north");
        req.mutable_venue()->set_pupil_roll(900);
        ws::Venue venue;
        return workshops_stub->CreateVenue(Ctx().get(), req, &venue).ok();
      },
      [&] { return SchoolsTotal(*metrics_stub, "derbyshire"); });
  const Stats a = Summarise(direct);
  const Stats b = Summarise(through);
  std::printf("%-32s %8s %8s %8s\n", "path", "p50_ms", "p99_ms", "max_ms");
  std::printf("%-32s %8.1f %8.1f %8.1f\n", "IngestEvents direct (baseline)", a.p50_ms, a.p99_ms,
              a.max_ms);
  std::printf("%-32s %8.1f %8.1f %8.1f\n", "workshops -> outbox -> metrics", b.p50_ms, b.p99_ms,
              b.max_ms);
  std::printf(
      "through/direct p50 ratio %.1f (publisher poll interval 100 ms); target p99 <= "
      "1000 ms: %s\n",
      a.p50_ms > 0 ? b.p50_ms / a.p50_ms : 0.0, b.p99_ms <= 1000 ? "met" : "missed");
  workshops.Signal(SIGTERM);
  metrics.Signal(SIGTERM);
  workshops.Wait(absl::Seconds(10));
  metrics.Wait(absl::Seconds(10));
  return 0;
}

}  // namespace
}  // namespace outreach::bench

int main(int argc, char** argv) { return outreach::bench::Main(argc, argv); }
