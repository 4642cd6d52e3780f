// The real outreach-migrate binary ($OUTREACH_MIGRATE_BIN) moving stores from SQLite files into
// a real PostgreSQL server: the `postgres` fixture's (OUTREACH_TEST_POSTGRES_URL_FILE names its
// URL file) or, without the fixture, a throwaway server this test starts and stops itself.
#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/audit.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/store_support.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/campaigns/campaigns_service.h"
#include "services/metrics/metrics_service.h"
#include "services/training/training_service.h"
#include "services/workshops/store.h"
#include "services/workshops/workshops_service.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tools/migrate/migrate.h"

extern char** environ;

namespace outreach {
namespace {

namespace wv1 = ::outreach::workshops::v1;
namespace cv1 = ::outreach::common::v1;

constexpr char kForce[] = "derbyshire";
constexpr char kPgBin[] = "/usr/lib/postgresql/15/bin";

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs `argv` to completion; stdout and stderr through files so neither pipe can fill.
Result RunCommand(const TempDir& dir, std::vector<std::string> argv) {
  const std::string out = dir.File("stdout"), err = dir.File("stderr");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  Result result;
  if (rc != 0) {
    result.err = absl::StrCat("cannot start ", argv[0]);
    return result;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  return result;
}

// A PostgreSQL server for the whole test binary: the fixture's, or one of our own
// (/work/shared/notes/postgres.md: as root the cluster is owned by and run as `postgres`).
class Server {
 public:
  static Server& Get() {
    static Server* server = new Server();  // stopped by the environment's TearDown
    return *server;
  }
  const std::string& base_url() const { return base_url_; }
  const std::string& problem() const { return problem_; }

  // A new, empty database (UTF8, C collation) and its URL.
  std::string NewDatabase(const std::string& name) {
    const std::string db = absl::StrCat("migrate_", getpid(), "_", name);
    PGconn* c = PQconnectdb(absl::StrCat(base_url_, "/postgres").c_str());
    std::string sql = absl::StrCat(
        "CREATE DATABASE ", db, " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'");
    PGresult* r = PQexec(c, sql.c_str());
    EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    return absl::StrCat(base_url_, "/", db);
  }

  // Stops our own server and removes its files (the object itself lives to the exit).
  void Stop() {
    if (own_) {
      RunCommand(dir_, AsOwner({absl::StrCat(kPgBin, "/pg_ctl"), "-D", dir_.File("pg"), "-m",
                                "fast", "stop"}));
      own_ = false;
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_.path(), ignored);
  }

 private:
  Server() {
    const char* url_file = std::getenv("OUTREACH_TEST_POSTGRES_URL_FILE");
    if (url_file != nullptr && *url_file != '\0') {
      base_url_ = std::string(absl::StripAsciiWhitespace(ReadFile(url_file)));
      if (base_url_.empty()) problem_ = absl::StrCat("no URL in ", url_file);
      return;
    }
    StartOwn();
  }

  std::vector<std::string> AsOwner(std::vector<std::string> argv) const {
    if (geteuid() != 0) return argv;
    std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }

  void StartOwn() {
    chmod(dir_.path().c_str(), 0755);
    std::filesystem::create_directory(dir_.File("pg"));
    std::filesystem::create_directory(dir_.File("run"));
    if (geteuid() == 0) {
      const passwd* pw = getpwnam("postgres");
      if (pw == nullptr) {
        problem_ = "no user postgres to run the server as";
        return;
      }
      for (const char* sub : {"pg", "run"}) {
        if (chown(dir_.File(sub).c_str(), pw->pw_uid, pw->pw_gid) != 0) problem_ = "chown failed";
      }
    }
    Result init = RunCommand(dir_, AsOwner({absl::StrCat(kPgBin, "/initdb"), "-D", dir_.File("pg"),
                                            "-A", "trust", "-U", "postgres"}));
    if (init.exit_code != 0) {
      problem_ = absl::StrCat("initdb failed: ", init.err);
      return;
    }
    const int port = testing::FreeLoopbackPort();
    Result start =
        RunCommand(dir_, AsOwner({absl::StrCat(kPgBin, "/pg_ctl"), "-D", dir_.File("pg"), "-l",
                                  dir_.File("run/pg.log"), "-w", "-o",
                                  absl::StrCat("-p ", port, " -k ", dir_.File("run"),
                                               " -c listen_addresses=127.0.0.1 -c fsync=off"),
                                  "start"}));
    if (start.exit_code != 0) {
      problem_ =
          absl::StrCat("pg_ctl start failed: ", start.err, ReadFile(dir_.File("run/pg.log")));
      return;
    }
    own_ = true;
    base_url_ = absl::StrCat("postgresql://postgres@127.0.0.1:", port);
  }

  TempDir dir_;
  bool own_ = false;
  std::string base_url_;
  std::string problem_;
};

class StopServer : public ::testing::Environment {
 public:
  void TearDown() override { Server::Get().Stop(); }
};
[[maybe_unused]] const auto* const kStopServer =
    ::testing::AddGlobalTestEnvironment(new StopServer());

class MigrateToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Server::Get().problem().empty()) << Server::Get().problem();
    ASSERT_NE(std::getenv("OUTREACH_MIGRATE_BIN"), nullptr) << "OUTREACH_MIGRATE_BIN is not set";
  }

