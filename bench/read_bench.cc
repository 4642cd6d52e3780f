// Cached dashboard reads of the real `metrics` binary against an async echo server, measured from
// outside (issue 15, goal 1). Prints numbers; asserts nothing.
//
// Every party is a process of its own: the servers (metrics, the echo servers, redis-server)
// started through `taskset -c <server-cpu>`, the load (`loadgen`, one process per cell) through
// `taskset -c <load-cpu>`; this driver stays on the load CPU and sleeps while a cell runs.
//
//  1. A test PKI and a force administrator's token for derbyshire (the shipped policy allows it
//     GetDashboard and QuerySeries), a redis-server, and two `metrics` processes on one SQLite
//     file and that Redis: one with --plaintext (loopback), one with TLS. Data goes in through
//     IngestEvents on the TLS one, each batch with the client certificate of the service the
//     policy lets send its event kinds (venues, deliveries, officers, enrolments, a campaign's
//     engagement over the academic year 2025/26), plus the force's settings (a training target,
//     a coverage target) through UpdateForceSettings.
//  2. One GetDashboard (that academic year, whole force) and one QuerySeries (PUPILS_REACHED by
//     month over it): their serialized reply sizes are the echo servers' reply sizes.
//  3. Cells: echo (dashboard size) vs GetDashboard, echo (series size) vs QuerySeries, and, with
//     TLS on both, echo vs GetDashboard; each at concurrency 8 and 64, each run in `--rounds`
//     rounds (the second in reverse order, so a drift of the shared host weighs on both sides),
//     `--seconds` each. The same request is repeated, so metrics answers from its near-cache;
//     the period is in the past because a period reaching into the future is keyed per minute
//     (metrics_service.cc DashboardFingerprint) and would miss once a minute.
//     Server CPU per call is utime + stime of the server process over loadgen's window, read by
//     loadgen from /proc at the window's edges (--cpu-pid).
//  4. VmRSS of the metrics processes idle after the data load and after the cells.
//
//   build/default/bench/read_bench [--seconds=5] [--rounds=2] [--channels=8] [--tls=1]
//       [--server-cpu=0] [--load-cpu=1] [--redis-server=/usr/bin/redis-server]
//       [--metrics-bin=PATH]   (another build's metrics, e.g. an older commit's, for a
//       before/after)
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "bench/proc_stat.h"
#include "common/calendar.h"
#include "common/security/tls.h"
#include "grpcpp/create_channel.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "tests/support/pki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_security.h"
#include "tests/support/wait.h"
#include "tests/unit/metrics_test_events.h"

