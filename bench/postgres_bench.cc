// PostgreSQL beside SQLite, in one run (issue 13 "Measure"). Prints numbers; asserts nothing.
// The bench starts a throwaway PostgreSQL 15 server of its own (initdb + pg_ctl as the
// `postgres` user when run as root, loopback only, a free port, pg_stat_statements loaded) and
// stops it at the end. It measures:
//
//  1. Writes/s of the real `workshops` binary through its gRPC API (TLS + a force
//     administrator's token, as the e2e tests run it), closed-loop clients at one concurrency:
//     CreateVenue, and a ScheduleWorkshop + DeliverWorkshop mix, on SQLite (one process), on
//     PostgreSQL with one replica, and on PostgreSQL with two replicas (two processes on one
//     database, the clients split evenly across them). For PostgreSQL cells it also reports
//     what the server saw in the measured window (pg_stat_statements, pg_stat_wal): statements
//     (round trips) per acknowledged write, transaction attempts per write (a SERIALIZABLE
//     retry is a second BEGIN), ROLLBACKs, WAL fsyncs per write, and the serialization-failure
//     and unique-violation errors the server logged.
//  2. Ingest events/s of the metrics store (MetricsStore::Ingest, batches of 500, as the
//     metrics service's IngestEvents calls it), SQLite vs PostgreSQL.
//  3. GetDashboard calls/s of the metrics service served in this process (TLS + the security
//     interceptor), cached (near-cache + Redis) and uncached, SQLite vs PostgreSQL.
// Every ratio is against SQLite measured in the same run.
//
//   build/bench-rel/bench/postgres_bench [--seconds=4] [--concurrency=16]
//       [--pg-bin=/usr/lib/postgresql/15/bin] [--redis-server=/usr/bin/redis-server]
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/db.h"
#include "common/redis.h"
#include "common/security/authorizer.h"
#include "common/security/interceptor.h"
#include "common/security/tls.h"
#include "common/store_support.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "services/metrics/metrics_service.h"
#include "tests/support/pki.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_security.h"

namespace outreach::bench {
namespace {

namespace wv1 = ::outreach::workshops::v1;
namespace mv1 = ::outreach::metrics::v1;
namespace ev = ::outreach::events::v1;
namespace cv1 = ::outreach::common::v1;
using outreach::testing::ChildProcess;

struct Flags {
  int seconds = 4;
  int concurrency = 16;
  std::string pg_bin = "/usr/lib/postgresql/15/bin";
  std::string redis_server = "/usr/bin/redis-server";
};

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

double Ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * p))];
}

// ---- A throwaway PostgreSQL server ---------------------------------------------------------

// initdb + pg_ctl start in a directory of its own; pg_ctl stop when destroyed. PostgreSQL
// refuses to run as root, so as root every server command runs as `postgres` (runuser) and the
// folders it writes are chowned to it.
class PgServer {
 public:
  PgServer(std::string bin, const std::string& dir) : bin_(std::move(bin)), dir_(dir) {}
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;
  ~PgServer() { Stop(); }

