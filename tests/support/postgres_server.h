#pragma once

// PostgreSQL for the e2e tests that run replicas (tests/e2e/postgres_*.cc): the server of the
// `postgres` CTest fixture (its base URL in the file OUTREACH_TEST_POSTGRES_URL_FILE names),
// fresh databases on it, and a private server a test may restart (the fixture's is shared by
// every test of the run, so no test may restart it).
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace outreach::testing {

// The fixture server's base URL (postgresql://user@127.0.0.1:PORT). A test that needs it and
// finds no fixture fails, saying why, rather than skipping: a run that silently tests nothing
// would look green.
inline std::string FixturePostgresUrl() {
  const char* file = std::getenv("OUTREACH_TEST_POSTGRES_URL_FILE");
  if (file == nullptr || *file == '\0') {
    ADD_FAILURE() << "OUTREACH_TEST_POSTGRES_URL_FILE is not set: run this test through ctest "
                     "(the `postgres` fixture starts a server), or start one with "
                     "scripts/pg-test-server.sh and point the variable at its url file";
    return "";
  }
  std::ifstream in(file);
  std::string url;
  std::getline(in, url);
  url = std::string(absl::StripAsciiWhitespace(url));
  if (url.empty()) ADD_FAILURE() << file << " holds no PostgreSQL URL (is the server running?)";
  return url;
}

// Runs `sql` outside any transaction (CREATE/DROP DATABASE) on database `postgres`.
inline absl::Status RunAdminSql(const std::string& base_url, const std::string& sql) {
  PGconn* conn = PQconnectdb(absl::StrCat(base_url, "/postgres?connect_timeout=10").c_str());
  absl::Status out;
  if (PQstatus(conn) != CONNECTION_OK) {
    out = absl::UnavailableError(absl::StrCat("connect ", base_url, ": ", PQerrorMessage(conn)));
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      out = absl::InternalError(absl::StrCat(sql, ": ", PQerrorMessage(conn)));
    }
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

// A database of its own on the server at `base_url`, dropped (with any sessions still on it)
// when the object dies. UTF8 with C collation, as the suite's databases are created, so text
// orders as on SQLite.
class ScopedDatabase {
 public:
  ScopedDatabase(std::string base_url, const std::string& prefix) : base_url_(std::move(base_url)) {
    static std::atomic<int> counter{0};
    name_ = absl::StrCat(prefix, "_", getpid(), "_", counter++, "_",
                         absl::ToUnixMicros(absl::Now()) % 1000000);
    absl::Status made = RunAdminSql(
        base_url_, absl::StrCat("CREATE DATABASE ", name_,
                                " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"));
    EXPECT_TRUE(made.ok()) << made;
    if (!made.ok()) name_.clear();
  }
  ScopedDatabase(const ScopedDatabase&) = delete;
  ScopedDatabase& operator=(const ScopedDatabase&) = delete;
  ~ScopedDatabase() {
    if (name_.empty()) return;
    absl::Status dropped =
        RunAdminSql(base_url_, absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
    if (!dropped.ok()) ADD_FAILURE() << dropped;
  }
  bool ok() const { return !name_.empty(); }
  std::string url() const { return absl::StrCat(base_url_, "/", name_); }

 private:
  std::string base_url_;
  std::string name_;
};

// A PostgreSQL server of the test's own on 127.0.0.1 (initdb, pg_ctl), so that the test may
// restart it. As root the cluster belongs to and runs as the user `postgres` (PostgreSQL refuses
// to run as root). Trusts loopback, fsync off: a throwaway for tests only. Stopped and removed
// when the object dies.
class PrivatePostgres {
 public:
  PrivatePostgres() {
    std::string pattern = (std::filesystem::temp_directory_path() / "outreach-pg-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return;
    dir_ = pattern;
    // The cluster's owner must reach its folders; nothing secret is kept here.
    chmod(dir_.c_str(), 0755);
    for (const char* sub : {"/data", "/run"}) {
      std::filesystem::create_directory(dir_ + sub);
      if (geteuid() == 0) Run("/bin/chown", {"postgres", dir_ + sub});
    }
    const char* bindir = std::getenv("PG_BINDIR");
    bin_ = bindir != nullptr && *bindir != '\0' ? bindir : "/usr/lib/postgresql/15/bin";
  }
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;
  ~PrivatePostgres() {
    if (started_) Ctl({"-m", "immediate", "-w", "stop"});
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  // initdb and start on a free port (kept across restarts). True once it accepts connections.
  bool Start() {
    if (dir_.empty()) return false;
    if (!AsOwner(bin_ + "/initdb", {"-D", dir_ + "/data", "-A", "trust", "-U", "postgres",
                                    "--locale=C", "-E", "UTF8", "--no-sync"})) {
      return false;
    }
    port_ = FreeLoopbackPort();
    started_ = Ctl({"-l", dir_ + "/run/server.log", "-w", "-t", "60", "-o",
                    absl::StrCat("-p ", port_,
                                 " -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
                                 " -c fsync=off -c max_connections=200"),
                    "start"});
    return started_;
  }
  // pg_ctl restart -m fast: every session is cut, the server comes back on the same port.
  bool Restart() { return Ctl({"-m", "fast", "-w", "-t", "60", "restart"}); }

  std::string url() const { return absl::StrCat("postgresql://postgres@127.0.0.1:", port_); }
  std::string Log() const {
    std::ifstream in(dir_ + "/run/server.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  static bool Run(const std::string& binary, std::vector<std::string> args) {
    ChildProcess p(binary, std::move(args));
    if (!p.Start()) return false;
    const int code = p.Wait(absl::Seconds(90));
    EXPECT_EQ(code, 0) << binary << ": " << p.Stderr();
    return code == 0;
  }
  bool AsOwner(const std::string& binary, std::vector<std::string> args) const {
    if (geteuid() != 0) return Run(binary, std::move(args));
    args.insert(args.begin(), {"-u", "postgres", "--", binary});
    return Run("/usr/sbin/runuser", std::move(args));
  }
  bool Ctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {"-D", dir_ + "/data"});
    return AsOwner(bin_ + "/pg_ctl", std::move(args));
  }

  std::string dir_;
  std::string bin_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace outreach::testing