namespace outreach::bench {
namespace {

namespace mv1 = ::outreach::metrics::v1;
namespace ev = ::outreach::events::v1;
namespace cv1 = ::outreach::common::v1;
namespace mt = ::outreach::metrics::testing;
using outreach::testing::ChildProcess;

constexpr char kGetDashboard[] = "/outreach.metrics.v1.MetricsService/GetDashboard";
constexpr char kQuerySeries[] = "/outreach.metrics.v1.MetricsService/QuerySeries";
constexpr char kForce[] = "derbyshire";

struct Flags {
  int seconds = 5;
  int rounds = 2;
  int channels = 8;
  bool tls = true;
  int server_cpu = 0;
  int load_cpu = 1;
  std::string redis_server = "/usr/bin/redis-server";
  // Another build's metrics (e.g. an older commit's) against the same echo, in the same run.
  std::string metrics_bin = OUTREACH_METRICS_BIN;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    bool ok = true;
    int tls = 1;
    if (absl::ConsumePrefix(&arg, "--metrics-bin=")) {
      f->metrics_bin = std::string(arg);
      ok = !f->metrics_bin.empty();
    } else if (absl::ConsumePrefix(&arg, "--seconds=")) {
      ok = absl::SimpleAtoi(arg, &f->seconds) && f->seconds >= 1;
    } else if (absl::ConsumePrefix(&arg, "--rounds=")) {
      ok = absl::SimpleAtoi(arg, &f->rounds) && f->rounds >= 1;
    } else if (absl::ConsumePrefix(&arg, "--channels=")) {
      ok = absl::SimpleAtoi(arg, &f->channels) && f->channels >= 1;
    } else if (absl::ConsumePrefix(&arg, "--tls=")) {
      ok = absl::SimpleAtoi(arg, &tls) && (tls == 0 || tls == 1);
      f->tls = tls == 1;
    } else if (absl::ConsumePrefix(&arg, "--server-cpu=")) {
      ok = absl::SimpleAtoi(arg, &f->server_cpu) && f->server_cpu >= 0;
    } else if (absl::ConsumePrefix(&arg, "--load-cpu=")) {
      ok = absl::SimpleAtoi(arg, &f->load_cpu) && f->load_cpu >= 0;
    } else if (absl::ConsumePrefix(&arg, "--redis-server=")) {
      f->redis_server = std::string(arg);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "read_bench: bad flag %s\n", argv[i]);
      return false;
    }
  }
  return true;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

double Ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

// ---- Processes -------------------------------------------------------------------------------

// The children alive, for the thread that takes SIGINT and SIGTERM: ChildProcess kills its child
// when destroyed, but a signal to the bench would end it without running a destructor, leaving
// the servers behind. So the signal only sets `interrupted` and passes SIGTERM on to the
// children; the bench then returns through its destructors as on any error.
class Children {
 public:
  static Children& Get() {
    static auto* children = new Children();
    return *children;
  }
  void Add(pid_t pid) {
    absl::MutexLock lock(&mu_);
    pids_.insert(pid);
  }
  // Before the child is reaped, so its pid cannot be another process's by the time it is killed.
  void Remove(pid_t pid) {
    absl::MutexLock lock(&mu_);
    pids_.erase(pid);
  }
  void TerminateAll() {
    absl::MutexLock lock(&mu_);
    for (pid_t pid : pids_) kill(pid, SIGTERM);
  }

 private:
  absl::Mutex mu_;
  std::set<pid_t> pids_ ABSL_GUARDED_BY(mu_);
};
std::atomic<bool> interrupted{false};

// Blocks SIGINT and SIGTERM in every thread (call before any starts; ChildProcess clears the
// mask of its children) and takes them on a thread of their own.
void HandleStopSignals() {
  static sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread([] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    std::fprintf(stderr, "read_bench: signal %d, stopping the servers\n", signal);
    interrupted = true;
    Children::Get().TerminateAll();
  }).detach();
}

// Starts `binary` pinned to `cpu` (taskset), with its stdout folded into the stderr ChildProcess
// captures (echo_server and loadgen answer on stdout). `exec` all the way down keeps the pid
// the binary's, so /proc/<pid> and signals reach it and not a shell.
std::unique_ptr<ChildProcess> Spawn(int cpu, const std::string& binary,
                                    const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"-c",         "exec \"$@\" 1>&2", "sh",  "/usr/bin/taskset",
                                   "--cpu-list", absl::StrCat(cpu),  binary};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = std::make_unique<ChildProcess>("/bin/sh", argv);
  const bool started = child->Start();
  if (child->pid() > 0) Children::Get().Add(child->pid());
  if (!started) return nullptr;
  return child;
}

// The text after `prefix` on the first output line that starts with it; "" when none came
// within `bound` (or the process ended without one).
std::string WaitForLine(ChildProcess& child, const std::string& prefix, absl::Duration bound) {
  std::string found;
  testing::WaitFor(
      [&] {
        for (absl::string_view line : absl::StrSplit(child.Stderr(), '\n')) {
          if (absl::ConsumePrefix(&line, prefix)) {
            found = std::string(line);
            return true;
          }
        }
        return false;
      },
      bound);
  return found;
}

void Stop(std::unique_ptr<ChildProcess>& child) {
  if (child == nullptr) return;
  Children::Get().Remove(child->pid());
  child->Signal(SIGTERM);
  // Past this bound the destructor kills it (-9): a server that will not drain must not hang the
  // bench.
  child->Wait(absl::Seconds(15));
  child.reset();
}

struct Server {
  std::string label;
  std::unique_ptr<ChildProcess> process;
  std::string port;
};