  Result Migrate(const std::string& service, const std::string& from, const std::string& to,
                 std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {std::getenv("OUTREACH_MIGRATE_BIN"), "--service=" + service,
                                     "--from=" + from, "--to=" + to};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(dir_, argv);
  }

  // The summary line of `table` in the tool's stdout, split on spaces.
  static std::vector<std::string> SummaryOf(const std::string& out, const std::string& table) {
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      std::vector<std::string> cells = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (!cells.empty() && cells[0] == table) return cells;
    }
    return {};
  }

  TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1767225600)};  // 2026-01-01
};

wv1::Venue School(int i) {
  wv1::Venue v;
  v.set_display_name(absl::StrCat("Académie Ëxample №", i));  // UTF-8 text survives the copy
  v.set_kind(cv1::VENUE_KIND_SECONDARY);
  v.set_area(i % 2 == 0 ? "north-dales" : "derby-city");
  v.set_pupil_roll(100 + i);
  v.set_postcode("DE1 3AA");
  return v;
}

audit::Record AuditRecord(int i, absl::Time t) {
  audit::Record r;
  r.force = kForce;
  r.subject = absl::StrCat("officer-", i);
  r.roles = {"coordinator", "reader"};
  r.peer = "ipv4:127.0.0.1:5555";
  r.method = "/outreach.workshops.v1.WorkshopsService/CreateVenue";
  r.resources = {absl::StrCat("forces/derbyshire/venues/v", i)};
  r.field_paths = {"display_name"};
  r.justification = "term planning";
  r.time = t;
  return r;
}

// A workshops store with real data, as the service would have left it: venues (one deleted),
// request_id ledger rows, outbox events of which the first 10 were sent, audit records, and a
// ledger response stored as TEXT in its BLOB column (as an older build might have bound it).
void FillWorkshops(const std::string& path, const Clock& clock, int venues) {
  auto db = db::Database::Open(path, workshops::WorkshopsSchema());
  ASSERT_TRUE(db.ok()) << db.status();
  auto store = workshops::NewSqlWorkshopsStore(db->get(), &clock);
  for (int i = 0; i < venues; ++i) {
    RequestKey key;
    if (i % 3 == 0) key = {absl::StrCat("req-", i), absl::StrCat("hash-", i)};
    auto v = store->CreateVenue(kForce, absl::StrCat("v", i), School(i), key);
    ASSERT_TRUE(v.ok()) << v.status();
  }
  auto doomed = store->GetVenue(kForce, "v1");
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  ASSERT_TRUE(store->DeleteVenue(kForce, "v1", doomed->etag()).ok());
  ASSERT_TRUE((*db)
                  ->Write([&](db::Connection& c) -> absl::Status {
                    for (int i = 0; i < 5; ++i) {
                      if (auto s = audit::Append(c, AuditRecord(i, clock.Now())); !s.ok()) return s;
                    }
                    auto pending = Outbox::Pending(c, 10);
                    if (!pending.ok()) return pending.status();
                    if (auto s = Outbox::MarkSent(c, kForce, pending->front().sequence,
                                                  pending->back().sequence, clock.Now());
                        !s.ok()) {
                      return s;
                    }
                    auto q = c.Prepare(
                        "INSERT INTO request_ledger (force, method, request_id, request_hash, "
                        "response, created_time) VALUES (?, 'Old', 'old-1', 'h', ?, ?)");
                    if (!q.ok()) return q.status();
                    q->Bind(1, kForce).Bind(2, "stored as text").Bind(3, db::ToMicros(clock.Now()));
                    return q->Run();
                  })
                  .ok());
}

