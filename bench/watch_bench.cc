// WatchDashboard by the thousand (issue 15, goal 2): the real `metrics` binary holds N open
// streams (default 10 000) from this process over TLS with a token, as a dashboard wall would;
// the bench prints metrics' threads and RSS idle, with the streams open, the memory per idle
// stream, and then, for a few deliveries ingested one at a time, how long each took to reach
// every one of the N watchers (the fan-out: p50 / p99 / max over all streams, from the start of the
// IngestEvents call to the stream's message).
//
//   build/default/bench/watch_bench [--streams=10000] [--per-connection=100] [--rounds=3]
//
// The baseline is the first stream to get the message (first_ms): what one watcher waits, the
// ingest's commit included. Nothing is asserted; see bench/README.md "watch_bench".
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/proc_stat.h"
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

std::shared_ptr<grpc::Channel> Channel(int port, const security::TlsFiles& files, int index) {
  auto credentials = security::ChannelCredentials(files);
  if (!credentials.ok()) {
    std::fprintf(stderr, "%s\n", std::string(credentials.status().message()).c_str());
    std::exit(1);
  }
  grpc::ChannelArguments args;
  // A connection of its own: the server takes --max-concurrent-streams calls per connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("outreach.bench.connection", index);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), *credentials, args);
}

// What every watcher reports to: messages seen, and the arrival of the round's message.
struct Board {
  std::atomic<int64_t> first_messages{0};
  std::atomic<int64_t> errors{0};
  absl::Mutex mu;
  int64_t expect ABSL_GUARDED_BY(mu) = -1;  // workshops_delivered the round waits for
  absl::Time acked ABSL_GUARDED_BY(mu);
  std::vector<double> arrivals_ms ABSL_GUARDED_BY(mu);
};

class Watcher final : public grpc::ClientReadReactor<mt::Dashboard> {
 public:
  Watcher(mt::MetricsService::Stub* stub, const std::string& token, Board* board) : board_(board) {
    ctx_.AddMetadata("authorization", "Bearer " + token);
    mt::WatchDashboardRequest req;
    req.set_name("forces/derbyshire/dashboard");
    req.mutable_period()->set_kind(mt::PERIOD_KIND_ACADEMIC_YEAR);
    // The academic year of the deliveries the bench ingests (metrics_test_events.h: 2024-10-01).
    req.mutable_period()->mutable_anchor_date()->set_year(2024);
    req.mutable_period()->mutable_anchor_date()->set_month(10);
    req.mutable_period()->mutable_anchor_date()->set_day(1);
    stub->async()->WatchDashboard(&ctx_, &req, this);
    StartRead(&d_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!seen_first_) {
      seen_first_ = true;
      board_->first_messages.fetch_add(1);
    } else {
      absl::MutexLock lock(&board_->mu);
      if (d_.workshops().workshops_delivered() == board_->expect) {
        board_->arrivals_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - board_->acked));
      }
    }
    StartRead(&d_);
  }
  void OnDone(const grpc::Status& s) override {
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) board_->errors.fetch_add(1);
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  void Cancel() { ctx_.TryCancel(); }
  void AwaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

 private:
  Board* board_;
  grpc::ClientContext ctx_;
  mt::Dashboard d_;
  bool seen_first_ = false;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * p))];
}

