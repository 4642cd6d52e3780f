// What only the PostgreSQL backend of common/db.h does (the shared behaviour runs in every
// postgres_<store test>): SQL translation, value round trips, serialization retries between
// two "replicas", the lease, concurrent migrations, a lost connection, an unreachable server.

#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/db.h"
#include "common/store_support.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

namespace outreach {
namespace {

using db::Connection;
using db::Database;
using db::MigrationSet;

MigrationSet Counters() {
  return {"counters",
          {{1, "counters",
            "CREATE TABLE counters (id TEXT PRIMARY KEY, n INTEGER NOT NULL, body BLOB, "
            "ratio REAL);"}}};
}

class PostgresDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(TestingOnPostgres())
        << "postgres_db_test needs OUTREACH_TEST_POSTGRES_URL_FILE (the CTest fixture "
           "`postgres` sets it; see README \"Tests\")";
    location_ = TestDatabaseLocation(dir_, "db");
  }
  std::unique_ptr<Database> Open(db::Options options = {}) {
    auto db = Database::Open(location_, {CommonMigrations(), Counters()}, options);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }
  static absl::StatusOr<int64_t> Value(Database& db, const std::string& id) {
    int64_t n = -1;
    absl::Status s = db.Read([&](Connection& c) -> absl::Status {
      auto q = c.Prepare("SELECT n FROM counters WHERE id = ?");
      if (!q.ok()) return q.status();
      q->Bind(1, id);
      auto row = q->Step();
      if (!row.ok()) return row.status();
      n = *row ? q->Int64(0) : -1;
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return n;
  }
  // A read-modify-write that loses updates unless transactions are serializable.
  static absl::Status Increment(Database& db, const std::string& id) {
    return db.Write([&](Connection& c) -> absl::Status {
      auto q = c.Prepare("SELECT n FROM counters WHERE id = ?");
      if (!q.ok()) return q.status();
      q->Bind(1, id);
      auto row = q->Step();
      if (!row.ok()) return row.status();
      const int64_t n = *row ? q->Int64(0) : 0;
      auto u = c.Prepare(
          "INSERT INTO counters (id, n) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET n = "
          "excluded.n");
      if (!u.ok()) return u.status();
      u->Bind(1, id).Bind(2, n + 1);
      return u->Run();
    });
  }

  TempDir dir_;
  std::string location_;
};

TEST_F(PostgresDbTest, ValuesRoundTripExactly) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->backend(), db::Backend::kPostgres);
  const std::string bytes("\0\xff\x01'?\\x", 7);
  ASSERT_TRUE(
      db->Write([&](Connection& c) -> absl::Status {
          auto q = c.Prepare("INSERT INTO counters (id, n, body, ratio) VALUES (?, ?, ?, ?)");
          if (!q.ok()) return q.status();
          q->Bind(1, "it's ?").Bind(2, std::numeric_limits<int64_t>::min()).BindBlob(3, bytes);
          q->Bind(4, 0.1);
          return q->Run();
        }).ok());
  ASSERT_TRUE(db->Read([&](Connection& c) -> absl::Status {
                  // The `?` inside the quoted literal is text, not a parameter.
                  auto q = c.Prepare(
                      "SELECT id, n, body, ratio, '?' AS mark, n < 0 FROM counters WHERE id = ?");
                  if (!q.ok()) return q.status();
                  q->Bind(1, "it's ?");
                  auto row = q->Step();
                  if (!row.ok()) return row.status();
                  EXPECT_TRUE(*row);
                  EXPECT_EQ(q->Text(0), "it's ?");
                  EXPECT_EQ(q->Int64(1), std::numeric_limits<int64_t>::min());
                  EXPECT_EQ(q->Blob(2), bytes);
                  EXPECT_DOUBLE_EQ(q->Double(3), 0.1);
                  EXPECT_EQ(q->Text(4), "?");
                  EXPECT_EQ(q->Int64(5), 1);  // a boolean reads as 1/0, as in SQLite
                  return absl::OkStatus();
                }).ok());
}