std::unique_ptr<Server> StartMetrics(const Flags& flags, const std::string& label,
                                     const TempDir& dir, const std::string& redis_address,
                                     const security::TlsFiles* tls) {
  auto server = std::make_unique<Server>();
  server->label = label;
  // --max-threads above the highest concurrency: the sync server refuses calls beyond its
  // threads (common/server.h), and this bench measures served calls, not those refusals.
  std::vector<std::string> args = {"--grpc-address=127.0.0.1:0", "--http-address=off",
                                   "--db-path=" + dir.File("metrics.db"),
                                   "--redis-address=" + redis_address, "--max-threads=96"};
  if (tls == nullptr) {
    args.insert(args.end(), {"--plaintext", "--jwks-file=" + testing::TestJwksFile(),
                             "--policy-file=" + testing::PolicyFile()});
  } else {
    for (auto& flag : testing::SecurityFlags(*tls)) args.push_back(std::move(flag));
  }
  server->process = Spawn(flags.server_cpu, flags.metrics_bin, args);
  if (server->process == nullptr) return nullptr;
  server->port = server->process->WaitForLogValue("grpc_port", absl::Seconds(30));
  if (server->port.empty()) {
    std::fprintf(stderr, "%s did not start:\n%s", label.c_str(), server->process->Stderr().c_str());
    return nullptr;
  }
  return server;
}

std::unique_ptr<Server> StartEcho(const Flags& flags, const std::string& label, size_t reply_bytes,
                                  const security::TlsFiles* tls) {
  auto server = std::make_unique<Server>();
  server->label = label;
  std::vector<std::string> args = {"--address=127.0.0.1:0",
                                   absl::StrCat("--reply-bytes=", reply_bytes), "--threads=1"};
  if (tls != nullptr) {
    args.push_back("--tls-cert-file=" + tls->cert_file);
    args.push_back("--tls-key-file=" + tls->key_file);
  }
  server->process = Spawn(flags.server_cpu, OUTREACH_ECHO_SERVER_BIN, args);
  if (server->process == nullptr) return nullptr;
  server->port = WaitForLine(*server->process, "port ", absl::Seconds(20));
  if (server->port.empty()) {
    std::fprintf(stderr, "%s did not start:\n%s", label.c_str(), server->process->Stderr().c_str());
    return nullptr;
  }
  return server;
}

// ---- Data ------------------------------------------------------------------------------------

// Derbyshire's districts, as the demo data names areas.
const std::vector<std::string>& Areas() {
  static const auto* areas = new std::vector<std::string>{
      "derby-city",   "high-peak", "amber-valley",          "derbyshire-dales", "erewash",
      "chesterfield", "bolsover",  "north-east-derbyshire", "south-derbyshire"};
  return *areas;
}