int Main(int argc, char** argv) {
  int streams = 10000, per_connection = 100, rounds = 3;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--streams=")) (void)absl::SimpleAtoi(arg, &streams);
    if (absl::ConsumePrefix(&arg, "--per-connection="))
      (void)absl::SimpleAtoi(arg, &per_connection);
    if (absl::ConsumePrefix(&arg, "--rounds=")) (void)absl::SimpleAtoi(arg, &rounds);
  }
  TempDir dir;
  auto pki = testing::Pki::Create(dir.path());
  if (!pki.ok()) return 1;
  auto server_files = pki->IssueServer("metrics");
  if (!server_files.ok()) return 1;
  const int port = testing::FreeLoopbackPort();
  std::vector<std::string> args = {absl::StrCat("--grpc-address=127.0.0.1:", port),
                                   "--http-address=off",
                                   "--log-level=warn",
                                   "--redis-address=off",
                                   "--db-path=" + dir.File("metrics.db"),
                                   absl::StrCat("--max-concurrent-streams=", per_connection)};
  for (auto& flag : testing::SecurityFlags(*server_files)) args.push_back(std::move(flag));
  ChildProcess metrics(OUTREACH_METRICS_BIN, args);
  if (!metrics.Start()) return 1;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!testing::LoopbackPortAnswers(port) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const security::TlsFiles person{"", "", pki->ca_file()};
  const std::string token = testing::TestToken({.forces = {"derbyshire"}});
  auto publisher = pki->IssueClient("workshops");
  if (!publisher.ok()) return 1;
  auto ingest = mt::MetricsService::NewStub(Channel(port, *publisher, -1));
  auto ingest_one = [&](int n) {
    mt::IngestEventsRequest req;
    req.set_parent("forces/derbyshire");
    metrics::testing::Delivery w;
    w.workshop = absl::StrCat("w", n);
    *req.add_events() = metrics::testing::Delivered(absl::StrCat("e", n), w);
    mt::IngestEventsResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ingest->IngestEvents(&ctx, req, &resp).ok() && resp.accepted() == 1;
  };
  if (!ingest_one(0)) {  // the store exists and has one delivery before the streams open
    std::fprintf(stderr, "ingest failed:\n%s", metrics.Stderr().c_str());
    return 1;
  }
  absl::SleepFor(absl::Seconds(1));
  const int64_t idle_rss = ProcessRssKib(metrics.pid());
  const int64_t idle_threads = ProcessStatus(metrics.pid(), "Threads");

  Board board;
  std::vector<std::unique_ptr<mt::MetricsService::Stub>> stubs;
  std::vector<std::unique_ptr<Watcher>> watchers;
  const absl::Time open_start = absl::Now();
  for (int i = 0; i < streams; ++i) {
    if (i % per_connection == 0) {
      stubs.push_back(mt::MetricsService::NewStub(Channel(port, person, i / per_connection)));
    }
    watchers.push_back(std::make_unique<Watcher>(stubs.back().get(), token, &board));
  }
  while (board.first_messages.load() + board.errors.load() < streams &&
         absl::Now() - open_start < absl::Seconds(120)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  const double open_s = absl::ToDoubleSeconds(absl::Now() - open_start);
  absl::SleepFor(absl::Seconds(2));  // idle with every stream open
  const int64_t open_rss = ProcessRssKib(metrics.pid());
  const int64_t open_threads = ProcessStatus(metrics.pid(), "Threads");
  std::printf(
      "watch_bench: %d streams over %zu connections; %lld had their first message in "
      "%.1f s, %lld ended with an error\n",
      streams, stubs.size(), static_cast<long long>(board.first_messages.load()), open_s,
      static_cast<long long>(board.errors.load()));
  std::printf("%-34s %10s %10s\n", "metrics process", "threads", "RSS MB");
  std::printf("%-34s %10lld %10.1f\n", "idle, no stream", static_cast<long long>(idle_threads),
              static_cast<double>(idle_rss) / 1024);
  std::printf("%-34s %10lld %10.1f\n", absl::StrCat(streams, " idle streams").c_str(),
              static_cast<long long>(open_threads), static_cast<double>(open_rss) / 1024);
  std::printf("memory per idle stream: %.1f kB\n",
              static_cast<double>(open_rss - idle_rss) / std::max(1, streams));

  std::printf("%-8s %10s %10s %10s %10s %10s\n", "round", "reached", "p50_ms", "p99_ms", "max_ms",
              "first_ms");
  for (int r = 1; r <= rounds; ++r) {
    absl::SleepFor(absl::Seconds(1));  // past the streams' 500 ms coalescing gap
    {
      absl::MutexLock lock(&board.mu);
      board.expect = r + 1;
      board.arrivals_ms.clear();
      board.acked = absl::Now();  // the IngestEvents call starts now: fan-out includes it
    }
    if (!ingest_one(r)) {
      std::fprintf(stderr, "ingest %d failed\n", r);
      continue;
    }
    const absl::Time wait_until = absl::Now() + absl::Seconds(30);
    std::vector<double> got;
    while (absl::Now() < wait_until) {
      {
        absl::MutexLock lock(&board.mu);
        if (static_cast<int>(board.arrivals_ms.size()) >= streams) break;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    {
      absl::MutexLock lock(&board.mu);
      got = board.arrivals_ms;
    }
    std::printf("%-8d %10zu %10.1f %10.1f %10.1f %10.1f\n", r, got.size(), Percentile(got, 0.5),
                Percentile(got, 0.99),
                got.empty() ? 0.0 : *std::max_element(got.begin(), got.end()),
                got.empty() ? 0.0 : got.front());  // pushed in arrival order
  }
  const int64_t after_rss = ProcessRssKib(metrics.pid());
  std::printf("metrics RSS after the rounds: %.1f MB, threads %lld\n",
              static_cast<double>(after_rss) / 1024,
              static_cast<long long>(ProcessStatus(metrics.pid(), "Threads")));
  for (auto& w : watchers) w->Cancel();
  for (auto& w : watchers) w->AwaitDone();
  metrics.Signal(SIGTERM);
  metrics.Wait(absl::Seconds(10));
  return 0;
}

}  // namespace
}  // namespace outreach::bench

int main(int argc, char** argv) { return outreach::bench::Main(argc, argv); }