TEST_F(MigrateToolTest, WorkshopsStoreMovesWithEverythingAndVerifies) {
  constexpr int kVenues = 120;
  const std::string file = dir_.File("workshops.db");
  FillWorkshops(file, clock_, kVenues);
  if (HasFatalFailure()) return;
  const std::string url = Server::Get().NewDatabase("workshops");

  // Batches of 25 rows: the outbox (121 events) and venues take several transactions each.
  Result r = Migrate("workshops", file, url, {"--batch-rows=25"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "verified")) << r.out;
  EXPECT_FALSE(absl::StrContains(r.err, "copying ")) << "progress is for a terminal: " << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "sequence of outbox.sequence set to")) << r.err;
  const auto outbox = SummaryOf(r.out, "outbox");
  ASSERT_EQ(outbox.size(), 4u) << r.out;
  EXPECT_EQ(outbox[1], absl::StrCat(kVenues + 1));  // one event per create, one for the delete
  EXPECT_EQ(outbox[2].size(), 64u);
  EXPECT_EQ(outbox[3], "ok");
  for (const char* table : {"venues", "request_ledger", "audit_records", "audit_chain",
                            "audit_record_resources", "presenters", "workshops"}) {
    const auto cells = SummaryOf(r.out, table);
    ASSERT_EQ(cells.size(), 4u) << table << "\n" << r.out;
    EXPECT_EQ(cells[3], "ok") << table;
  }
  EXPECT_EQ(SummaryOf(r.out, "venues")[1], absl::StrCat(kVenues - 1));
  EXPECT_EQ(SummaryOf(r.out, "request_ledger")[1], absl::StrCat(kVenues / 3 + 1));
  EXPECT_EQ(SummaryOf(r.out, "audit_records")[1], "5");

  // The data reads back through the store on PostgreSQL, equal to what SQLite gives.
  auto sqlite = db::Database::Open(file, workshops::WorkshopsSchema());
  ASSERT_TRUE(sqlite.ok()) << sqlite.status();
  auto pg = db::Database::Open(url, workshops::WorkshopsSchema());
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto from = workshops::NewSqlWorkshopsStore(sqlite->get(), &clock_);
  auto to = workshops::NewSqlWorkshopsStore(pg->get(), &clock_);
  for (int i : {0, 2, 57, kVenues - 1}) {
    auto a = from->GetVenue(kForce, absl::StrCat("v", i));
    auto b = to->GetVenue(kForce, absl::StrCat("v", i));
    ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*a, *b)) << b->DebugString();
  }
  EXPECT_EQ(to->GetVenue(kForce, "v1").status().code(), absl::StatusCode::kNotFound);
  ListQuery all;
  all.page_size = 500;
  auto listed = to->ListVenues(kForce, all);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->items.size(), static_cast<size_t>(kVenues - 1));

  ASSERT_TRUE((*pg)
                  ->Read([&](db::Connection& c) -> absl::Status {
                    // The unsent events are still unsent; the sent ones stay sent.
                    auto stats = Outbox::Stats(c);
                    EXPECT_TRUE(stats.ok());
                    if (stats.ok()) {
                      EXPECT_EQ(stats->backlog, kVenues + 1 - 10);
                    }
                    auto pending = Outbox::Pending(c, 1000);
                    EXPECT_TRUE(pending.ok());
                    if (pending.ok()) {
                      EXPECT_EQ(pending->size(), static_cast<size_t>(kVenues + 1 - 10));
                      EXPECT_EQ(pending->front().sequence, 11);
                    }
                    // The audit chain verifies on PostgreSQL.
                    auto verified = audit::Verify(c);
                    EXPECT_TRUE(verified.ok() && verified->ok && verified->records_checked == 5)
                        << (verified.ok() ? verified->problem : verified.status().ToString());
                    // A request_id seen on SQLite is still seen; the TEXT response became bytes.
                    auto old = RequestLedger::Find(c, kForce, "Old", "old-1", "h");
                    EXPECT_TRUE(old.ok() && old->has_value() && **old == "stored as text");
                    auto seen = RequestLedger::Find(c, kForce, "CreateVenue", "req-3", "hash-3");
                    EXPECT_TRUE(seen.ok() && seen->has_value());
                    return absl::OkStatus();
                  })
                  .ok());

  // A new write on PostgreSQL takes the next outbox sequence (setval), not a copied one.
  ASSERT_TRUE(to->CreateVenue(kForce, "after", School(999), {}).ok());
  ASSERT_TRUE((*pg)
                  ->Read([&](db::Connection& c) -> absl::Status {
                    auto pending = Outbox::Pending(c, 1000);
                    EXPECT_TRUE(pending.ok());
                    if (pending.ok()) {
                      EXPECT_EQ(pending->back().sequence, kVenues + 2);
                    }
                    return absl::OkStatus();
                  })
                  .ok());

  // A second run refuses: the target is not empty.
  Result again = Migrate("workshops", file, url);
  EXPECT_EQ(again.exit_code, 3) << again.out << again.err;
  EXPECT_TRUE(absl::StrContains(again.err, "the target is not empty: table ")) << again.err;
  // One line of the tool's own (libpq may add the server's NOTICEs).
  const std::vector<std::string> lines = absl::StrSplit(again.err, "outreach-migrate:");
  EXPECT_EQ(lines.size(), 2u) << again.err;
}

