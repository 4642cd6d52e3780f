// /metrics at many forces (issue 15, goal 5): the real `metrics` binary with F forces listed in
// --kpi-forces (default 50), each with deliveries in A areas (default 20, the --kpi-max-areas
// default), and the time of one GET /metrics from this process:
//  - cold: the first scrape, which computes every force's dashboards (force-wide + per area);
//  - unchanged: the next scrapes, which read one data version per force and nothing else;
//  - one force changed: after an ingest into one force, only that force's dashboards again.
// Beside them, the baseline: GET /healthz on the same port (the HTTP path with no work).
//
//   build/default/bench/scrape_bench [--forces=50] [--areas=20] [--scrapes=20]
//   [--metrics-bin=PATH]
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "tests/support/pki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_security.h"
#include "tests/unit/metrics_test_events.h"

namespace outreach::bench {
namespace {

namespace mt = outreach::metrics::v1;
using outreach::testing::ChildProcess;

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(int argc, char** argv) {
  int forces = 50, areas = 20, scrapes = 20;
  std::string metrics_bin = OUTREACH_METRICS_BIN;  // another build, for a before/after
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--forces=")) (void)absl::SimpleAtoi(arg, &forces);
    if (absl::ConsumePrefix(&arg, "--areas=")) (void)absl::SimpleAtoi(arg, &areas);
    if (absl::ConsumePrefix(&arg, "--scrapes=")) (void)absl::SimpleAtoi(arg, &scrapes);
    if (absl::ConsumePrefix(&arg, "--metrics-bin=")) metrics_bin = std::string(arg);
  }
  std::vector<std::string> names;
  for (int f = 0; f < forces; ++f) names.push_back(absl::StrCat("force-", f));
  TempDir dir;
  auto pki = testing::Pki::Create(dir.path());
  if (!pki.ok()) return 1;
  auto server_files = pki->IssueServer("metrics");
  if (!server_files.ok()) return 1;
  const int port = testing::FreeLoopbackPort();
  const int http_port = testing::FreeLoopbackPort();
  std::vector<std::string> args = {absl::StrCat("--grpc-address=127.0.0.1:", port),
                                   absl::StrCat("--http-address=127.0.0.1:", http_port),
                                   "--log-level=warn",
                                   "--redis-address=off",
                                   "--db-path=" + dir.File("metrics.db"),
                                   "--kpi-forces=" + absl::StrJoin(names, ","),
                                   absl::StrCat("--kpi-max-areas=", areas)};
  for (auto& flag : testing::SecurityFlags(*server_files)) args.push_back(std::move(flag));
  ChildProcess metrics(metrics_bin, args);
  if (!metrics.Start()) return 1;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!testing::LoopbackPortAnswers(port) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  auto publisher = pki->IssueClient("workshops");
  if (!publisher.ok()) return 1;
  auto credentials = security::ChannelCredentials(*publisher);
  if (!credentials.ok()) return 1;
  auto ingest = mt::MetricsService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), *credentials));
  int64_t n = 0;
  auto deliver = [&](const std::string& force, int area) {
    mt::IngestEventsRequest req;
    req.set_parent("forces/" + force);
    metrics::testing::Delivery w;
    w.force = force;
    w.workshop = absl::StrCat("w", ++n);
    w.venue = absl::StrCat("school-", area);
    w.area = absl::StrCat("area-", area);
    // The school first: a force's areas are its venues' (and officers' divisions).
    *req.add_events() =
        metrics::testing::Venue(absl::StrCat("v", n), force, w.venue,
                                outreach::common::v1::VENUE_KIND_SECONDARY, w.area, w.delivered);
    *req.add_events() = metrics::testing::Delivered(absl::StrCat("e", n), w);
    mt::IngestEventsResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ingest->IngestEvents(&ctx, req, &resp).ok();
  };
  for (const auto& force : names) {
    for (int a = 0; a < areas; ++a) {
      if (!deliver(force, a)) {
        std::fprintf(stderr, "ingest failed:\n%s", metrics.Stderr().c_str());
        return 1;
      }
    }
  }
  httplib::Client http("127.0.0.1", http_port);
  size_t series = 0, bytes = 0;
  auto time_get = [&](const char* path) -> double {
    const absl::Time start = absl::Now();
    auto res = http.Get(path);
    const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
    if (!res || res->status != 200) return -1;
    if (std::string(path) == "/metrics") {
      bytes = res->body.size();
      series = static_cast<size_t>(std::count(res->body.begin(), res->body.end(), '\n'));
    }
    return ms;
  };
  const double cold = time_get("/metrics");
  std::vector<double> unchanged, healthz, one_changed;
  for (int i = 0; i < scrapes; ++i) unchanged.push_back(time_get("/metrics"));
  for (int i = 0; i < scrapes; ++i) healthz.push_back(time_get("/healthz"));
  for (int i = 0; i < scrapes; ++i) {
    if (!deliver(names[static_cast<size_t>(i) % names.size()], 0)) return 1;
    one_changed.push_back(time_get("/metrics"));
  }
  std::printf(
      "scrape_bench: %d forces x %d areas (--kpi-forces, --kpi-max-areas), %zu lines, "
      "%zu bytes per /metrics\n",
      forces, areas, series, bytes);
  std::printf("%-38s %10s\n", "GET", "median ms");
  std::printf("%-38s %10.2f\n", "/healthz (baseline)", Median(healthz));
  std::printf("%-38s %10.2f\n", "/metrics, cold (every dashboard)", cold);
  std::printf("%-38s %10.2f\n", "/metrics, nothing changed", Median(unchanged));
  std::printf("%-38s %10.2f\n", "/metrics, one force changed", Median(one_changed));
  metrics.Signal(SIGTERM);
  metrics.Wait(absl::Seconds(10));
  return 0;
}

}  // namespace
}  // namespace outreach::bench

int main(int argc, char** argv) { return outreach::bench::Main(argc, argv); }