  bool Start() {
    std::error_code error;
    std::filesystem::create_directories(dir_ + "/pg", error);
    std::filesystem::create_directories(dir_ + "/run", error);
    if (error) return false;
    // The server (another user) must reach its folders: the parent (a private TempDir) only
    // needs to be traversable.
    ::chmod(std::filesystem::path(dir_).parent_path().c_str(), 0711);
    ::chmod(dir_.c_str(), 0755);
    if (::geteuid() == 0) {
      const passwd* pg = ::getpwnam("postgres");
      if (pg == nullptr) {
        std::fprintf(stderr, "no `postgres` user to run the server as\n");
        return false;
      }
      for (const char* sub : {"/pg", "/run"}) {
        if (::chown((dir_ + sub).c_str(), pg->pw_uid, pg->pw_gid) != 0) return false;
      }
    }
    if (!Run("initdb",
             {"-D", dir_ + "/pg", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"})) {
      return false;
    }
    port_ = testing::FreeLoopbackPort();
    // Defaults otherwise (fsync on, synchronous_commit on): durability as deployed.
    const std::string options =
        absl::StrCat("-p ", port_, " -k ", dir_, "/run -c listen_addresses=127.0.0.1",
                     " -c shared_preload_libraries=pg_stat_statements -c max_connections=200");
    if (!Run("pg_ctl",
             {"-D", dir_ + "/pg", "-l", dir_ + "/run/pg.log", "-w", "-o", options, "start"})) {
      std::fprintf(stderr, "pg_ctl start failed; log:\n%s\n", Log().c_str());
      return false;
    }
    started_ = true;
    return Exec("postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  }

  void Stop() {
    if (!started_) return;
    started_ = false;
    Run("pg_ctl", {"-D", dir_ + "/pg", "-m", "fast", "-w", "stop"});
  }

  // A database as the stores want it (UTF8, C collation: text orders as SQLite's bytes do).
  bool CreateDatabase(const std::string& name) {
    return Exec("postgres", absl::StrCat("CREATE DATABASE ", name,
                                         " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' "
                                         "LC_CTYPE 'C'"));
  }
  std::string Url(const std::string& db) const {
    return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", db, "?sslmode=disable");
  }

  // Rows of `sql` run in database `db` (the admin's own connection), each a vector of texts.
  std::vector<std::vector<std::string>> Query(const std::string& db, const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    PGconn* conn = PQconnectdb(Url(db).c_str());
    if (PQstatus(conn) == CONNECTION_OK) {
      PGresult* result = PQexec(conn, sql.c_str());
      if (PQresultStatus(result) == PGRES_TUPLES_OK) {
        for (int r = 0; r < PQntuples(result); ++r) {
          auto& row = rows.emplace_back();
          for (int c = 0; c < PQnfields(result); ++c) row.emplace_back(PQgetvalue(result, r, c));
        }
      } else {
        std::fprintf(stderr, "query failed: %s\n", PQerrorMessage(conn));
      }
      PQclear(result);
    } else {
      std::fprintf(stderr, "connect failed: %s\n", PQerrorMessage(conn));
    }
    PQfinish(conn);
    return rows;
  }
  bool Exec(const std::string& db, const std::string& sql) {
    PGconn* conn = PQconnectdb(Url(db).c_str());
    bool ok = PQstatus(conn) == CONNECTION_OK;
    if (ok) {
      PGresult* result = PQexec(conn, sql.c_str());
      ok = PQresultStatus(result) == PGRES_COMMAND_OK || PQresultStatus(result) == PGRES_TUPLES_OK;
      PQclear(result);
    }
    if (!ok) std::fprintf(stderr, "%s: %s\n", sql.c_str(), PQerrorMessage(conn));
    PQfinish(conn);
    return ok;
  }

  std::string Log() const {
    std::ifstream in(dir_ + "/run/pg.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  bool Run(const std::string& tool, const std::vector<std::string>& tool_args) {
    std::string binary = bin_ + "/" + tool;
    std::vector<std::string> args = tool_args;
    if (::geteuid() == 0) {
      args.insert(args.begin(), {"-u", "postgres", "--", binary});
      binary = "/usr/sbin/runuser";
    }
    ChildProcess child(binary, args);
    if (!child.Start()) return false;
    const int code = child.Wait(absl::Seconds(120));
    if (code != 0)
      std::fprintf(stderr, "%s exited %d:\n%s", tool.c_str(), code, child.Stderr().c_str());
    return code == 0;
  }

  std::string bin_;
  std::string dir_;
  int port_ = 0;
  bool started_ = false;
};

// What the server saw of one database, read before and after a window.
struct PgCounters {
  double statements = 0;    // completed statements (pg_stat_statements; BEGIN/COMMIT included)
  double write_begins = 0;  // BEGIN ISOLATION LEVEL SERIALIZABLE: write attempts
  double rollbacks = 0;
  double wal_syncs = 0;                // cluster-wide (the other databases are idle during a cell)
  int64_t serialization_failures = 0;  // ERROR lines in the server log, this database's
  int64_t unique_violations = 0;
  int64_t deadlocks = 0;

  PgCounters operator-(const PgCounters& o) const {
    return {statements - o.statements,
            write_begins - o.write_begins,
            rollbacks - o.rollbacks,
            wal_syncs - o.wal_syncs,
            serialization_failures - o.serialization_failures,
            unique_violations - o.unique_violations,
            deadlocks - o.deadlocks};
  }
};

int64_t CountIn(const std::string& text, const std::string& needle) {
  int64_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

PgCounters ReadCounters(PgServer& pg, const std::string& db) {
  PgCounters out;
  for (const auto& row :
       pg.Query("postgres", absl::StrCat("SELECT s.query, s.calls FROM pg_stat_statements s "
                                         "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '",
                                         db, "'"))) {
    double calls = 0;
    if (row.size() < 2 || !absl::SimpleAtod(row[1], &calls)) continue;
    out.statements += calls;
    if (absl::StartsWithIgnoreCase(row[0], "BEGIN ISOLATION LEVEL SERIALIZABLE")) {
      out.write_begins += calls;
    }
    if (absl::StartsWithIgnoreCase(row[0], "ROLLBACK")) out.rollbacks += calls;
  }
  for (const auto& row : pg.Query("postgres", "SELECT wal_sync FROM pg_stat_wal")) {
    if (!row.empty()) (void)absl::SimpleAtod(row[0], &out.wal_syncs);
  }
  // Errors are logged with the default log_min_messages; every database's errors share the
  // log, but only one database is busy at a time.
  const std::string log = pg.Log();
  out.serialization_failures = CountIn(log, "could not serialize access");
  out.unique_violations = CountIn(log, "duplicate key value violates unique constraint");
  out.deadlocks = CountIn(log, "deadlock detected");
  return out;
}

// ---- Closed-loop load ------------------------------------------------------------------------

struct Load {
  double writes_per_s = 0, p50_ms = 0, p99_ms = 0;
  int64_t writes = 0;  // acknowledged writes in the window
  int64_t errors = 0;
  std::string first_error;
};

// `op(client, k)` makes client `client`'s k-th operation and returns the writes it acknowledged
// (0 when a call failed, with *error set). Warm-up, then a window of `window`; `at_begin` and
// `at_end` run at the window's edges (to read the server's counters there).
Load DriveLoad(int concurrency, absl::Duration window,
               const std::function<int(int, int64_t, std::string*)>& op,
               const std::function<void()>& at_begin, const std::function<void()>& at_end) {
  std::atomic<int> phase{0};  // 0 warm-up, 1 measuring, 2 stop
  std::atomic<int64_t> writes{0}, errors{0};
  std::vector<std::vector<double>> latencies(concurrency);
  std::string first_error;
  std::atomic<bool> error_taken{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&, c] {
      for (int64_t k = 0; phase.load(std::memory_order_relaxed) != 2; ++k) {
        const int started_in = phase.load(std::memory_order_relaxed);
        const absl::Time begin = absl::Now();
        std::string error;
        const int done = op(c, k, &error);
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - begin);
        writes.fetch_add(done, std::memory_order_relaxed);
        if (done == 0) {
          errors++;
          if (!error_taken.exchange(true)) first_error = error;
        }
        if (started_in == 1 && phase.load(std::memory_order_relaxed) == 1) {
          latencies[c].push_back(ms);
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(700));
  at_begin();
  const int64_t writes_begin = writes.load();
  const int64_t errors_begin = errors.load();
  const absl::Time begin = absl::Now();
  phase = 1;
  absl::SleepFor(window);
  const int64_t writes_end = writes.load();
  const int64_t errors_end = errors.load();
  const absl::Duration elapsed = absl::Now() - begin;
  at_end();
  phase = 2;
  for (auto& t : clients) t.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  Load out;
  out.writes = writes_end - writes_begin;
  out.writes_per_s = static_cast<double>(out.writes) / absl::ToDoubleSeconds(elapsed);
  out.p50_ms = Percentile(all, 0.5);
  out.p99_ms = Percentile(all, 0.99);
  out.errors = errors_end - errors_begin;
  if (error_taken.load()) out.first_error = first_error;
  return out;
}

// ---- 1. The workshops binary -----------------------------------------------------------------

// The bench's PKI, token and a TLS channel to a server of it.
class Security {
 public:
  explicit Security(const std::string& dir) {
    std::error_code made;
    std::filesystem::create_directories(dir, made);  // Pki::Create writes into an existing folder
    if (made) Fail(absl::InternalError(absl::StrCat(dir, ": ", made.message())));
    auto pki = testing::Pki::Create(dir);
    if (!pki.ok()) Fail(pki.status());
    pki_ = std::make_unique<testing::Pki>(std::move(*pki));
    auto person = security::ChannelCredentials(security::TlsFiles{"", "", pki_->ca_file()});
    if (!person.ok()) Fail(person.status());
    person_ = *person;
    token_ = testing::TestToken({}, absl::Hours(3));
  }
  security::TlsFiles Server(const std::string& name) {
    auto files = pki_->IssueServer(name);
    if (!files.ok()) Fail(files.status());
    return *files;
  }
  std::shared_ptr<grpc::Channel> Channel(int port) const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per client
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), person_, args);
  }
  // A context with a 20 s deadline and the force administrator's token.
  std::unique_ptr<grpc::ClientContext> Context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    ctx->AddMetadata("authorization", "Bearer " + token_);
    return ctx;
  }

 private:
  [[noreturn]] static void Fail(const absl::Status& s) {
    std::fprintf(stderr, "postgres_bench security: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
  std::unique_ptr<testing::Pki> pki_;
  std::shared_ptr<grpc::ChannelCredentials> person_;
  std::string token_;
};

// One configuration of the workshops service: its processes (1 or 2 replicas) and a stub per
// client, client c on replica c % replicas.
struct Workshops {
  std::vector<std::unique_ptr<ChildProcess>> replicas;
  std::vector<std::unique_ptr<wv1::WorkshopsService::Stub>> stubs;
  std::string venue, topic;
  std::vector<std::string> presenters;  // one per client
};

// Starts `replicas` processes on `db_flag` (--db-path=... or --db-url=...).
bool LaunchWorkshops(Security& security, const std::string& db_flag, int replicas, int concurrency,
                     Workshops* out) {
  const std::vector<std::string> tls = testing::SecurityFlags(security.Server("workshops"));
  std::vector<int> ports;
  for (int r = 0; r < replicas; ++r) {
    std::vector<std::string> args = {"--grpc-address=127.0.0.1:0", "--http-address=off", db_flag,
                                     absl::StrCat("--max-threads=", concurrency + 16),
                                     "--page-token-key=bench-shared-key"};
    args.insert(args.end(), tls.begin(), tls.end());
    auto& child =
        out->replicas.emplace_back(std::make_unique<ChildProcess>(OUTREACH_WORKSHOPS_BIN, args));
    if (!child->Start()) return false;
  }
  for (auto& child : out->replicas) {
    int port = 0;
    if (!absl::SimpleAtoi(child->WaitForLogValue("grpc_port", absl::Seconds(60)), &port)) {
      std::fprintf(stderr, "workshops did not start:\n%s", child->Stderr().c_str());
      return false;
    }
    ports.push_back(port);
  }
  for (int c = 0; c < concurrency; ++c) {
    out->stubs.push_back(wv1::WorkshopsService::NewStub(
        security.Channel(ports[static_cast<size_t>(c) % ports.size()])));
  }
  return true;
}

void StopWorkshops(Workshops& w) {
  for (auto& child : w.replicas) child->Signal(SIGTERM);
  for (auto& child : w.replicas) {
    if (child->Wait(absl::Seconds(20)) < 0) {
      child->Signal(SIGKILL);
      child->Wait(absl::Seconds(5));
    }
  }
}

bool Check(const grpc::Status& s, const char* what) {
  if (!s.ok()) std::fprintf(stderr, "setup %s: %s\n", what, s.error_message().c_str());
  return s.ok();
}

// What the schedule + deliver mix needs: a venue, a topic, an accredited presenter per client
// (so that clients never double-book one presenter).
bool SetUpWorkshops(const Security& security, int concurrency, Workshops& w) {
  auto& stub = *w.stubs[0];
  wv1::CreateVenueRequest cv;
  cv.set_parent("forces/derbyshire");
  cv.set_venue_id("bench-academy");
  cv.mutable_venue()->set_display_name("Bench Academy");
  cv.mutable_venue()->set_kind(cv1::VENUE_KIND_SECONDARY);
  cv.mutable_venue()->set_area("north");
  cv.mutable_venue()->set_pupil_roll(2000);
  wv1::Venue venue;
  if (!Check(stub.CreateVenue(security.Context().get(), cv, &venue), "CreateVenue")) return false;
  w.venue = venue.name();
  wv1::CreateTopicRequest ct;
  ct.set_parent("forces/derbyshire");
  ct.set_topic_id("sexting-ks3");
  ct.mutable_topic()->set_display_name("Sexting: think before you send");
  ct.mutable_topic()->set_category(wv1::TOPIC_CATEGORY_SEXTING);
  ct.mutable_topic()->set_min_year_group(7);
  ct.mutable_topic()->set_max_year_group(9);
  ct.mutable_topic()->set_suitable_for_pupils(true);
  ct.mutable_topic()->set_version("2025.1");
  wv1::Topic topic;
  if (!Check(stub.CreateTopic(security.Context().get(), ct, &topic), "CreateTopic")) return false;
  w.topic = topic.name();
  for (int c = 0; c < concurrency; ++c) {
    wv1::CreatePresenterRequest cp;
    cp.set_parent("forces/derbyshire");
    cp.set_presenter_id(absl::StrCat("presenter-", c));
    cp.mutable_presenter()->set_display_name(absl::StrCat("Presenter ", c));
    cp.mutable_presenter()->set_team(cv1::PRESENTER_TEAM_DIGITAL_MEDIA_INVESTIGATION_UNIT);
    wv1::Presenter presenter;
    if (!Check(stub.CreatePresenter(security.Context().get(), cp, &presenter), "CreatePresenter"))
      return false;
    wv1::GrantAccreditationRequest grant;
    grant.set_name(presenter.name());
    grant.set_etag(presenter.etag());
    *grant.mutable_expire_time() = ToProtoTime(absl::Now() + absl::Hours(24 * 300));
    if (!Check(stub.GrantAccreditation(security.Context().get(), grant, &presenter), "Grant"))
      return false;
    w.presenters.push_back(presenter.name());
  }
  return true;
}

int CreateVenueOp(const Security& security, Workshops& w, const std::string& tag, int c, int64_t k,
                  std::string* error) {
  wv1::CreateVenueRequest req;
  req.set_parent("forces/derbyshire");
  req.set_venue_id(absl::StrCat("v", tag, "-", c, "-", k));
  req.mutable_venue()->set_display_name(absl::StrCat("School ", c, "-", k));
  req.mutable_venue()->set_kind(cv1::VENUE_KIND_SECONDARY);
  req.mutable_venue()->set_area(absl::StrCat("area-", k % 12));
  req.mutable_venue()->set_pupil_roll(900);
  wv1::Venue venue;
  grpc::Status s = w.stubs[c]->CreateVenue(security.Context().get(), req, &venue);
  if (!s.ok()) *error = absl::StrCat(s.error_code(), ": ", s.error_message());
  return s.ok() ? 1 : 0;
}

// Client c's k-th workshop: an hour-long session in its own slot (hours after `base`, in the
// past), scheduled and then delivered: two writes.
int ScheduleDeliverOp(const Security& security, Workshops& w, absl::Time base, int c, int64_t k,
                      std::string* error) {
  wv1::ScheduleWorkshopRequest sw;
  sw.set_parent("forces/derbyshire");
  sw.set_workshop_id(absl::StrCat("w-", c, "-", k));
  auto* ws = sw.mutable_workshop();
  ws->set_title("Year 8 sexting lesson");
  ws->set_venue(w.venue);
  const absl::Time start = base + absl::Hours(2 * k);
  *ws->mutable_start_time() = ToProtoTime(start);
  *ws->mutable_end_time() = ToProtoTime(start + absl::Hours(1));
  ws->set_format(cv1::WORKSHOP_FORMAT_LESSON);
  ws->add_audiences(cv1::WORKSHOP_AUDIENCE_PUPILS);
  ws->add_year_groups(8);
  ws->add_topics(w.topic);
  ws->add_presenters(w.presenters[c]);
  wv1::Workshop workshop;
  grpc::Status s = w.stubs[c]->ScheduleWorkshop(security.Context().get(), sw, &workshop);
  if (!s.ok()) {
    *error = absl::StrCat("ScheduleWorkshop ", s.error_code(), ": ", s.error_message());
    return 0;
  }
  wv1::DeliverWorkshopRequest dw;
  dw.set_name(workshop.name());
  dw.set_etag(workshop.etag());
  dw.mutable_delivery()->set_actual_duration_minutes(50);
  auto* y8 = dw.mutable_delivery()->mutable_headcount()->add_pupils();
  y8->set_year_group(8);
  y8->set_pupils(28);
  s = w.stubs[c]->DeliverWorkshop(security.Context().get(), dw, &workshop);
  if (!s.ok()) {
    *error = absl::StrCat("DeliverWorkshop ", s.error_code(), ": ", s.error_message());
    return 0;
  }
  return 2;
}

struct WriteCell {
  std::string workload, backend;
  int replicas = 1;
  Load load;
  bool pg = false;
  PgCounters seen;  // PostgreSQL: the server's counters over the window
};

void PrintWriteHeader() {
  std::printf("%-16s %-10s %3s %9s %8s %8s %6s %11s %12s %9s %11s %9s %9s %6s\n", "workload",
              "backend", "rep", "writes/s", "p50_ms", "p99_ms", "vs_sq", "stmts/write",
              "begins/write", "rollback", "fsync/write", "ser_fail", "uniq_viol", "errors");
}

void PrintWriteCell(const WriteCell& cell, double sqlite_rate) {
  const double writes = static_cast<double>(cell.load.writes);
  std::printf("%-16s %-10s %3d %9.0f %8.1f %8.1f %6.2f", cell.workload.c_str(),
              cell.backend.c_str(), cell.replicas, cell.load.writes_per_s, cell.load.p50_ms,
              cell.load.p99_ms, Ratio(cell.load.writes_per_s, sqlite_rate));
  if (cell.pg) {
    std::printf(" %11.1f %12.3f %9.0f %11.2f %9lld %9lld", Ratio(cell.seen.statements, writes),
                Ratio(cell.seen.write_begins, writes), cell.seen.rollbacks,
                Ratio(cell.seen.wal_syncs, writes),
                static_cast<long long>(cell.seen.serialization_failures),
                static_cast<long long>(cell.seen.unique_violations));
  } else {
    std::printf(" %11s %12s %9s %11s %9s %9s", "-", "-", "-", "-", "-", "-");
  }
  std::printf(" %6lld\n", static_cast<long long>(cell.load.errors));
  if (cell.load.errors > 0) std::printf("    first error: %s\n", cell.load.first_error.c_str());
  std::fflush(stdout);
}

// One cell: a fresh store (a SQLite file, or a new PostgreSQL database), the processes, the
// set-up, the load, the processes stopped.
WriteCell RunWriteCell(const Flags& flags, Security& security, PgServer* pg, const TempDir& dir,
                       const std::string& workload, int replicas) {
  static int serial = 0;
  const std::string name = absl::StrCat("ws", ++serial);
  WriteCell cell{workload, pg == nullptr ? "sqlite" : "postgres", replicas, {}, pg != nullptr, {}};
  std::string db_flag = "--db-path=" + dir.File(name + ".db");
  if (pg != nullptr) {
    if (!pg->CreateDatabase(name)) return cell;
    db_flag = "--db-url=" + pg->Url(name);
  }
  Workshops w;
  if (!LaunchWorkshops(security, db_flag, replicas, flags.concurrency, &w) ||
      !SetUpWorkshops(security, flags.concurrency, w)) {
    cell.load.errors = -1;
    StopWorkshops(w);
    return cell;
  }
  const absl::Time base = absl::Now() - absl::Hours(24 * 200);
  std::function<int(int, int64_t, std::string*)> op = [&](int c, int64_t k, std::string* e) {
    return CreateVenueOp(security, w, name, c, k, e);
  };
  if (workload != "create-venue") {
    op = [&](int c, int64_t k, std::string* e) {
      return ScheduleDeliverOp(security, w, base, c, k, e);
    };
  }
  PgCounters before, after;
  cell.load = DriveLoad(
      flags.concurrency, absl::Seconds(flags.seconds), op,
      [&] {
        if (pg != nullptr) before = ReadCounters(*pg, name);
      },
      [&] {
        if (pg != nullptr) after = ReadCounters(*pg, name);
      });
  cell.seen = after - before;
  StopWorkshops(w);
  return cell;
}

std::vector<WriteCell> MeasureWrites(const Flags& flags, Security& security, PgServer& pg,
                                     const TempDir& dir) {
  std::printf(
      "\n1. workshops writes through the real binary (TLS + token), %d closed-loop clients, "
      "%d s per cell; load average now %s\n",
      flags.concurrency, flags.seconds, LoadAverage().c_str());
  PrintWriteHeader();
  std::vector<WriteCell> cells;
  for (const std::string workload : {"create-venue", "schedule+deliver"}) {
    double sqlite_rate = 0;
    for (auto [backend, replicas] : {std::pair{0, 1}, std::pair{1, 1}, std::pair{1, 2}}) {
      WriteCell cell =
          RunWriteCell(flags, security, backend == 0 ? nullptr : &pg, dir, workload, replicas);
      if (backend == 0) sqlite_rate = cell.load.writes_per_s;
      PrintWriteCell(cell, sqlite_rate);
      cells.push_back(std::move(cell));
    }
  }
  std::printf(
      "  stmts/write: statements the server completed (BEGIN and COMMIT included) per acknowledged "
      "write; begins/write: SERIALIZABLE write transactions started per acknowledged write (a "
      "retry starts another); rollback: ROLLBACKs completed; fsync/write: WAL syncs "
      "(pg_stat_wal) per write; ser_fail, uniq_viol: errors the server logged in the window\n");
  return cells;
}

// ---- 2. Metrics ingest -------------------------------------------------------------------------

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

// `batches` batches of 500, half deliveries and half engagement, over `spread_days` days from
// `first` (metrics_bench's data).
std::vector<google::protobuf::RepeatedPtrField<ev::OutreachEvent>> IngestBatches(int batches,
                                                                                 int spread_days,
                                                                                 int64_t first_id) {
  std::vector<google::protobuf::RepeatedPtrField<ev::OutreachEvent>> out(batches);
  int64_t n = first_id;
  for (auto& batch : out) {
    for (int i = 0; i < 500; ++i, ++n) {
      const absl::CivilDay day = absl::CivilDay(2024, 9, 1) + (n - first_id) % spread_days;
      *batch.Add() =
          n % 2 == 0 ? Delivery(n, StartOfLocalDay(day) + absl::Hours(11)) : Engagement(n, day);
    }
  }
  return out;
}

// Opens `location` with the metrics schema.
std::unique_ptr<db::Database> OpenMetrics(const std::string& location) {
  auto db = db::Database::Open(location, metrics::MetricsServiceSpec().schema);
  if (!db.ok()) {
    std::fprintf(stderr, "open %s: %s\n", location.c_str(),
                 std::string(db.status().message()).c_str());
    return nullptr;
  }
  return std::move(*db);
}

struct IngestCell {
  double events_per_s = 0;
  int64_t failed_batches = 0;
  PgCounters seen;
};

IngestCell RunIngest(db::Database* db, PgServer* pg, const std::string& pg_name, int spread_days) {
  constexpr int kBatches = 20;
  IngestCell cell;
  auto store = metrics::NewSqlMetricsStore(db);
  const auto batches = IngestBatches(kBatches, spread_days, 0);
  PgCounters before;
  if (pg != nullptr) before = ReadCounters(*pg, pg_name);
  const absl::Time begin = absl::Now();
  for (const auto& batch : batches) {
    if (!store->Ingest("derbyshire", batch, absl::Now()).ok()) ++cell.failed_batches;
  }
  cell.events_per_s = kBatches * 500 / absl::ToDoubleSeconds(absl::Now() - begin);
  if (pg != nullptr) cell.seen = ReadCounters(*pg, pg_name) - before;
  return cell;
}

void MeasureIngest(PgServer& pg, const TempDir& dir) {
  std::printf(
      "\n2. metrics ingest (MetricsStore::Ingest, 20 batches of 500, one writer, durable)\n");
  std::printf("%-22s %12s %12s %8s %12s %12s %8s\n", "events spread over", "sqlite ev/s",
              "postgres ev/s", "pg/sq", "pg stmts/ev", "fsync/batch", "failed");
  for (int spread : {7, 300}) {
    auto sqlite = OpenMetrics(dir.File(absl::StrCat("ingest-", spread, ".db")));
    const std::string name = absl::StrCat("ingest", spread);
    std::unique_ptr<db::Database> postgres;
    if (pg.CreateDatabase(name)) postgres = OpenMetrics(pg.Url(name));
    if (sqlite == nullptr || postgres == nullptr) continue;
    const IngestCell sq = RunIngest(sqlite.get(), nullptr, "", spread);
    const IngestCell pq = RunIngest(postgres.get(), &pg, name, spread);
    std::printf("%-22s %12.0f %12.0f %8.2f %12.2f %12.2f %8lld\n",
                absl::StrCat(spread, " days").c_str(), sq.events_per_s, pq.events_per_s,
                Ratio(pq.events_per_s, sq.events_per_s), Ratio(pq.seen.statements, 20 * 500),
                Ratio(pq.seen.wal_syncs, 20),
                static_cast<long long>(sq.failed_batches + pq.failed_batches));
    std::fflush(stdout);
  }
}

// ---- 3. Dashboards -----------------------------------------------------------------------------

// The metrics service in this process, as production serves it: TLS, the security interceptor
// with the test JWKS and the shipped policy.
struct MetricsServer {
  std::unique_ptr<metrics::MetricsServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

MetricsServer ServeMetrics(db::Database* db, const metrics::CacheOptions& cache,
                           const std::shared_ptr<grpc::ServerCredentials>& credentials,
                           const security::Authorizer* authorizer) {
  static PageTokenCodec tokens("bench");
  MetricsServer s;
  s.service =
      metrics::MakeMetricsService(ServiceContext{db, SystemClock::Get(), &tokens, nullptr}, cache);
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", credentials, &s.port);
  b.RegisterService(s.service.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(security::MakeSecurityInterceptor(authorizer, nullptr));
  b.experimental().SetInterceptorCreators(std::move(factories));
  s.server = b.BuildAndStart();
  return s;
}

// A term of data: 2000 deliveries and 3000 engagement days (metrics_bench's dashboard data).
bool LoadTerm(db::Database* db) {
  auto store = metrics::NewSqlMetricsStore(db);
  google::protobuf::RepeatedPtrField<ev::OutreachEvent> batch;
  for (int64_t i = 0; i < 5000; ++i) {
    const absl::CivilDay day = absl::CivilDay(2024, 9, 1) + i % 120;
    *batch.Add() =
        i % 5 < 2 ? Delivery(i, StartOfLocalDay(day) + absl::Hours(11)) : Engagement(i, day);
    if (batch.size() == 500) {
      if (!store->Ingest("derbyshire", batch, absl::Now()).ok()) return false;
      batch.Clear();
    }
  }
  return true;
}

// Closed-loop GetDashboard (academic year, whole force) at `concurrency`.
Load DriveDashboards(const Security& security, int port, int concurrency, absl::Duration window) {
  std::vector<std::unique_ptr<mv1::MetricsService::Stub>> stubs;
  for (int c = 0; c < concurrency; ++c) {
    stubs.push_back(mv1::MetricsService::NewStub(security.Channel(port)));
  }
  mv1::GetDashboardRequest req;
  req.set_name("forces/derbyshire/dashboard");
  req.mutable_period()->set_kind(mv1::PERIOD_KIND_ACADEMIC_YEAR);
  *req.mutable_period()->mutable_anchor_date() = ToProtoDate(absl::CivilDay(2024, 10, 1));
  return DriveLoad(
      concurrency, window,
      [&](int c, int64_t, std::string* error) {
        mv1::Dashboard d;
        grpc::Status s = stubs[c]->GetDashboard(security.Context().get(), req, &d);
        if (!s.ok()) *error = s.error_message();
        return s.ok() ? 1 : 0;
      },
      [] {}, [] {});
}

// A redis-server on a free loopback port ("" when there is none to start).
std::string StartRedis(const Flags& flags, const TempDir& dir,
                       std::unique_ptr<ChildProcess>* redis) {
  if (!std::filesystem::exists(flags.redis_server)) return "";
  const int port = testing::FreeLoopbackPort();
  *redis = std::make_unique<ChildProcess>(
      flags.redis_server,
      std::vector<std::string>{"--port", absl::StrCat(port), "--bind", "127.0.0.1", "--dir",
                               dir.path(), "--save", "", "--appendonly", "no"});
  if (!(*redis)->Start()) return "";
  redis::Options o;
  o.port = port;
  o.retry_interval = absl::ZeroDuration();
  redis::Client probe(o);
  for (int i = 0; i < 100 && !probe.Command({"PING"}).ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::StrCat("127.0.0.1:", port);
}

void MeasureDashboards(const Flags& flags, Security& security, PgServer& pg, const TempDir& dir) {
  const security::TlsFiles files = security.Server("metrics");
  auto credentials = security::ServerCredentials(files);
  auto authorizer =
      security::Authorizer::Create(testing::TestSecuritySettings(files), SystemClock::Get());
  if (!credentials.ok() || !authorizer.ok()) return;
  std::unique_ptr<ChildProcess> redis;
  const std::string redis_address = StartRedis(flags, dir, &redis);
  std::unique_ptr<db::Database> dbs[2] = {OpenMetrics(dir.File("dashboard.db")), nullptr};
  if (pg.CreateDatabase("dashboard")) dbs[1] = OpenMetrics(pg.Url("dashboard"));
  if (dbs[0] == nullptr || dbs[1] == nullptr || !LoadTerm(dbs[0].get()) || !LoadTerm(dbs[1].get()))
    return;
  std::printf(
      "\n3. GetDashboard (academic year, whole force, 5000 events stored), metrics served in "
      "this process over TLS + token, %d s per cell\n",
      flags.seconds);
  std::printf("%-20s %5s %12s %12s %8s %10s %10s %7s\n", "variant", "conc", "sqlite qps",
              "postgres qps", "pg/sq", "sq p99 ms", "pg p99 ms", "errors");
  std::vector<std::pair<std::string, metrics::CacheOptions>> variants;
  if (!redis_address.empty()) {
    metrics::CacheOptions near;
    near.redis_address = redis_address;
    variants.emplace_back("cached (near+redis)", near);
  }
  variants.emplace_back("uncached", metrics::CacheOptions{});
  for (const auto& [label, cache] : variants) {
    for (int conc : {1, 8}) {
      Load loads[2];
      for (int b = 0; b < 2; ++b) {
        metrics::CacheOptions options = cache;
        options.key_prefix = absl::StrCat("bench:", b);  // the two stores share one Redis
        MetricsServer s = ServeMetrics(dbs[b].get(), options, *credentials, authorizer->get());
        absl::SleepFor(absl::Milliseconds(200));  // the cache's subscription comes up
        loads[b] = DriveDashboards(security, s.port, conc, absl::Seconds(flags.seconds));
        s.service->BeginDrain();
        s.server->Shutdown();
      }
      std::printf("%-20s %5d %12.0f %12.0f %8.2f %10.2f %10.2f %7lld\n", label.c_str(), conc,
                  loads[0].writes_per_s, loads[1].writes_per_s,
                  Ratio(loads[1].writes_per_s, loads[0].writes_per_s), loads[0].p99_ms,
                  loads[1].p99_ms, static_cast<long long>(loads[0].errors + loads[1].errors));
      std::fflush(stdout);
    }
  }
  if (redis != nullptr) {
    redis->Signal(SIGTERM);
    redis->Wait(absl::Seconds(10));
  }
}

// ---- main
// ----------------------------------------------------------------------------------------

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    bool ok = true;
    if (absl::ConsumePrefix(&arg, "--seconds=")) {
      ok = absl::SimpleAtoi(arg, &flags->seconds) && flags->seconds >= 1;
    } else if (absl::ConsumePrefix(&arg, "--concurrency=")) {
      ok = absl::SimpleAtoi(arg, &flags->concurrency) && flags->concurrency >= 1;
    } else if (absl::ConsumePrefix(&arg, "--pg-bin=")) {
      flags->pg_bin = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--redis-server=")) {
      flags->redis_server = std::string(arg);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr,
                   "usage: postgres_bench [--seconds=N>=1] [--concurrency=N>=1] [--pg-bin=DIR] "
                   "[--redis-server=PATH]\n");
      return false;
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  TempDir dir;
  const std::string load_before = LoadAverage();
  const absl::Time began = absl::Now();
  PgServer pg(flags.pg_bin, dir.File("postgres"));
  if (!pg.Start()) return 1;
  std::printf(
      "postgres_bench: %u cores, load average at start %s; PostgreSQL 15 on 127.0.0.1 "
      "(fsync on, synchronous_commit on), SQLite WAL with synchronous=FULL\n",
      std::thread::hardware_concurrency(), load_before.c_str());
  Security security(dir.File("pki"));
  const std::vector<WriteCell> writes = MeasureWrites(flags, security, pg, dir);
  MeasureIngest(pg, dir);
  MeasureDashboards(flags, security, pg, dir);
  pg.Stop();
  std::printf("\nload average at end %s; %.0f s in all\n", LoadAverage().c_str(),
              absl::ToDoubleSeconds(absl::Now() - began));
  // The test signer's JWKS lives in a directory of its own (tests/support/test_security.cc).
  std::error_code ignored;
  std::filesystem::remove_all(std::filesystem::path(testing::TestJwksFile()).parent_path(),
                              ignored);
  bool failed = false;
  for (const WriteCell& cell : writes) failed = failed || cell.load.errors != 0;
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace outreach::bench

int main(int argc, char** argv) { return outreach::bench::Main(argc, argv); }