// The proof compares what it should: a value changed on the target changes its digest.
TEST_F(MigrateToolTest, DigestSeesAChangedValue) {
  const std::string file = dir_.File("workshops.db");
  FillWorkshops(file, clock_, 3);
  if (HasFatalFailure()) return;
  const std::string url = Server::Get().NewDatabase("digest");
  ASSERT_EQ(Migrate("workshops", file, url).exit_code, 0);
  auto sqlite = db::Database::Open(file, workshops::WorkshopsSchema());
  auto pg = db::Database::Open(url, workshops::WorkshopsSchema());
  ASSERT_TRUE(sqlite.ok() && pg.ok());
  auto tables = migrate::DescribeTables(**sqlite, **pg);
  ASSERT_TRUE(tables.ok()) << tables.status();
  for (const migrate::Table& t : *tables) {
    auto a = migrate::TableDigest(**sqlite, t);
    auto b = migrate::TableDigest(**pg, t);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b) << t.name;
  }
  const auto outbox = std::find_if(tables->begin(), tables->end(),
                                   [](const migrate::Table& t) { return t.name == "outbox"; });
  ASSERT_NE(outbox, tables->end());
  const auto before = migrate::TableDigest(**pg, *outbox);
  ASSERT_TRUE((*pg)
                  ->Write([](db::Connection& c) {
                    return c.Exec("UPDATE outbox SET sent_time = NULL WHERE sequence = 1");
                  })
                  .ok());
  const auto after = migrate::TableDigest(**pg, *outbox);
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(before->rows, after->rows);
  EXPECT_NE(before->sha256, after->sha256);
}

// The other services' schemas are wired too: a fresh store of each moves and verifies
// (audit_chain's seeded row is replaced by the source's, not refused as "not empty").
TEST_F(MigrateToolTest, EveryServiceSchemaMoves) {
  const std::vector<std::pair<std::string, std::vector<db::MigrationSet>>> services = {
      {"training", training::TrainingServiceSpec().schema},
      {"campaigns", campaigns::CampaignsServiceSpec().schema},
      {"metrics", metrics::MetricsServiceSpec().schema}};
  for (const auto& [name, schema] : services) {
    const std::string file = dir_.File(name + ".db");
    ASSERT_TRUE(db::Database::Open(file, schema).ok()) << name;
    Result r = Migrate(name, file, Server::Get().NewDatabase(name));
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.out << r.err;
    const auto chain = SummaryOf(r.out, "audit_chain");
    ASSERT_EQ(chain.size(), 4u) << r.out;
    EXPECT_EQ(chain[1], "1");
    EXPECT_EQ(chain[3], "ok");
  }
}

TEST_F(MigrateToolTest, BadArgumentsAreUsageErrors) {
  const std::string url = absl::StrCat(Server::Get().base_url(), "/postgres");
  const std::string file = dir_.File("workshops.db");
  ASSERT_TRUE(db::Database::Open(file, workshops::WorkshopsSchema()).ok());
  Result missing = Migrate("workshops", dir_.File("nowhere.db"), url);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(missing.err, "no such file")) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.File("nowhere.db")));  // never created
  Result service = Migrate("payroll", file, url);
  EXPECT_EQ(service.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(service.err, "--service")) << service.err;
  Result to = Migrate("workshops", file, dir_.File("other.db"));
  EXPECT_EQ(to.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(to.err, "postgresql://")) << to.err;
}

}  // namespace
}  // namespace outreach
