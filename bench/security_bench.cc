// What the security layer (TLS + bearer token + policy + tenancy) costs per call, in one run:
//   A  the real `workshops` binary with --plaintext on 127.0.0.1: every call still carries a
//      token and still passes the interceptor (cached token, CheckMethod, ScopeOf, CheckScope);
//      only TLS is off. There is no "security off" mode (common/server.cc always installs the
//      interceptor), so A is the baseline and includes the token + policy path.
//   B  the same binary with TLS (test PKI certificates) + token: production.
//   C  the security layer alone, in this process: Authorizer::Authenticate with a warm token
//      cache + CheckMethod + ScopeOf + CheckScope for the same GetVenueRequest, ns/call; and a
//      cold ES256 verification (a TokenVerifier without a cache), ns/call.
// The method is GetVenue (one venue, created first). The servers run in their own processes,
// pinned to one CPU; this process is the closed-loop load (concurrency 1, 8, 64, one warm
// connection per client) pinned to the other. Server CPU per call comes from
// /proc/<pid>/stat (utime + stime) over the measured windows. Each concurrency runs A B B A,
// half the cell's time each, so drift on the shared host weighs on both alike.
//
//   build/default/bench/security_bench [--seconds=5]   (seconds per cell; about 8 x that in all)
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bench/proc_stat.h"
#include "common/clock.h"
#include "common/security/authorizer.h"
#include "common/security/jwt.h"
#include "common/security/tenancy.h"
#include "common/security/tls.h"
#include "grpcpp/create_channel.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/pki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_security.h"

namespace outreach::bench {
namespace {

namespace ws = outreach::workshops::v1;
using outreach::testing::ChildProcess;

constexpr char kGetVenue[] = "/outreach.workshops.v1.WorkshopsService/GetVenue";
constexpr int kMaxConcurrency = 64;

// The first two CPUs this process may run on: servers on the first, the load on the second.
// Empty when there are fewer than two (then nothing is pinned).
std::vector<int> TwoCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  if (cpus.size() < 2) cpus.clear();
  return cpus;
}

// Pins the calling thread; threads and child processes it starts afterwards inherit the mask.
bool PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

// Work done in 100 ms of spinning on `cpu`: a drop between two readings means the host took
// that CPU for something else during the run.
double SpinRate(int cpu) {
  double loops = 0;
  std::thread([&] {
    if (cpu >= 0) PinTo(cpu);
    const absl::Time end = absl::Now() + absl::Milliseconds(100);
    volatile uint64_t x = 0;
    while (absl::Now() < end) {
      for (int i = 0; i < 1000; ++i) x = x + i;
      ++loops;
    }
  }).join();
  return loops;
}

// One real workshops process and warm channels to it.
struct Server {
  std::string label;
  std::unique_ptr<ChildProcess> process;
  std::string port;
  std::string venue;  // the name GetVenue reads
  std::vector<std::unique_ptr<ws::WorkshopsService::Stub>> stubs;
};

// Starts the process only: this runs while the bench is pinned to the servers' CPU, so it must
// not start gRPC threads of its own (Connect does, later).
std::unique_ptr<Server> Launch(const std::string& label, const TempDir& dir,
                               const security::TlsFiles* tls) {
  auto server = std::make_unique<Server>();
  server->label = label;
  // --max-threads above the highest concurrency: the bench measures calls, not the overload
  // refusals of common/server.h's thread bound (the same for A and B).
  std::vector<std::string> args = {"--grpc-address=127.0.0.1:0",
                                   "--http-address=off",
                                   "--db-path=" + dir.File(label + ".db"),
                                   absl::StrCat("--max-threads=", kMaxConcurrency + 16),
                                   "--jwks-file=" + testing::TestJwksFile(),
                                   "--policy-file=" + testing::PolicyFile()};
  if (tls == nullptr) {
    args.push_back("--plaintext");
  } else {
    args.push_back("--tls-cert-file=" + tls->cert_file);
    args.push_back("--tls-key-file=" + tls->key_file);
    args.push_back("--tls-ca-file=" + tls->ca_file);
  }
  server->process = std::make_unique<ChildProcess>(OUTREACH_WORKSHOPS_BIN, args);
  if (!server->process->Start()) return nullptr;
  server->port = server->process->WaitForLogValue("grpc_port", absl::Seconds(20));
  if (server->port.empty()) {
    std::fprintf(stderr, "%s did not start:\n%s", label.c_str(), server->process->Stderr().c_str());
    return nullptr;
  }
  return server;
}

// Opens kMaxConcurrency channels (one connection each) and creates the venue GetVenue reads.
bool Connect(Server& server, const std::string* ca_file) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (ca_file != nullptr) {
    // The caller is a person with a token, so no client certificate: only the CA.
    auto made = security::ChannelCredentials(security::TlsFiles{"", "", *ca_file, false});
    if (!made.ok()) {
      std::fprintf(stderr, "client TLS: %s\n", std::string(made.status().message()).c_str());
      return false;
    }
    credentials = *made;
  }
  for (int i = 0; i < kMaxConcurrency; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per client
    server.stubs.push_back(ws::WorkshopsService::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server.port), credentials, args)));
  }
  ws::CreateVenueRequest create;
  create.set_parent("forces/derbyshire");
  create.set_venue_id("bench-academy");
  create.mutable_venue()->set_display_name("Bench Academy");
  create.mutable_venue()->set_kind(outreach::common::v1::VENUE_KIND_SECONDARY);
  create.mutable_venue()->set_area("north");
  create.mutable_venue()->set_pupil_roll(900);
  ws::Venue venue;
  grpc::Status created = server.stubs[0]->CreateVenue(testing::ContextAs({}).get(), create, &venue);
  if (!created.ok()) {
    std::fprintf(stderr, "%s: CreateVenue: %s\n", server.label.c_str(),
                 created.error_message().c_str());
    return false;
  }
  server.venue = venue.name();
  // Every connection made (and, for B, its TLS handshake done) before anything is measured.
  ws::GetVenueRequest get;
  get.set_name(server.venue);
  for (auto& stub : server.stubs) {
    grpc::Status s = stub->GetVenue(testing::ContextAs({}).get(), get, &venue);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: GetVenue: %s\n", server.label.c_str(), s.error_message().c_str());
      return false;
    }
  }
  return true;
}

