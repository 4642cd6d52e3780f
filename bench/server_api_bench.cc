// Chooses the server API for DB-bound handlers by measurement (README "Architecture").
//
// One process, one SQLite file (WAL, 10k notes), the same GetNote handler (a primary-key read)
// served four ways, each driven by closed-loop clients at concurrency 1, 8 and 64:
//   echo            callback API, no DB           — the machine's gRPC ceiling (baseline)
//   sync            sync API, DB read on the gRPC thread pool
//   callback-inline callback API, DB read on the reactor thread (blocks it)
//   callback-pool   callback API, DB read handed to a bounded pool of 4 threads
// Prints QPS, p50, p99 and QPS as a ratio of echo measured in the same run.
//
//   build/default/bench/server_api_bench [--seconds=3]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/db.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/work_pool.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "tests/support/probe_service.h"
#include "tests/support/temp_dir.h"

namespace outreach::bench {
namespace {

using outreach::testing::v1::GetNoteRequest;
using outreach::testing::v1::Note;
using outreach::testing::v1::ProbeService;

enum class Mode { kEcho, kInline, kPool };

class CallbackProbe final : public ProbeService::CallbackService {
 public:
  CallbackProbe(db::Database* db, Mode mode, WorkPool* pool) : db_(db), mode_(mode), pool_(pool) {}
  grpc::ServerUnaryReactor* GetNote(grpc::CallbackServerContext* ctx, const GetNoteRequest* req,
                                    Note* note) override {
    auto* reactor = ctx->DefaultReactor();
    if (mode_ == Mode::kEcho) {
      note->set_key(req->key());
      note->set_body(std::string(1024, 'x'));
      reactor->Finish(grpc::Status::OK);
    } else if (mode_ == Mode::kInline) {
      reactor->Finish(ToGrpcStatus(testing::GetNote(*db_, req->key(), note), "bench"));
    } else {
      const bool queued = pool_->TrySubmit([this, reactor, req, note] {
        reactor->Finish(ToGrpcStatus(testing::GetNote(*db_, req->key(), note), "bench"));
      });
      if (!queued) reactor->Finish(ToGrpcStatus(Overloaded(), "bench"));
    }
    return reactor;
  }

 private:
  db::Database* db_;
  Mode mode_;
  WorkPool* pool_;
};

struct Result {
  double qps = 0;
  double p50_us = 0;
  double p99_us = 0;
};

Result Drive(int port, int concurrency, absl::Duration duration) {
  std::vector<std::thread> clients;
  clients.reserve(concurrency);
  std::vector<std::vector<double>> latencies(concurrency);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> errors{0};
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&, c] {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per client
      auto stub = ProbeService::NewStub(grpc::CreateCustomChannel(
          absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
      GetNoteRequest req;
      int i = c;
      while (!stop.load(std::memory_order_relaxed)) {
        req.set_key(absl::StrCat("n", (i++ * 7919) % 10000));
        Note note;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        const absl::Time begin = absl::Now();
        grpc::Status s = stub->GetNote(&ctx, req, &note);
        latencies[c].push_back(absl::ToDoubleMicroseconds(absl::Now() - begin));
        if (!s.ok()) errors++;
      }
    });
  }
  // Warm up, then measure only the calls that finish inside the window.
  absl::SleepFor(absl::Milliseconds(500));
  std::vector<size_t> marks(concurrency);
  // Reading sizes while clients append is racy; measure by total count instead.
  (void)marks;
  const absl::Time begin = absl::Now();
  absl::SleepFor(duration);
  stop = true;
  const absl::Duration elapsed = absl::Now() - begin;
  for (auto& t : clients) t.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Result r;
  // Calls over warm-up + window; rate over the same span.
  r.qps =
      static_cast<double>(all.size()) / absl::ToDoubleSeconds(elapsed + absl::Milliseconds(500));
  if (!all.empty()) {
    r.p50_us = all[all.size() / 2];
    r.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  if (errors > 0) std::printf("  (%lld errors)\n", static_cast<long long>(errors.load()));
  return r;
}

// Work done in 100 ms of spinning: a drop between two readings means the host stole CPU.
double SpinRate() {
  const absl::Time end = absl::Now() + absl::Milliseconds(100);
  volatile uint64_t x = 0;
  uint64_t loops = 0;
  while (absl::Now() < end) {
    for (int i = 0; i < 1000; ++i) x = x + i;
    ++loops;
  }
  return static_cast<double>(loops);
}

int Main(int argc, char** argv) {
  int seconds = 3;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::StartsWith(arg, "--seconds=")) (void)absl::SimpleAtoi(arg.substr(10), &seconds);
  }
  TempDir dir;
  auto db = db::Database::Open(dir.File("bench.db"), testing::ProbeSchema());
  if (!db.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(db.status().message()).c_str());
    return 1;
  }
  for (int i = 0; i < 10000; ++i) {
    Note n;
    n.set_key(absl::StrCat("n", i));
    n.set_body(std::string(1024, 'x'));
    (void)testing::PutNote(**db, n);
  }
  const double spin_before = SpinRate();
  std::printf(
      "server API for a DB-bound handler (SQLite PK read, 1 KiB reply), %ds per run, "
      "%u cores, client and server in one process\n",
      seconds, std::thread::hardware_concurrency());
  std::printf("%-16s %5s %10s %10s %10s %8s\n", "variant", "conc", "qps", "p50_us", "p99_us",
              "vs_echo");
  WorkPool pool("bench", 4, 1024);  // the pool metrics uses (common/work_pool.h)
  const std::vector<int> concurrencies = {1, 8, 64};
  std::map<int, double> echo_qps;
  for (const char* name : {"echo", "sync", "callback-inline", "callback-pool"}) {
    std::unique_ptr<grpc::Service> service;
    const std::string variant = name;
    if (variant == "sync") {
      service = std::make_unique<testing::ProbeServiceImpl>(db->get());
    } else {
      Mode mode = variant == "echo"              ? Mode::kEcho
                  : variant == "callback-inline" ? Mode::kInline
                                                 : Mode::kPool;
      service = std::make_unique<CallbackProbe>(db->get(), mode, &pool);
    }
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service.get());
    auto server = builder.BuildAndStart();
    for (int conc : concurrencies) {
      Result r = Drive(port, conc, absl::Seconds(seconds));
      if (variant == "echo") echo_qps[conc] = r.qps;
      std::printf("%-16s %5d %10.0f %10.0f %10.0f %8.2f\n", name, conc, r.qps, r.p50_us, r.p99_us,
                  echo_qps[conc] > 0 ? r.qps / echo_qps[conc] : 0.0);
      std::fflush(stdout);
    }
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  const double spin_after = SpinRate();
  std::printf("cpu steal check: spin rate after/before = %.2f%s\n", spin_after / spin_before,
              spin_after / spin_before < 0.8 ? " (host was busy: numbers are pessimistic)" : "");
  return 0;
}

}  // namespace
}  // namespace outreach::bench

int main(int argc, char** argv) { return outreach::bench::Main(argc, argv); }