// A school year of one force's outreach, in the three senders' batches: 60 schools, 240
// deliveries on school days from September to July, 40 officers with enrolments (30 completed),
// a campaign with 100 days of engagement. Dates are fixed, so every run reads the same figures.
std::map<std::string, std::vector<ev::OutreachEvent>> AcademicYear() {
  std::map<std::string, std::vector<ev::OutreachEvent>> by_sender;
  const absl::Time before = mt::Utc(2025, 8, 20);
  const std::vector<std::string> topics = {"sexting-ks3", "sexting-ks4", "app-privacy",
                                           "grooming-parents", "cse-awareness"};
  const int kSchools = 60;
  for (int s = 0; s < kSchools; ++s) {
    const cv1::VenueKind kind = s % 3 == 0 ? cv1::VENUE_KIND_SECONDARY : cv1::VENUE_KIND_PRIMARY;
    by_sender["workshops"].push_back(mt::Venue(absl::StrCat("venue-", s), kForce,
                                               absl::StrCat("school-", s), kind,
                                               Areas()[s % Areas().size()], before));
  }
  for (int w = 0; w < 240; ++w) {
    mt::Delivery d;
    d.force = kForce;
    d.workshop = absl::StrCat("w", w);
    const int school = (w * 7) % kSchools;
    d.venue = absl::StrCat("school-", school);
    d.kind = school % 3 == 0 ? cv1::VENUE_KIND_SECONDARY : cv1::VENUE_KIND_PRIMARY;
    d.area = Areas()[school % Areas().size()];
    // Weekdays from 8 Sep 2025 on, about one delivery per school day (a week is 5 of them).
    const absl::CivilDay day = absl::CivilDay(2025, 9, 8) + int64_t{w / 5} * 7 + w % 5;
    d.delivered = StartOfLocalDay(day) + absl::Hours(11);
    d.pupils_y9 = 20 + w % 11;
    d.parents = w % 6 == 0 ? 15 : 0;
    d.staff = 1 + w % 3;
    d.disclosures = w % 9 == 0 ? 1 : 0;
    d.topics = {topics[w % topics.size()]};
    if (d.parents > 0) d.audiences.push_back(cv1::WORKSHOP_AUDIENCE_PARENTS);
    by_sender["workshops"].push_back(mt::Delivered(absl::StrCat("delivered-", w), d));
  }
  for (int o = 0; o < 40; ++o) {
    const std::string officer = absl::StrCat("officer-", o);
    const cv1::OfficerRole role = o % 4 == 0 ? cv1::OFFICER_ROLE_DIGITAL_MEDIA_INVESTIGATOR
                                             : cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR;
    const std::string division = o % 2 == 0 ? "north" : "south";
    const std::string enrolment = absl::StrCat("enrolment-", o);
    auto& training = by_sender["training"];
    training.push_back(mt::Officer(absl::StrCat("officer-", o, "-up"), kForce, officer, role,
                                   division, true, before));
    const absl::Time enrolled = mt::Utc(2025, 9, 15) + absl::Hours(24 * o);
    training.push_back(mt::Enrolled(absl::StrCat(enrolment, "-created"), kForce, enrolment, officer,
                                    "cyber-frontline", role, division, enrolled,
                                    absl::CivilDay(2026, 7, 31)));
    if (o < 30) {
      const absl::Time done = enrolled + absl::Hours(24 * 30);
      training.push_back(mt::Completed(absl::StrCat(enrolment, "-completed"), kForce, enrolment,
                                       officer, "cyber-frontline", role, division, done,
                                       done + absl::Hours(24 * 365)));
    }
  }
  auto& campaigns = by_sender["campaigns"];
  campaigns.push_back(mt::CampaignState("campaign-c1-active", kForce, "c1",
                                        cv1::CAMPAIGN_STATE_ACTIVE, cv1::CAMPAIGN_STATE_SCHEDULED,
                                        mt::Utc(2025, 9, 1), 200000, Areas()));
  for (int e = 0; e < 100; ++e) {
    const absl::CivilDay day = absl::CivilDay(2025, 9, 1) + int64_t{e} * 3;
    campaigns.push_back(mt::Engagement(absl::StrCat("engagement-", e), kForce,
                                       absl::StrCat("a", e % 8), day, 1, 4000 + 37 * e,
                                       1500 + 11 * e, 90 + e, {Areas()[e % Areas().size()]},
                                       static_cast<cv1::Channel>(1 + e % 6)));
  }
  return by_sender;
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

// Sends the year's events to `port` (TLS), each sender's batch with that service's certificate.
bool Ingest(testing::Pki& pki, const std::string& port) {
  int64_t sent = 0;
  for (auto& [sender, events] : AcademicYear()) {
    std::vector<const ev::OutreachEvent*> pointers;
    for (const auto& e : events) pointers.push_back(&e);
    const std::string identity = testing::IngestIdentityFor(pointers);
    if (identity.empty()) {
      std::fprintf(stderr, "no identity may send %s's events\n", sender.c_str());
      return false;
    }
    auto files = pki.IssueClient(identity);
    if (!files.ok()) return false;
    auto credentials = security::ChannelCredentials(*files);
    if (!credentials.ok()) return false;
    auto stub = mv1::MetricsService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), *credentials));
    mv1::IngestEventsRequest request;
    request.set_parent(absl::StrCat("forces/", kForce));
    for (auto& e : events) *request.add_events() = e;
    mv1::IngestEventsResponse response;
    grpc::Status s = stub->IngestEvents(Context("").get(), request, &response);
    if (!s.ok()) {
      std::fprintf(stderr, "IngestEvents (%s): %s\n", sender.c_str(), s.error_message().c_str());
      return false;
    }
    sent += request.events_size();
  }
  std::printf("ingested %lld events (IngestEvents, each sender's own certificate)\n",
              static_cast<long long>(sent));
  return true;
}