// One measured window.
struct Sample {
  int64_t calls = 0;
  double cpu_seconds = -1;  // the server's, over the window; -1 when /proc could not be read
  double seconds = 0;
  std::vector<double> latencies_us;
  int64_t errors = 0;
  std::string first_error;
};

// A cell of the table: the windows of one variant at one concurrency, pooled.
struct Cell {
  double qps = 0, p50_us = 0, p99_us = 0, cpu_us_per_call = 0;
  // How far apart the windows' CPU per call were (max - min over the mean): this run's noise.
  double cpu_spread = 0;
  int64_t errors = 0;
  std::string first_error;
};

Cell Summarise(const std::vector<Sample>& samples) {
  Cell cell;
  double calls = 0, seconds = 0, cpu = 0;
  bool cpu_known = true;
  std::vector<double> all;
  for (const Sample& s : samples) {
    calls += static_cast<double>(s.calls);
    seconds += s.seconds;
    cpu += s.cpu_seconds;
    cpu_known = cpu_known && s.cpu_seconds >= 0;
    all.insert(all.end(), s.latencies_us.begin(), s.latencies_us.end());
    cell.errors += s.errors;
    if (cell.first_error.empty()) cell.first_error = s.first_error;
  }
  if (seconds > 0) cell.qps = calls / seconds;
  if (calls > 0 && cpu_known) {
    cell.cpu_us_per_call = cpu * 1e6 / calls;
    double low = 1e300, high = 0;
    for (const Sample& s : samples) {
      const double per_call = s.calls > 0 ? s.cpu_seconds * 1e6 / static_cast<double>(s.calls) : 0;
      low = std::min(low, per_call);
      high = std::max(high, per_call);
    }
    cell.cpu_spread = (high - low) / cell.cpu_us_per_call;
  }
  std::sort(all.begin(), all.end());
  if (!all.empty()) {
    cell.p50_us = all[all.size() / 2];
    cell.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return cell;
}

// Closed loop: `concurrency` threads, each on its own warm channel, call GetVenue back to back
// with the same token. Warm-up, then a measured window bounded by two readings of the server's
// CPU and of the count of completed calls.
Sample Drive(Server& server, const std::string& token, int concurrency, absl::Duration window) {
  enum Phase { kWarmUp, kMeasure, kStop };
  std::atomic<int> phase{kWarmUp};
  std::atomic<int64_t> completed{0}, errors{0};
  std::vector<std::vector<double>> latencies(concurrency);
  std::string first_error;
  std::atomic<bool> error_taken{false};
  std::vector<std::thread> clients;
  const std::string authorization = "Bearer " + token;
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&, c] {
      ws::GetVenueRequest req;
      req.set_name(server.venue);
      auto& stub = *server.stubs[c];
      while (phase.load(std::memory_order_relaxed) != kStop) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        ctx.AddMetadata("authorization", authorization);
        ws::Venue venue;
        const int started_in = phase.load(std::memory_order_relaxed);
        const absl::Time begin = absl::Now();
        grpc::Status s = stub.GetVenue(&ctx, req, &venue);
        const double us = absl::ToDoubleMicroseconds(absl::Now() - begin);
        completed.fetch_add(1, std::memory_order_relaxed);
        if (!s.ok()) {
          errors++;
          if (!error_taken.exchange(true)) first_error = s.error_message();
        }
        // Latency only of calls wholly inside the window.
        if (started_in == kMeasure && phase.load(std::memory_order_relaxed) == kMeasure) {
          latencies[c].push_back(us);
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(500));
  const double cpu_begin = ProcessCpuSeconds(server.process->pid());
  const int64_t calls_begin = completed.load();
  const absl::Time begin = absl::Now();
  phase = kMeasure;
  absl::SleepFor(window);
  const double cpu_end = ProcessCpuSeconds(server.process->pid());
  const int64_t calls_end = completed.load();
  const absl::Duration elapsed = absl::Now() - begin;
  phase = kStop;
  for (auto& t : clients) t.join();

  Sample sample;
  sample.calls = calls_end - calls_begin;
  if (cpu_begin >= 0 && cpu_end >= 0) sample.cpu_seconds = cpu_end - cpu_begin;
  sample.seconds = absl::ToDoubleSeconds(elapsed);
  for (auto& l : latencies) {
    sample.latencies_us.insert(sample.latencies_us.end(), l.begin(), l.end());
  }
  sample.errors = errors.load();
  if (error_taken.load()) sample.first_error = first_error;
  return sample;
}

// Runs `body` until `budget` has passed (at least `min_calls` times); ns per run.
template <typename F>
double NsPerCall(absl::Duration budget, int64_t min_calls, F&& body) {
  for (int i = 0; i < 100; ++i) body();  // warm caches and the token cache
  int64_t n = 0;
  const absl::Time begin = absl::Now();
  absl::Time now = begin;
  while (n < min_calls || now - begin < budget) {
    for (int i = 0; i < 64; ++i) body();
    n += 64;
    now = absl::Now();
  }
  return absl::ToDoubleNanoseconds(now - begin) / static_cast<double>(n);
}

struct Layer {
  double warm_ns = 0, cold_ns = 0;
  bool ok = false;
};

// C: the decisions the interceptor (common/security/interceptor.cc) takes for one GetVenue,
// without gRPC around them.
Layer MeasureLayer(const std::string& token, const std::string& venue) {
  Layer out;
  static const SystemClock clock;
  security::SecuritySettings settings;
  settings.jwks_file = testing::TestJwksFile();
  settings.policy_file = testing::PolicyFile();
  auto authorizer = security::Authorizer::Create(settings, &clock);
  if (!authorizer.ok()) {
    std::fprintf(stderr, "authorizer: %s\n", std::string(authorizer.status().message()).c_str());
    return out;
  }
  const std::string authorization = "Bearer " + token;
  security::Authorizer::Metadata metadata;
  metadata.emplace("authorization", authorization);
  ws::GetVenueRequest request;
  request.set_name(venue);
  bool all_ok = true;
  out.warm_ns = NsPerCall(absl::Seconds(1), 10000, [&] {
    auto caller = (*authorizer)->Authenticate(metadata, nullptr, "ipv4:127.0.0.1:40412");
    if (!caller.ok()) {
      all_ok = false;
      return;
    }
    security::MethodRule rule;
    absl::Status s = (*authorizer)->CheckMethod(*caller, kGetVenue, &rule);
    const security::RequestScope scope = security::ScopeOf(request);
    if (s.ok()) s = (*authorizer)->CheckScope(*caller, scope);
    if (!s.ok()) all_ok = false;
  });
  // Cold: every Verify checks the ES256 signature, iss, aud and times (no cache to hit).
  security::VerifierOptions options;
  options.jwks_path = settings.jwks_file;
  options.issuer = settings.token_issuer;
  options.audience = settings.token_audience;
  options.cache_capacity = 0;
  auto verifier = security::TokenVerifier::Create(options, &clock);
  if (!verifier.ok()) {
    std::fprintf(stderr, "verifier: %s\n", std::string(verifier.status().message()).c_str());
    return out;
  }
  out.cold_ns = NsPerCall(absl::Seconds(1), 1000, [&] {
    if (!(*verifier)->Verify(token).ok()) all_ok = false;
  });
  out.ok = all_ok;
  return out;
}

int Main(int argc, char** argv) {
  int seconds = 5;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--seconds=") &&
        (!absl::SimpleAtoi(arg, &seconds) || seconds < 1)) {
      std::fprintf(stderr, "--seconds takes a whole number of seconds (>= 1)\n");
      return 2;
    }
  }
  TempDir dir;
  auto pki = testing::Pki::Create(dir.path());
  if (!pki.ok()) {
    std::fprintf(stderr, "pki: %s\n", std::string(pki.status().message()).c_str());
    return 1;
  }
  auto server_tls = pki->IssueServer("workshops");
  if (!server_tls.ok()) {
    std::fprintf(stderr, "pki: %s\n", std::string(server_tls.status().message()).c_str());
    return 1;
  }
  // One token for every call: a force administrator, as in production a person's token is
  // verified once and then served from the cache until it expires.
  const std::string token = testing::TestToken({}, absl::Hours(2));

  // The servers (children) inherit the first CPU; then this process moves to the second.
  const std::vector<int> cpus = TwoCpus();
  const bool pinned = !cpus.empty() && PinTo(cpus[0]);
  auto plain = Launch("A-plaintext", dir, nullptr);
  auto tls = plain == nullptr ? nullptr : Launch("B-tls", dir, &*server_tls);
  if (pinned) PinTo(cpus[1]);
  if (plain == nullptr || tls == nullptr) return 1;
  if (!Connect(*plain, nullptr) || !Connect(*tls, &server_tls->ca_file)) return 1;

  const double spin_server_before = SpinRate(pinned ? cpus[0] : -1);
  const double spin_load_before = SpinRate(pinned ? cpus[1] : -1);
  std::printf(
      "security cost per call: workshops GetVenue (one venue), real server processes%s, "
      "closed-loop load from this process%s, %d s per cell\n",
      pinned ? absl::StrCat(" on CPU ", cpus[0]).c_str() : " (not pinned)",
      pinned ? absl::StrCat(" on CPU ", cpus[1]).c_str() : "", seconds);
  std::printf("%-12s %5s %9s %9s %9s %12s %8s\n", "variant", "conc", "qps", "p50_us", "p99_us",
              "cpu_us/call", "spread");
  std::map<int, Cell> a_cells, b_cells;
  for (int conc : {1, 8, kMaxConcurrency}) {
    // A B B A, each for half the cell's time: a drift of the shared host during the cell
    // (a build starting, say) then weighs on both variants alike.
    std::vector<Sample> a_samples, b_samples;
    for (Server* server : {plain.get(), tls.get(), tls.get(), plain.get()}) {
      (server == plain.get() ? a_samples : b_samples)
          .push_back(Drive(*server, token, conc, absl::Seconds(seconds) / 2));
    }
    a_cells[conc] = Summarise(a_samples);
    b_cells[conc] = Summarise(b_samples);
    for (Server* server : {plain.get(), tls.get()}) {
      const Cell& cell = (server == plain.get() ? a_cells : b_cells)[conc];
      std::printf("%-12s %5d %9.0f %9.0f %9.0f %12.1f %7.0f%%\n", server->label.c_str(), conc,
                  cell.qps, cell.p50_us, cell.p99_us, cell.cpu_us_per_call, 100 * cell.cpu_spread);
      if (cell.errors > 0) {
        std::printf("  (%lld errors, first: %s)\n", static_cast<long long>(cell.errors),
                    cell.first_error.c_str());
      }
    }
    std::fflush(stdout);
  }
  std::printf(
      "spread: (max - min) / mean of the two windows' CPU per call; a B/A difference smaller "
      "than it is noise\n");
  const Layer layer = MeasureLayer(token, plain->venue);

  const auto ratio = [](double num, double den) { return den > 0 ? num / den : 0.0; };
  std::printf("\nB/A (what TLS adds on a warm connection):\n");
  std::printf("%5s %10s %10s %10s %14s\n", "conc", "qps", "p50", "p99", "cpu_per_call");
  for (const auto& [conc, a] : a_cells) {
    const Cell& b = b_cells[conc];
    std::printf("%5d %10.2f %10.2f %10.2f %14.2f\n", conc, ratio(b.qps, a.qps),
                ratio(b.p50_us, a.p50_us), ratio(b.p99_us, a.p99_us),
                ratio(b.cpu_us_per_call, a.cpu_us_per_call));
  }
  std::printf(
      "\nC, the security layer alone (Authenticate with a warm token cache + CheckMethod + "
      "ScopeOf + CheckScope): %.0f ns/call%s\n",
      layer.warm_ns, layer.ok ? "" : " (SOME DECISIONS FAILED: numbers are not of the allow path)");
  std::printf("   cold token verification (ES256 signature, iss, aud, exp): %.0f ns/call\n",
              layer.cold_ns);
  std::printf("C(warm) as a share of A's server CPU per call:");
  for (const auto& [conc, a] : a_cells) {
    std::printf("  conc %d: %.1f %%", conc, 100 * ratio(layer.warm_ns / 1000, a.cpu_us_per_call));
  }
  std::printf("\n");

  const double spin_server = ratio(SpinRate(pinned ? cpus[0] : -1), spin_server_before);
  const double spin_load = ratio(SpinRate(pinned ? cpus[1] : -1), spin_load_before);
  std::printf("cpu steal check: spin rate after/before = %.2f (server CPU), %.2f (load CPU)%s\n",
              spin_server, spin_load,
              std::min(spin_server, spin_load) < 0.8 ? " (host was busy: numbers are noisy)" : "");

  for (Server* server : {plain.get(), tls.get()}) server->process->Signal(SIGTERM);
  for (Server* server : {plain.get(), tls.get()}) server->process->Wait(absl::Seconds(10));
  // The test signer's JWKS lives in a directory of its own (tests/support/test_security.cc).
  std::error_code ignored;
  std::filesystem::remove_all(std::filesystem::path(testing::TestJwksFile()).parent_path(),
                              ignored);
  // Numbers of failed calls are not the cost of served ones: say so in the exit code too.
  bool failed = !layer.ok;
  for (const auto& cells : {a_cells, b_cells}) {
    for (const auto& [conc, cell] : cells) failed = failed || cell.errors > 0;
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace outreach::bench

int main(int argc, char** argv) { return outreach::bench::Main(argc, argv); }
