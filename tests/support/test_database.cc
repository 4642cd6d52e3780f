#include "tests/support/test_database.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

constexpr char kUrlFileVariable[] = "OUTREACH_TEST_POSTGRES_URL_FILE";
constexpr size_t kMaxIdentifier = 63;           // PostgreSQL's NAMEDATALEN - 1
constexpr char kDuplicateDatabase[] = "42P04";  // SQLSTATE duplicate_database

const char* UrlFile() {
  const char* file = std::getenv(kUrlFileVariable);
  return file != nullptr && *file != '\0' ? file : nullptr;
}

// "<base>/<database>", keeping any query string of the base URL after the path.
std::string WithDatabase(const std::string& base, const std::string& database) {
  const size_t query = base.find('?');
  if (query == std::string::npos) return absl::StrCat(base, "/", database);
  return absl::StrCat(base.substr(0, query), "/", database, base.substr(query));
}

// Lower-case letters, digits and '_' only: safe in a URL path and as an identifier.
std::string IdentifierPart(std::string_view text) {
  std::string out;
  for (char c : text) out.push_back(absl::ascii_isalnum(c) ? absl::ascii_tolower(c) : '_');
  return out;
}

std::string CurrentTestName() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return "outside_a_test";
  return absl::StrCat(info->test_suite_name(), "_", info->name());
}

// One PGresult, cleared when it goes.
class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result() { PQclear(r_); }
  bool ok() const {
    const ExecStatusType s = PQresultStatus(r_);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  }
  int rows() const { return PQntuples(r_); }
  std::string sqlstate() const {
    const char* state = PQresultErrorField(r_, PG_DIAG_SQLSTATE);
    return state != nullptr ? state : "";
  }
  std::string error() const { return PQresultErrorMessage(r_); }

 private:
  PGresult* r_;
};

// The databases this process made, on one maintenance connection to the server's `postgres`
// database. Lives until exit (never destroyed: the exit handler uses it).
class Registry {
 public:
  static Registry& Get() {
    static Registry* registry = [] {
      auto* r = new Registry();
      std::atexit([] { Get().DropAll(); });
      return r;
    }();
    return *registry;
  }

  std::string Location(const TempDir& dir, std::string_view name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_pair(dir.path(), std::string(name));
    if (auto it = databases_.find(key); it != databases_.end()) return it->second.url;
    if (!Connect()) return "";
    DropThoseWhoseDirectoryIsGone();
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::string database =
          absl::StrCat("t", getpid(), "_", ++counter_, "_", IdentifierPart(CurrentTestName()), "_",
                       IdentifierPart(name))
              .substr(0, kMaxIdentifier);
      Result made(PQexec(admin_, absl::StrCat("CREATE DATABASE \"", database,
                                              "\" TEMPLATE template0 ENCODING 'UTF8'"
                                              " LC_COLLATE 'C' LC_CTYPE 'C'")
                                     .c_str()));
      if (made.ok()) {
        std::string url = WithDatabase(base_url_, database);
        databases_[key] = {dir.path(), database, url};
        return url;
      }
      if (made.sqlstate() != kDuplicateDatabase) {
        ADD_FAILURE() << "CREATE DATABASE " << database << " failed: " << made.error();
        return "";
      }
    }
    ADD_FAILURE() << "no free database name after 5 attempts";
    return "";
  }

 private:
  struct Made {
    std::string dir;  // the TempDir it belongs to: once gone, the database may go
    std::string database;
    std::string url;
  };

  // Reads the base URL once and (re)opens the maintenance connection; false (after a test
  // failure saying why, when `report`) if that fails.
  bool Connect(bool report = true) {
    if (base_url_.empty()) {
      std::ifstream in(UrlFile());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      base_url_ = std::string(absl::StripAsciiWhitespace(text));
      if (base_url_.empty()) {
        if (report) {
          ADD_FAILURE() << kUrlFileVariable << "=" << UrlFile()
                        << " names no readable URL: is the `postgres` CTest fixture"
                           " (scripts/pg-test-server.sh) running?";
        }
        return false;
      }
    }
    if (admin_ != nullptr && PQstatus(admin_) == CONNECTION_OK) return true;
    PQfinish(admin_);
    const std::string url = WithDatabase(base_url_, "postgres");
    const char* keys[] = {"dbname", "sslmode", "connect_timeout", nullptr};
    const char* values[] = {url.c_str(), "disable", "10", nullptr};
    admin_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (PQstatus(admin_) != CONNECTION_OK) {
      if (report) {
        ADD_FAILURE() << "cannot reach the test PostgreSQL server at " << base_url_ << ": "
                      << PQerrorMessage(admin_);
      }
      return false;
    }
    Result quiet(PQexec(admin_, "SET client_min_messages = warning"));
    return true;
  }

  // Keeps the server small during a long test binary: a database whose TempDir was removed
  // (its test is over) and that no session uses any more is dropped now.
  void DropThoseWhoseDirectoryIsGone() {
    for (auto it = databases_.begin(); it != databases_.end();) {
      std::error_code ignored;
      if (std::filesystem::exists(it->second.dir, ignored) || !Unused(it->second.database)) {
        ++it;
        continue;
      }
      Result dropped(PQexec(admin_, DropSql(it->second.database, false).c_str()));
      it = dropped.ok() ? databases_.erase(it) : std::next(it);
    }
  }

  bool Unused(const std::string& database) {
    const char* params[] = {database.c_str()};
    Result r(PQexecParams(admin_, "SELECT 1 FROM pg_stat_activity WHERE datname = $1", 1, nullptr,
                          params, nullptr, nullptr, 0));
    return r.ok() && r.rows() == 0;
  }

  static std::string DropSql(const std::string& database, bool force) {
    return absl::StrCat("DROP DATABASE IF EXISTS \"", database, "\"", force ? " WITH (FORCE)" : "");
  }

  // At exit, in the process that made them (not in a forked child).
  void DropAll() {
    std::lock_guard<std::mutex> lock(mu_);
    if (getpid() != owner_ || databases_.empty() || !Connect(/*report=*/false)) return;
    for (const auto& [key, made] : databases_) {
      Result dropped(PQexec(admin_, DropSql(made.database, true).c_str()));
    }
    databases_.clear();
    PQfinish(admin_);
    admin_ = nullptr;
  }

  std::mutex mu_;
  const pid_t owner_ = getpid();
  std::string base_url_;
  PGconn* admin_ = nullptr;
  int64_t counter_ = 0;
  std::map<std::pair<std::string, std::string>, Made> databases_;
};

}  // namespace

bool TestingOnPostgres() { return UrlFile() != nullptr; }

std::string TestDatabaseLocation(const TempDir& dir, std::string_view name) {
  if (!TestingOnPostgres()) return dir.File(std::string(name) + ".db");
  return Registry::Get().Location(dir, name);
}

}  // namespace outreach