// A display name, a training target and a coverage target: the dashboard shows them, as a
// configured force's does.
bool ConfigureForce(mv1::MetricsService::Stub& stub, const std::string& token) {
  mv1::GetForceSettingsRequest get;
  get.set_name(absl::StrCat("forces/", kForce, "/settings"));
  mv1::ForceSettings current;
  grpc::Status s = stub.GetForceSettings(Context(token).get(), get, &current);
  if (!s.ok()) {
    std::fprintf(stderr, "GetForceSettings: %s\n", s.error_message().c_str());
    return false;
  }
  mv1::UpdateForceSettingsRequest update;
  mv1::ForceSettings* settings = update.mutable_force_settings();
  settings->set_name(get.name());
  settings->set_etag(current.etag());
  settings->set_display_name("Derbyshire Constabulary");
  settings->set_school_coverage_target_percent(60);
  mv1::TrainingTarget* target = settings->add_training_targets();
  target->set_course(absl::StrCat("forces/", kForce, "/courses/cyber-frontline"));
  target->set_display_name("Cybercrime package, frontline investigators");
  target->add_roles(cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
  target->set_officers(128);
  update.mutable_update_mask()->add_paths("*");
  mv1::ForceSettings updated;
  s = stub.UpdateForceSettings(Context(token).get(), update, &updated);
  if (!s.ok()) {
    std::fprintf(stderr, "UpdateForceSettings: %s\n", s.error_message().c_str());
    return false;
  }
  return true;
}

mv1::GetDashboardRequest DashboardRequest() {
  mv1::GetDashboardRequest request;
  request.set_name(absl::StrCat("forces/", kForce, "/dashboard"));
  request.mutable_period()->set_kind(mv1::PERIOD_KIND_ACADEMIC_YEAR);
  *request.mutable_period()->mutable_anchor_date() = ToProtoDate(absl::CivilDay(2026, 3, 2));
  return request;
}

mv1::QuerySeriesRequest SeriesRequest() {
  mv1::QuerySeriesRequest request;
  request.set_parent(absl::StrCat("forces/", kForce));
  request.set_metric(mv1::METRIC_PUPILS_REACHED);
  request.set_granularity(mv1::GRANULARITY_MONTH);
  *request.mutable_date_range()->mutable_start_date() = ToProtoDate(absl::CivilDay(2025, 9, 1));
  *request.mutable_date_range()->mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 8, 31));
  return request;
}

// ---- Cells -----------------------------------------------------------------------------------

struct Variant {
  std::string label;
  Server* server = nullptr;
  std::string method;
  std::string request_file;
  bool tls = false;
  int baseline = -1;  // index of the echo variant it is compared with; -1 for an echo
};

// One loadgen run: its output line's fields.
struct Sample {
  double qps = 0, p50_us = 0, p99_us = 0, calls = 0, errors = 0, cpu_s = -1, window_s = 0;
  std::string codes;
  bool ok = false;
};

