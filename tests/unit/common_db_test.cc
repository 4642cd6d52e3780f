#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/db.h"
#include "common/errors.h"
#include "common/query.h"
#include "common/store_support.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

namespace outreach {
namespace {

using db::Connection;
using db::Database;
using db::MigrationSet;

MigrationSet ShopV1() {
  return {"shop",
          {{1, "items", "CREATE TABLE items (id TEXT PRIMARY KEY, qty INTEGER NOT NULL);"}}};
}
MigrationSet ShopV2() {
  MigrationSet set = ShopV1();
  set.migrations.push_back(
      {2, "item area", "ALTER TABLE items ADD COLUMN area TEXT NOT NULL DEFAULT 'unknown';"});
  return set;
}

absl::Status Insert(Database& db, const std::string& id, int qty) {
  return db.Write([&](Connection& c) -> absl::Status {
    auto q = c.Prepare("INSERT INTO items (id, qty) VALUES (?, ?)");
    if (!q.ok()) return q.status();
    q->Bind(1, id).Bind(2, qty);
    return q->Run();
  });
}

int64_t Count(Database& db) {
  int64_t n = -1;
  EXPECT_TRUE(db.Read([&](Connection& c) -> absl::Status {
                  auto q = c.Prepare("SELECT COUNT(*) FROM items");
                  if (!q.ok()) return q.status();
                  auto row = q->Step();
                  if (!row.ok()) return row.status();
                  n = q->Int64(0);
                  return absl::OkStatus();
                }).ok());
  return n;
}

TEST(Migrations, FromEmptyFile) {
  TempDir dir;
  auto db = Database::Open(TestDatabaseLocation(dir, "shop"), {CommonMigrations(), ShopV2()});
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(*(*db)->SchemaVersion("shop"), 2);
  EXPECT_EQ(*(*db)->SchemaVersion("common"), 2);  // v2: the audit log
  EXPECT_TRUE(Insert(**db, "a", 1).ok());
  EXPECT_TRUE((*db)->Ping().ok());
}

TEST(Migrations, FromThePreviousVersionKeepsData) {
  TempDir dir;
  const std::string path = TestDatabaseLocation(dir, "shop");
  {
    auto v1 = Database::Open(path, {ShopV1()});
    ASSERT_TRUE(v1.ok());
    ASSERT_TRUE(Insert(**v1, "kept", 3).ok());
  }
  auto v2 = Database::Open(path, {ShopV2()});
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(*(*v2)->SchemaVersion("shop"), 2);
  std::string area;
  ASSERT_TRUE((*v2)
                  ->Read([&](Connection& c) -> absl::Status {
                    auto q = c.Prepare("SELECT area, qty FROM items WHERE id = 'kept'");
                    if (!q.ok()) return q.status();
                    auto row = q->Step();
                    if (!row.ok()) return row.status();
                    EXPECT_TRUE(*row);
                    area = q->Text(0);
                    EXPECT_EQ(q->Int64(1), 3);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(area, "unknown");
}

TEST(Migrations, ReopeningIsANoOpAndNewerSchemaIsRefused) {
  TempDir dir;
  const std::string path = TestDatabaseLocation(dir, "shop");
  ASSERT_TRUE(Database::Open(path, {ShopV2()}).ok());
  ASSERT_TRUE(Database::Open(path, {ShopV2()}).ok());
  auto old_binary = Database::Open(path, {ShopV1()});
  ASSERT_FALSE(old_binary.ok());
  EXPECT_EQ(old_binary.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Migrations, AFailingMigrationLeavesTheVersionUnchanged) {
  TempDir dir;
  const std::string path = TestDatabaseLocation(dir, "shop");
  ASSERT_TRUE(Database::Open(path, {ShopV1()}).ok());
  MigrationSet broken = ShopV1();
  broken.migrations.push_back({2, "broken", "ALTER TABLE nope ADD COLUMN x TEXT;"});
  EXPECT_FALSE(Database::Open(path, {broken}).ok());
  auto db = Database::Open(path, {ShopV1()});
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*(*db)->SchemaVersion("shop"), 1);
}

// The test helper itself: one (directory, name) is one store, reopened as often as asked; another
// name or directory is another, empty store; a name past PostgreSQL's 63-byte identifiers works.
TEST(TestDatabaseLocation, TheSameDirectoryAndNameIsTheSameStore) {
  TempDir dir, other_dir;
  const std::string location = TestDatabaseLocation(dir, "shop");
  EXPECT_EQ(TestDatabaseLocation(dir, "shop"), location);
  EXPECT_EQ(TestingOnPostgres(), location.rfind("postgresql://", 0) == 0) << location;
  {
    auto db = Database::Open(location, {ShopV1()});
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(Insert(**db, "kept", 1).ok());
  }
  auto again = Database::Open(TestDatabaseLocation(dir, "shop"), {ShopV1()});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Count(**again), 1);
  const std::string long_name(100, 'x');
  for (const std::string& other :
       {TestDatabaseLocation(dir, "other"), TestDatabaseLocation(other_dir, "shop"),
        TestDatabaseLocation(dir, long_name)}) {
    EXPECT_NE(other, location);
    auto fresh = Database::Open(other, {ShopV1()});
    ASSERT_TRUE(fresh.ok()) << other << ": " << fresh.status();
    EXPECT_EQ(Count(**fresh), 0) << other;
  }
}

TEST(Transactions, AFailedWriteRollsBackEverything) {
  TempDir dir;
  auto db = Database::Open(TestDatabaseLocation(dir, "shop"), {ShopV1()});
  ASSERT_TRUE(db.ok());
  absl::Status s = (*db)->Write([](Connection& c) -> absl::Status {
    auto q = c.Prepare("INSERT INTO items (id, qty) VALUES ('x', 1)");
    if (!q.ok()) return q.status();
    if (auto r = q->Run(); !r.ok()) return r;
    return absl::FailedPreconditionError("domain rule broken after the insert");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count(**db), 0);
  // A constraint violation surfaces as an error and also leaves nothing behind.
  ASSERT_TRUE(Insert(**db, "dup", 1).ok());
  EXPECT_FALSE(Insert(**db, "dup", 1).ok());
  EXPECT_EQ(Count(**db), 1);
}

TEST(Transactions, ConcurrentWritersAreSerializedAndNothingIsLost) {
  TempDir dir;
  auto db = Database::Open(TestDatabaseLocation(dir, "shop"), {ShopV1()});
  ASSERT_TRUE(db.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        EXPECT_TRUE(Insert(**db, absl::StrCat("t", t, "-", i), i).ok());
        Count(**db);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(Count(**db), 200);
}

// The outbox publisher's wake-up (common/publisher.h): the listener runs only after a Write that
// asked for it has committed, and sees the change when it reads.
TEST(Transactions, TheCommitListenerRunsAfterCommitOnlyWhenAsked) {
  TempDir dir;
  auto db = Database::Open(TestDatabaseLocation(dir, "shop"), {ShopV1()});
  ASSERT_TRUE(db.ok());
  std::vector<int64_t> seen;  // rows visible to a read made from the listener, per call
  (*db)->SetCommitListener([&] { seen.push_back(Count(**db)); });
  const auto insert_and_notify = [](Connection& c, const char* id) -> absl::Status {
    auto q = c.Prepare("INSERT INTO items (id, qty) VALUES (?, 1)");
    if (!q.ok()) return q.status();
    q->Bind(1, id);
    if (auto r = q->Run(); !r.ok()) return r;
    c.NotifyOnCommit();
    return absl::OkStatus();
  };
  ASSERT_TRUE((*db)->Write([&](Connection& c) { return insert_and_notify(c, "a"); }).ok());
  EXPECT_EQ(seen, std::vector<int64_t>{1});  // called once, and the row was already visible
  // Not asked: not called.
  ASSERT_TRUE(Insert(**db, "b", 1).ok());
  EXPECT_EQ(seen.size(), 1u);
  // Asked, then rolled back: not called, and the request does not carry over to the next Write
  // on the same connection.
  EXPECT_FALSE((*db)
                   ->Write([&](Connection& c) -> absl::Status {
                     if (auto r = insert_and_notify(c, "c"); !r.ok()) return r;
                     return absl::AbortedError("rule broken");
                   })
                   .ok());
  ASSERT_TRUE(Insert(**db, "d", 1).ok());
  EXPECT_EQ(seen.size(), 1u);
  // Cleared: never called again.
  (*db)->SetCommitListener({});
  ASSERT_TRUE((*db)->Write([&](Connection& c) { return insert_and_notify(c, "e"); }).ok());
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_EQ(Count(**db), 4);
}

TEST(Sql, ErrorsAreInternalAndKeepTheirText) {
  TempDir dir;
  auto db = Database::Open(TestDatabaseLocation(dir, "shop"), {ShopV1()});
  ASSERT_TRUE(db.ok());
  // SQLite refuses the statement when it is prepared; PostgreSQL's statements are prepared
  // lazily, so the refusal comes when it first runs. Either way the caller sees INTERNAL.
  absl::Status s = (*db)->Read([](Connection& c) {
    auto st = c.Prepare("SELEC nonsense");
    if (!st.ok()) return st.status();
    return st->Step().status();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_FALSE(IsPublicError(s));
  EXPECT_FALSE(Database::Open("", {}).ok());
  EXPECT_FALSE(Database::Open(dir.File("no/such/dir/x.db"), {}).ok());
}

// SQLite's numbered parameters (`?1` twice) mean the same on both backends; PostgreSQL's
// translation once turned `?1` into `$11`.
TEST(Sql, NumberedParametersRepeatAndMixWithPlainOnes) {
  TempDir dir;
  auto db = Database::Open(TestDatabaseLocation(dir, "shop"), {ShopV1()});
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(Insert(**db, "north", 3).ok());
  ASSERT_TRUE(Insert(**db, "south", 4).ok());
  ASSERT_TRUE(Insert(**db, "east", 9).ok());
  std::vector<std::string> ids;
  ASSERT_TRUE((*db)
                  ->Read([&](Connection& c) -> absl::Status {
                    auto q = c.Prepare(
                        "SELECT id FROM (SELECT id, qty FROM items WHERE qty < ?1 UNION "
                        "SELECT id, qty FROM items WHERE id = ?2 AND qty < ?1) AS picked "
                        "ORDER BY id LIMIT ?3");
                    if (!q.ok()) return q.status();
                    q->Bind(1, 5).Bind(2, "east").Bind(3, 10);
                    while (true) {
                      auto row = q->Step();
                      if (!row.ok()) return row.status();
                      if (!*row) return absl::OkStatus();
                      ids.push_back(q->Text(0));
                    }
                  })
                  .ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"north", "south"}));
}

TEST(SelectRowPage, PagesThroughAForceScopedFilteredOrderedTable) {
  TempDir dir;
  MigrationSet set{"rows",
                   {{1, "rows",
                     "CREATE TABLE r (force TEXT, id TEXT, qty INTEGER, body BLOB,"
                     " PRIMARY KEY (force, id));"}}};
  auto db = Database::Open(TestDatabaseLocation(dir, "r"), {set});
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)
                  ->Write([](Connection& c) -> absl::Status {
                    for (int i = 0; i < 7; ++i) {
                      for (const char* force : {"derbyshire", "leicestershire"}) {
                        auto q = c.Prepare("INSERT INTO r VALUES (?, ?, ?, ?)");
                        q->Bind(1, force)
                            .Bind(2, absl::StrCat("r", i))
                            .Bind(3, i)
                            .BindBlob(4, absl::StrCat(force, ":", i));
                        if (auto s = q->Run(); !s.ok()) return s;
                      }
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  QuerySchema schema({{"qty", "qty", QueryFieldType::kInt}}, "id");
  auto where = schema.Where("qty >= 2");
  auto order = schema.OrderBy("qty desc", "qty");
  std::vector<std::string> seen;
  int64_t offset = 0;
  while (true) {
    RowPage page;
    ASSERT_TRUE((*db)
                    ->Read([&](Connection& c) -> absl::Status {
                      auto got =
                          SelectRowPage(c, "r", "body", "force = ?", {std::string("derbyshire")},
                                        *where, *order, 2, offset);
                      if (!got.ok()) return got.status();
                      page = *got;
                      return absl::OkStatus();
                    })
                    .ok());
    EXPECT_EQ(page.total_size, 5);
    seen.insert(seen.end(), page.bodies.begin(), page.bodies.end());
    offset += static_cast<int64_t>(page.bodies.size());
    if (!page.more) break;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"derbyshire:6", "derbyshire:5", "derbyshire:4",
                                            "derbyshire:3", "derbyshire:2"}));
}

TEST(RequestLedger, ReplaysTheFirstResponseAndRefusesADifferentBody) {
  TempDir dir;
  auto db = Database::Open(TestDatabaseLocation(dir, "s"), {CommonMigrations()});
  ASSERT_TRUE(db.ok());
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  ASSERT_TRUE((*db)
                  ->Write([&](Connection& c) -> absl::Status {
                    auto found = RequestLedger::Find(c, "derbyshire", "Create", "req-1", "hash-a");
                    EXPECT_TRUE(found.ok());
                    EXPECT_FALSE(found->has_value());
                    return RequestLedger::Remember(c, "derbyshire", "Create", "req-1", "hash-a",
                                                   "first", now);
                  })
                  .ok());
  ASSERT_TRUE((*db)
                  ->Write([&](Connection& c) -> absl::Status {
                    auto found = RequestLedger::Find(c, "derbyshire", "Create", "req-1", "hash-a");
                    EXPECT_TRUE(found.ok());
                    EXPECT_EQ(found->value_or(""), "first");
                    auto other = RequestLedger::Find(c, "derbyshire", "Create", "req-1", "hash-b");
                    EXPECT_EQ(ErrorReason(other.status()), "REQUEST_ID_REUSED");
                    auto other_method =
                        RequestLedger::Find(c, "derbyshire", "Update", "req-1", "hash-b");
                    EXPECT_FALSE(other_method->has_value());
                    auto other_force =
                        RequestLedger::Find(c, "leicestershire", "Create", "req-1", "hash-b");
                    EXPECT_FALSE(other_force->has_value());
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE((*db)
                  ->Write([&](Connection& c) {
                    return RequestLedger::Forget(c, now + absl::Hours(24 * 8));
                  })
                  .ok());
  ASSERT_TRUE((*db)
                  ->Write([&](Connection& c) -> absl::Status {
                    auto found = RequestLedger::Find(c, "derbyshire", "Create", "req-1", "hash-b");
                    EXPECT_FALSE(found->has_value());
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_TRUE(ValidateRequestId("").ok());
  EXPECT_TRUE(ValidateRequestId("0b7c9a1e-5f1d-4c8e-9a57-1f0d3c2b4a6e").ok());
  EXPECT_FALSE(ValidateRequestId(std::string(65, 'a')).ok());
  EXPECT_FALSE(ValidateRequestId("has space").ok());
}

TEST(Outbox, EventsCommitWithTheChangeAndAreReadInOrder) {
  TempDir dir;
  auto db = Database::Open(TestDatabaseLocation(dir, "s"), {CommonMigrations(), ShopV1()});
  ASSERT_TRUE(db.ok());
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  auto event = [&](const std::string& subject) {
    outreach::events::v1::OutreachEvent e;
    e.set_force("derbyshire");
    e.set_source("workshops");
    e.set_subject(subject);
    *e.mutable_occurred_time() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1700000000);
    return e;
  };
  // Committed together.
  ASSERT_TRUE((*db)
                  ->Write([&](Connection& c) -> absl::Status {
                    auto q = c.Prepare("INSERT INTO items (id, qty) VALUES ('a', 1)");
                    if (auto r = q->Run(); !r.ok()) return r;
                    if (auto r = Outbox::Append(c, event("first"), now); !r.ok()) return r;
                    return Outbox::Append(c, event("second"), now);
                  })
                  .ok());
  // Rolled back together: neither the change nor its event survives.
  EXPECT_FALSE((*db)
                   ->Write([&](Connection& c) -> absl::Status {
                     if (auto r = Outbox::Append(c, event("lost"), now); !r.ok()) return r;
                     return absl::AbortedError("rule broken");
                   })
                   .ok());
  // An event without its envelope is refused.
  EXPECT_FALSE((*db)
                   ->Write([&](Connection& c) {
                     return Outbox::Append(c, outreach::events::v1::OutreachEvent(), now);
                   })
                   .ok());

  std::vector<PendingEvent> pending;
  ASSERT_TRUE((*db)
                  ->Read([&](Connection& c) -> absl::Status {
                    auto p = Outbox::Pending(c, 10);
                    if (!p.ok()) return p.status();
                    pending = *p;
                    auto stats = Outbox::Stats(c);
                    EXPECT_EQ(stats->backlog, 2);
                    EXPECT_EQ(stats->oldest_unsent, now);
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].event.subject(), "first");
  EXPECT_EQ(pending[1].event.subject(), "second");
  EXPECT_FALSE(pending[0].event.event_id().empty());
  EXPECT_NE(pending[0].event.event_id(), pending[1].event.event_id());
  EXPECT_LT(pending[0].sequence, pending[1].sequence);

  ASSERT_TRUE((*db)
                  ->Write([&](Connection& c) {
                    return Outbox::MarkSent(c, pending[0].event.force(), pending[0].sequence,
                                            pending[0].sequence, now);
                  })
                  .ok());
  ASSERT_TRUE((*db)
                  ->Read([&](Connection& c) -> absl::Status {
                    auto p = Outbox::Pending(c, 10);
                    EXPECT_EQ(p->size(), 1u);
                    EXPECT_EQ((*p)[0].event.subject(), "second");
                    EXPECT_EQ(Outbox::Stats(c)->backlog, 1);
                    return absl::OkStatus();
                  })
                  .ok());
}

}  // namespace
}  // namespace outreach