TEST_F(PostgresDbTest, PathNeverShowsThePassword) {
  // The password is refused (trust auth ignores it), but the location shown must hide it.
  const std::string url = location_;
  const size_t at = url.find('@');
  ASSERT_NE(at, std::string::npos);
  const std::string with_password = url.substr(0, at) + ":s3cret" + url.substr(at);
  auto db = Database::Open(with_password, {CommonMigrations(), Counters()});
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->path().find("s3cret"), std::string::npos) << (*db)->path();
}

TEST_F(PostgresDbTest, ConcurrentReadModifyWritesFromTwoReplicasLoseNothing) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kThreads = 8;
  constexpr int kEach = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Database& db = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < kEach; ++i) {
        if (!Increment(db, "shared").ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  auto n = Value(*a, "shared");
  ASSERT_TRUE(n.ok()) << n.status();
  // Every acknowledged increment is there; none was lost to a concurrent one.
  EXPECT_EQ(*n, kThreads * kEach - failures.load());
  EXPECT_EQ(failures.load(), 0) << "writes gave up after retries";
}

TEST_F(PostgresDbTest, CommitHookRunsInTheAttemptThatCommits) {
  auto a = Open();
  ASSERT_NE(a, nullptr);
  int attempts = 0;
  db::ScopedCommitHook hook([&](Connection& c) {
    ++attempts;
    auto q = c.Prepare(
        "INSERT INTO counters (id, n) VALUES ('hooked', 1) ON CONFLICT (id) DO "
        "UPDATE SET n = counters.n + 1");
    if (!q.ok()) return q.status();
    return q->Run();
  });
  ASSERT_TRUE(Increment(*a, "x").ok());
  EXPECT_TRUE(hook.fired());
  EXPECT_GE(attempts, 1);
  EXPECT_EQ(*Value(*a, "hooked"), 1);
}

TEST_F(PostgresDbTest, ALeaseHasOneHolderAndIsReleasedWithIt) {
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto first = a->TryAcquireLease("outbox");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_NE(*first, nullptr);
  EXPECT_TRUE((*first)->Held());
  auto second = b->TryAcquireLease("outbox");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, nullptr);
  auto other = b->TryAcquireLease("another");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, nullptr);
  first->reset();  // the holder goes away: its session (and the lock) with it
  auto third = b->TryAcquireLease("outbox");
  ASSERT_TRUE(third.ok());
  EXPECT_NE(*third, nullptr);
}

TEST_F(PostgresDbTest, ReplicasStartingTogetherMigrateOnce) {
  constexpr int kReplicas = 4;
  std::vector<std::unique_ptr<Database>> dbs(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      auto db = Database::Open(location_, {CommonMigrations(), Counters()});
      if (db.ok()) dbs[i] = std::move(*db);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& db : dbs) ASSERT_NE(db, nullptr);
  int64_t applied = 0;
  ASSERT_TRUE(dbs[0]
                  ->Read([&](Connection& c) -> absl::Status {
                    auto q = c.Prepare(
                        "SELECT COUNT(*) FROM schema_migrations WHERE component = 'counters'");
                    if (!q.ok()) return q.status();
                    auto row = q->Step();
                    if (!row.ok()) return row.status();
                    applied = q->Int64(0);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(applied, 1);
}

TEST_F(PostgresDbTest, ALostConnectionIsReplacedOnTheNextCall) {
  auto a = Open();
  auto killer = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(killer, nullptr);
  ASSERT_TRUE(Increment(*a, "k").ok());
  // The server ends every other session of this database (as a restart would).
  ASSERT_TRUE(killer
                  ->Write([](Connection& c) {
                    return c.Exec(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname "
                        "= current_database() AND pid <> pg_backend_pid()");
                  })
                  .ok());
  EXPECT_TRUE(Increment(*a, "k").ok());
  auto n = Value(*a, "k");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
}

TEST_F(PostgresDbTest, AnUnreachableServerIsUnavailable) {
  db::Options options;
  options.open_wait = absl::ZeroDuration();
  options.connect_timeout = absl::Seconds(2);
  // Port 1 on loopback: nothing listens there.
  auto db = Database::Open("postgresql://postgres@127.0.0.1:1/none", {Counters()}, options);
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(absl::IsUnavailable(db.status())) << db.status();
}

}  // namespace
}  // namespace outreach