Sample RunLoadgen(const Flags& flags, const Variant& v, int concurrency, const std::string& ca_file,
                  const std::string& token_file) {
  std::vector<std::string> args = {
      "--target=127.0.0.1:" + v.server->port,
      "--method=" + std::string(v.method),
      "--request-file=" + v.request_file,
      absl::StrCat("--concurrency=", concurrency),
      absl::StrCat("--seconds=", flags.seconds),
      absl::StrCat("--channels=", std::min(flags.channels, concurrency)),
      "--token-file=" + token_file,
      absl::StrCat("--cpu-pid=", v.server->process->pid())};
  if (v.tls) args.push_back("--tls-ca-file=" + ca_file);
  Sample sample;
  auto load = Spawn(flags.load_cpu, OUTREACH_LOADGEN_BIN, args);
  if (load == nullptr) return sample;
  // It ends by itself after its window (the signal thread need not stop it). Bounded so a wedged
  // loadgen cannot hang the bench; past the bound the destructor kills it.
  Children::Get().Remove(load->pid());
  load->Wait(absl::Seconds(flags.seconds + 60));
  const std::string line = WaitForLine(*load, "qps=", absl::Seconds(1));
  if (line.empty()) {
    std::fprintf(stderr, "loadgen (%s) gave no result:\n%s", v.label.c_str(),
                 load->Stderr().c_str());
    return sample;
  }
  std::map<std::string, std::string> fields;
  for (absl::string_view field : absl::StrSplit("qps=" + line, ' ', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(field, absl::MaxSplits('=', 1));
    fields[kv.first] = kv.second;
  }
  auto number = [&](const std::string& key, double fallback) {
    double v = fallback;
    return absl::SimpleAtod(fields[key], &v) ? v : fallback;
  };
  sample.qps = number("qps", 0);
  sample.p50_us = number("p50_us", 0);
  sample.p99_us = number("p99_us", 0);
  sample.calls = number("calls", 0);
  sample.errors = number("errors", 0);
  sample.cpu_s = number("server_cpu_s", -1);
  sample.window_s = number("window_s", 0);
  sample.codes = fields["codes"];
  sample.ok = sample.calls > 0;
  return sample;
}

// The samples of one variant at one concurrency, pooled: QPS and CPU per call over all windows;
// p50 and p99 the mean of the rounds' (loadgen reports percentiles, not its histogram).
struct Cell {
  double qps = 0, p50_us = 0, p99_us = 0, cpu_us = 0, spread = 0, errors = 0;
  std::string codes;
};

Cell Pool(const std::vector<Sample>& samples) {
  Cell cell;
  double calls = 0, window = 0, cpu = 0, low = 1e300, high = 0;
  bool cpu_known = !samples.empty();
  for (const Sample& s : samples) {
    calls += s.calls;
    window += s.window_s;
    cpu += s.cpu_s;
    cpu_known = cpu_known && s.cpu_s >= 0;
    cell.p50_us += s.p50_us / static_cast<double>(samples.size());
    cell.p99_us += s.p99_us / static_cast<double>(samples.size());
    cell.errors += s.errors;
    if (!s.codes.empty()) absl::StrAppend(&cell.codes, cell.codes.empty() ? "" : " ", s.codes);
    low = std::min(low, s.qps);
    high = std::max(high, s.qps);
  }
  cell.qps = Ratio(calls, window);
  if (cpu_known) cell.cpu_us = Ratio(cpu * 1e6, calls);
  cell.spread = Ratio(high - low, cell.qps);
  return cell;
}

void PrintRss(const std::string& when, const std::vector<Server*>& servers) {
  std::printf("VmRSS %s:", when.c_str());
  for (Server* s : servers) {
    std::printf("  %s %.1f MiB", s->label.c_str(),
                static_cast<double>(ProcessRssKib(s->process->pid())) / 1024.0);
  }
  std::printf("\n");
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  HandleStopSignals();
  // This process (and its gRPC and stderr-reader threads) stays off the servers' CPU.
  cpu_set_t load_set;
  CPU_ZERO(&load_set);
  CPU_SET(flags.load_cpu, &load_set);
  if (sched_setaffinity(0, sizeof(load_set), &load_set) != 0) {
    std::fprintf(stderr, "cannot pin to CPU %d (two CPUs needed)\n", flags.load_cpu);
    return 1;
  }
  TempDir dir;
  // The test signer's JWKS lives in a directory of its own (tests/support/test_security.cc).
  absl::Cleanup remove_jwks = [] {
    std::error_code ignored;
    std::filesystem::remove_all(std::filesystem::path(testing::TestJwksFile()).parent_path(),
                                ignored);
  };
  auto pki = testing::Pki::Create(dir.path());
  if (!pki.ok()) {
    std::fprintf(stderr, "pki: %s\n", std::string(pki.status().message()).c_str());
    return 1;
  }
  auto metrics_tls_files = pki->IssueServer("metrics");
  auto echo_tls_files = pki->IssueServer("echo");
  if (!metrics_tls_files.ok() || !echo_tls_files.ok()) {
    std::fprintf(stderr, "pki: cannot issue server certificates\n");
    return 1;
  }
  // A force administrator of derbyshire: the policy lets the role read dashboards and series.
  const std::string token = testing::TestToken(
      testing::TestCaller{"bench-admin", {kForce}, {"force_admin"}}, absl::Hours(3));
  const std::string token_file = dir.File("token");
  if (!testing::WriteFileAtomically(token_file, token, /*private_key=*/true).ok()) return 1;

  // Redis, so metrics runs with its cache as deployed (near-cache invalidated through pub/sub).
  const int redis_port = testing::FreeLoopbackPort();
  std::unique_ptr<ChildProcess> redis =
      Spawn(flags.server_cpu, flags.redis_server,
            {"--port", absl::StrCat(redis_port), "--bind", "127.0.0.1", "--dir", dir.path(),
             "--save", "", "--appendonly", "no", "--logfile", dir.File("redis.log")});
  if (redis == nullptr ||
      !testing::WaitFor([&] { return testing::LoopbackPortAnswers(redis_port); })) {
    std::fprintf(stderr, "redis-server (%s) did not start\n", flags.redis_server.c_str());
    return 1;
  }
  const std::string redis_address = absl::StrCat("127.0.0.1:", redis_port);

  // The TLS process first: ingest needs the senders' client certificates, so it goes through it.
  auto metrics_tls = StartMetrics(flags, "metrics-tls", dir, redis_address, &*metrics_tls_files);
  if (metrics_tls == nullptr || !Ingest(*pki, metrics_tls->port)) return 1;
  auto metrics = StartMetrics(flags, "metrics", dir, redis_address, nullptr);
  if (metrics == nullptr) return 1;

  // The reply sizes, from one call each (the first also fills the caches).
  size_t dashboard_bytes = 0, series_bytes = 0;
  {
    auto stub = mv1::MetricsService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", metrics->port), grpc::InsecureChannelCredentials()));
    if (!ConfigureForce(*stub, token)) return 1;
    mv1::Dashboard dashboard;
    grpc::Status s = stub->GetDashboard(Context(token).get(), DashboardRequest(), &dashboard);
    mv1::QuerySeriesResponse series;
    if (s.ok()) s = stub->QuerySeries(Context(token).get(), SeriesRequest(), &series);
    if (!s.ok()) {
      std::fprintf(stderr, "first read: %s\n", s.error_message().c_str());
      return 1;
    }
    dashboard_bytes = dashboard.ByteSizeLong();
    series_bytes = series.ByteSizeLong();
    std::printf(
        "GetDashboard reply %zu bytes (%lld workshops delivered, %lld pupils reached), "
        "QuerySeries reply %zu bytes (%d points)\n",
        dashboard_bytes, static_cast<long long>(dashboard.workshops().workshops_delivered()),
        static_cast<long long>(dashboard.workshops().pupils_reached()), series_bytes,
        series.series_size() > 0 ? series.series(0).points_size() : 0);
  }
  const std::string dashboard_file = dir.File("dashboard.req");
  const std::string series_file = dir.File("series.req");
  if (!testing::WriteFileAtomically(dashboard_file, DashboardRequest().SerializeAsString()).ok() ||
      !testing::WriteFileAtomically(series_file, SeriesRequest().SerializeAsString()).ok()) {
    return 1;
  }

  auto echo_dashboard = StartEcho(flags, "echo-dashboard", dashboard_bytes, nullptr);
  auto echo_series = StartEcho(flags, "echo-series", series_bytes, nullptr);
  auto echo_tls =
      flags.tls ? StartEcho(flags, "echo-tls", dashboard_bytes, &*echo_tls_files) : nullptr;
  if (echo_dashboard == nullptr || echo_series == nullptr || (flags.tls && echo_tls == nullptr)) {
    return 1;
  }

  std::vector<Variant> variants = {
      {"echo (dashboard size)", echo_dashboard.get(), kGetDashboard, dashboard_file, false, -1},
      {"GetDashboard", metrics.get(), kGetDashboard, dashboard_file, false, 0},
      {"echo (series size)", echo_series.get(), kQuerySeries, series_file, false, -1},
      {"QuerySeries", metrics.get(), kQuerySeries, series_file, false, 2},
  };
  if (flags.tls) {
    variants.push_back(
        {"echo TLS (dashboard size)", echo_tls.get(), kGetDashboard, dashboard_file, true, -1});
    variants.push_back({"GetDashboard TLS", metrics_tls.get(), kGetDashboard, dashboard_file, true,
                        static_cast<int>(variants.size()) - 1});
  }

  absl::SleepFor(absl::Seconds(2));  // let start-up work (health checks, the first KPIs) settle
  PrintRss("idle after the data load", {metrics.get(), metrics_tls.get()});
  std::printf("load average before: %s\n", LoadAverage().c_str());
  std::printf(
      "servers on CPU %d, loadgen on CPU %d (taskset), %d s per window, %d rounds, %d channels "
      "(at most one per call in flight), token on every call\n",
      flags.server_cpu, flags.load_cpu, flags.seconds, flags.rounds, flags.channels);
  std::fflush(stdout);

  const std::vector<int> concurrencies = {8, 64};
  // samples[conc][variant]
  std::map<int, std::vector<std::vector<Sample>>> samples;
  for (int conc : concurrencies) samples[conc].resize(variants.size());
  for (int round = 0; round < flags.rounds; ++round) {
    std::vector<size_t> order(variants.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (round % 2 == 1) std::reverse(order.begin(), order.end());
    for (int conc : concurrencies) {
      for (size_t i : order) {
        if (interrupted) return 1;
        const Sample s = RunLoadgen(flags, variants[i], conc, pki->ca_file(), token_file);
        std::printf("round %d %-26s conc %2d: qps %.0f p50 %.0f p99 %.0f cpu/call %.1f%s%s\n",
                    round + 1, variants[i].label.c_str(), conc, s.qps, s.p50_us, s.p99_us,
                    Ratio(s.cpu_s * 1e6, s.calls), s.errors > 0 ? " errors " : "", s.codes.c_str());
        std::fflush(stdout);
        if (!s.ok) return 1;
        samples[conc][i].push_back(s);
      }
    }
  }
  std::printf("load average after: %s\n", LoadAverage().c_str());
  absl::SleepFor(absl::Seconds(2));
  PrintRss("idle after the cells", {metrics.get(), metrics_tls.get()});
  PrintRss("of the echo servers", {echo_dashboard.get(), echo_series.get()});

  std::printf(
      "\n| variant | conc | QPS | p50 µs | p99 µs | CPU µs/call | QPS/echo | p99/echo | CPU/echo "
      "| spread |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  bool failed = false;
  for (int conc : concurrencies) {
    std::vector<Cell> cells;
    for (auto& per_variant : samples[conc]) cells.push_back(Pool(per_variant));
    for (size_t i = 0; i < variants.size(); ++i) {
      const Cell& c = cells[i];
      const Cell& echo = variants[i].baseline >= 0 ? cells[variants[i].baseline] : c;
      std::printf("| %s | %d | %.0f | %.0f | %.0f | %.1f | %.2f | %.2f | %.2f | %.0f %% |\n",
                  variants[i].label.c_str(), conc, c.qps, c.p50_us, c.p99_us, c.cpu_us,
                  Ratio(c.qps, echo.qps), Ratio(c.p99_us, echo.p99_us),
                  Ratio(c.cpu_us, echo.cpu_us), 100 * c.spread);
      if (c.errors > 0) {
        std::printf("|  (%.0f errors, codes %s) |\n", c.errors, c.codes.c_str());
        failed = true;
      }
    }
  }
  std::printf(
      "spread: (max - min) / pooled QPS over the rounds, this run's noise; p50/p99 are the "
      "mean of the rounds'\n");

  for (auto* server : {&echo_dashboard, &echo_series, &echo_tls}) {
    if (*server != nullptr) Stop((*server)->process);
  }
  Stop(metrics->process);
  Stop(metrics_tls->process);
  Stop(redis);
  // Numbers of failed calls are not the cost of served ones: say so in the exit code too.
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace outreach::bench

int main(int argc, char** argv) { return outreach::bench::Main(argc, argv); }
