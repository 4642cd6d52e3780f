#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/audit.h"
#include "common/db.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/store_support.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

namespace outreach::audit {
namespace {

using db::Connection;
using db::Database;
using db::ScopedCommitHook;

const absl::Time kT0 = absl::FromUnixSeconds(1'760'000'000);
constexpr char kGet[] = "/outreach.training.v1.TrainingService/GetOfficer";
constexpr char kList[] = "/outreach.training.v1.TrainingService/ListOfficers";

// The table a service would write; its rows and the audit records must commit together.
db::MigrationSet Things() {
  return {"things", {{1, "things", "CREATE TABLE things (id INTEGER PRIMARY KEY);"}}};
}

std::unique_ptr<Database> OpenDb(const std::string& path) {
  auto db = Database::Open(path, {CommonMigrations(), Things()});
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

Record Rec(absl::string_view force, absl::string_view subject, absl::string_view method,
           std::vector<std::string> resources, absl::Time time) {
  Record r;
  r.force = std::string(force);
  r.subject = std::string(subject);
  r.roles = {"auditor"};
  r.peer = "ipv4:127.0.0.1:5555";
  r.method = std::string(method);
  r.resources = std::move(resources);
  r.time = time;
  return r;
}

absl::Status AppendOne(Database& db, const Record& r) {
  return db.Write([&](Connection& c) { return Append(c, r); });
}

Page ListOf(Database& db, Query q) {
  Page page;
  absl::Status s = db.Read([&](Connection& c) -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(page, List(c, q));
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return page;
}

std::vector<int64_t> Seqs(const Page& page) {
  std::vector<int64_t> out;
  for (const auto& r : page.records) out.push_back(r.seq);
  return out;
}

VerifyResult VerifyOf(Database& db) {
  VerifyResult result;
  absl::Status s = db.Read([&](Connection& c) -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(result, Verify(c));
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return result;
}

void Tamper(Database& db, const std::string& sql) {
  ASSERT_TRUE(db.Write([&](Connection& c) { return c.Exec(sql); }).ok()) << sql;
}

int64_t CountOf(Database& db, const std::string& sql) {
  int64_t n = -1;
  EXPECT_TRUE(db.Read([&](Connection& c) -> absl::Status {
                  OUTREACH_ASSIGN_OR_RETURN(db::Statement q, c.Prepare(sql));
                  OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
                  if (row) n = q.Int64(0);
                  return absl::OkStatus();
                }).ok());
  return n;
}

class AuditLog : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = OpenDb(TestDatabaseLocation(dir_, "audit"));
    ASSERT_NE(db_, nullptr);
  }
  // Five records of two forces, one a minute from kT0: seq 1..5.
  void AppendFive() {
    const std::string get = kGet;
    const std::string list = kList;
    ASSERT_TRUE(
        AppendOne(*db_, Rec("derbyshire", "alice", get, {"forces/derbyshire/officers/o1"}, kT0))
            .ok());
    ASSERT_TRUE(AppendOne(*db_, Rec("derbyshire", "bob", list, {"forces/derbyshire"},
                                    kT0 + absl::Minutes(1)))
                    .ok());
    ASSERT_TRUE(AppendOne(*db_, Rec("kent", "carol", get, {"forces/kent/officers/o1"},
                                    kT0 + absl::Minutes(2)))
                    .ok());
    ASSERT_TRUE(
        AppendOne(*db_, Rec("derbyshire", "alice", get,
                            {"forces/derbyshire/officers/o2", "forces/derbyshire/officers/o1"},
                            kT0 + absl::Minutes(3)))
            .ok());
    ASSERT_TRUE(AppendOne(*db_, Rec("derbyshire", "alice", list, {}, kT0 + absl::Minutes(4))).ok());
  }

  // Tampers with the five records as `sql` says; Verify must name `bad` as the first bad one.
  void ExpectBrokenAt(const std::string& sql, int64_t bad) {
    AppendFive();
    Tamper(*db_, sql);
    VerifyResult v = VerifyOf(*db_);
    EXPECT_FALSE(v.ok) << sql;
    EXPECT_EQ(v.first_bad_seq, bad) << sql;
    EXPECT_NE(v.problem, "");
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(AuditLog, AppendStoresEveryFieldAndListsNewestFirstPerForce) {
  Record full = Rec("derbyshire", "alice", "/outreach.training.v1.TrainingService/UpdateOfficer",
                    {"forces/derbyshire/officers/o1"}, kT0);
  full.roles = {"force_admin", "auditor"};
  full.field_paths = {"division", "active"};
  full.justification = "case 41/2026";
  full.code = 5;
  ASSERT_TRUE(AppendOne(*db_, full).ok());
  ASSERT_TRUE(AppendOne(*db_, Rec("kent", "bob", "/m", {}, kT0)).ok());
  ASSERT_TRUE(AppendOne(*db_, Rec("derbyshire", "carol", "/m", {}, kT0)).ok());

  Page page = ListOf(*db_, {.force = "derbyshire"});
  ASSERT_EQ(Seqs(page), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(page.next_before_seq, 0);
  const StoredRecord& got = page.records[1];
  EXPECT_EQ(got.record.force, "derbyshire");
  EXPECT_EQ(got.record.subject, "alice");
  EXPECT_EQ(got.record.roles, full.roles);
  EXPECT_EQ(got.record.peer, full.peer);
  EXPECT_EQ(got.record.method, full.method);
  EXPECT_EQ(got.record.resources, full.resources);
  EXPECT_EQ(got.record.field_paths, full.field_paths);
  EXPECT_EQ(got.record.justification, "case 41/2026");
  EXPECT_EQ(got.record.time, kT0);
  EXPECT_EQ(got.record.code, 5);
  EXPECT_EQ(got.prev_hash, std::string(64, '0'));
  EXPECT_EQ(got.hash.size(), 64u);
  EXPECT_EQ(page.records[0].record.subject, "carol");
  EXPECT_EQ(ListOf(*db_, {.force = "kent"}).records.at(0).prev_hash, got.hash);
}

TEST_F(AuditLog, FiltersBySubjectResourceMethodAndTime) {
  AppendFive();
  EXPECT_EQ(Seqs(ListOf(*db_, {.force = "derbyshire", .subject = "alice"})),
            (std::vector<int64_t>{5, 4, 1}));
  EXPECT_EQ(
      Seqs(ListOf(*db_, {.force = "derbyshire", .resource = "forces/derbyshire/officers/o1"})),
      (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(Seqs(ListOf(*db_, {.force = "derbyshire",
                               .method = "/outreach.training.v1.TrainingService/ListOfficers"})),
            (std::vector<int64_t>{5, 2}));
  EXPECT_EQ(Seqs(ListOf(*db_, {.force = "derbyshire",
                               .since = kT0 + absl::Minutes(1),
                               .until = kT0 + absl::Minutes(4)})),
            (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(Seqs(ListOf(*db_, {.force = "derbyshire", .subject = "alice", .method = "/none"})),
            (std::vector<int64_t>{}));
  // Another force's resource is not found through this force.
  EXPECT_EQ(Seqs(ListOf(*db_, {.force = "derbyshire", .resource = "forces/kent/officers/o1"})),
            (std::vector<int64_t>{}));
}

TEST_F(AuditLog, PagesAreKeyedBySeqAndDoNotShiftWhenRecordsAreAppended) {
  AppendFive();
  Page first = ListOf(*db_, {.force = "derbyshire", .page_size = 2});
  EXPECT_EQ(Seqs(first), (std::vector<int64_t>{5, 4}));
  ASSERT_EQ(first.next_before_seq, 4);
  ASSERT_TRUE(AppendOne(*db_, Rec("derbyshire", "dan", "/m", {}, kT0 + absl::Minutes(5))).ok());
  Page second =
      ListOf(*db_, {.force = "derbyshire", .page_size = 2, .before_seq = first.next_before_seq});
  EXPECT_EQ(Seqs(second), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(second.next_before_seq, 0);  // exactly two left: no empty third page
}

TEST_F(AuditLog, JustificationIsCutToItsLimitWithoutSplittingACharacter) {
  Record r = Rec("derbyshire", "alice", "/m", {}, kT0);
  r.justification = std::string(255, 'a') + "é and more";  // é is two bytes: 255 + 2 > 256
  ASSERT_TRUE(AppendOne(*db_, r).ok());
  const std::string got = ListOf(*db_, {.force = "derbyshire"}).records.at(0).record.justification;
  EXPECT_EQ(got, std::string(255, 'a'));
  EXPECT_TRUE(VerifyOf(*db_).ok);
}

TEST_F(AuditLog, TheEncodingIsUnambiguous) {
  // The same bytes split differently between fields must not hash the same.
  Record a = Rec("derbyshire", "ab", "/m", {"x", "y"}, kT0);
  a.peer = "c";
  Record b = Rec("derbyshire", "a", "/m", {"xy"}, kT0);
  b.peer = "bc";
  TempDir other;
  auto db_b = OpenDb(TestDatabaseLocation(other, "b"));
  ASSERT_TRUE(AppendOne(*db_, a).ok());
  ASSERT_TRUE(AppendOne(*db_b, b).ok());
  EXPECT_NE(ListOf(*db_, {.force = "derbyshire"}).records.at(0).hash,
            ListOf(*db_b, {.force = "derbyshire"}).records.at(0).hash);
}

TEST_F(AuditLog, AnIntactLogVerifies) {
  EXPECT_TRUE(VerifyOf(*db_).ok);  // empty
  AppendFive();
  VerifyResult v = VerifyOf(*db_);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records_checked, 5);
  EXPECT_EQ(v.first_bad_seq, 0);
  EXPECT_EQ(v.problem, "");
}

TEST_F(AuditLog, VerifyDetectsAnUpdateOfOneColumn) {
  ExpectBrokenAt("UPDATE audit_records SET subject = 'mallory' WHERE seq = 3", 3);
  EXPECT_EQ(VerifyOf(*db_).records_checked, 2);
}

TEST_F(AuditLog, VerifyDetectsAnEditWhoseHashWasReplacedToo) {
  ExpectBrokenAt(
      "UPDATE audit_records SET code = 7, hash = '" + std::string(64, 'f') + "' WHERE seq = 2", 2);
}

TEST_F(AuditLog, VerifyDetectsAnEditRehashedCorrectlyByTheNextLink) {
  // The forger gives the edited record 2 its right hash (made here in a second log with the
  // same record 1); record 3's prev_hash still names the original.
  TempDir other;
  auto forged = OpenDb(TestDatabaseLocation(other, "forged"));
  ASSERT_TRUE(
      AppendOne(*forged, Rec("derbyshire", "alice", kGet, {"forces/derbyshire/officers/o1"}, kT0))
          .ok());
  ASSERT_TRUE(AppendOne(*forged, Rec("derbyshire", "mallory", kList, {"forces/derbyshire"},
                                     kT0 + absl::Minutes(1)))
                  .ok());
  const std::string hash = ListOf(*forged, {.force = "derbyshire"}).records.at(0).hash;
  ExpectBrokenAt(
      "UPDATE audit_records SET subject = 'mallory', hash = '" + hash + "' WHERE seq = 2", 3);
}

TEST_F(AuditLog, VerifyDetectsTheDeleteOfAMiddleRecord) {
  ExpectBrokenAt("DELETE FROM audit_records WHERE seq = 3", 3);
}

TEST_F(AuditLog, VerifyDetectsTheDeleteOfAMiddleRecordWhenLaterOnesAreRenumbered) {
  ExpectBrokenAt(
      "DELETE FROM audit_records WHERE seq = 3; "
      "UPDATE audit_records SET seq = seq - 1 WHERE seq > 3; "
      "UPDATE audit_chain SET head_seq = 4",
      3);
}

TEST_F(AuditLog, VerifyDetectsAReorderedRecord) {
  ExpectBrokenAt(
      "UPDATE audit_records SET seq = 100 WHERE seq = 2; "
      "UPDATE audit_records SET seq = 2 WHERE seq = 3; "
      "UPDATE audit_records SET seq = 3 WHERE seq = 100",
      2);
}

TEST_F(AuditLog, VerifyDetectsTheDeleteOfTheNewestRecordThroughTheHead) {
  // The chain alone cannot see this (what is left is a valid chain); the head kept beside it
  // can. Rewriting the head as well (or recomputing the whole chain: SHA-256 has no key) is the
  // documented limit that only the "audit" log lines, shipped off the host, reveal.
  ExpectBrokenAt("DELETE FROM audit_records WHERE seq = 5", 5);
  EXPECT_EQ(VerifyOf(*db_).records_checked, 4);
}

TEST_F(AuditLog, VerifyDetectsARecordAddedBehindTheHead) {
  ExpectBrokenAt("UPDATE audit_chain SET head_seq = 4", 5);
}

TEST_F(AuditLog, VerifyDetectsAHiddenResourceIndexRow) {
  // Removing the index row would hide record 4 from a search for officer o1.
  ExpectBrokenAt(
      "DELETE FROM audit_record_resources WHERE seq = 4 AND resource = "
      "'forces/derbyshire/officers/o1'",
      4);
}

TEST_F(AuditLog, AppendingAfterTamperingDoesNotHealTheChain) {
  AppendFive();
  Tamper(*db_, "DELETE FROM audit_records WHERE seq = 5");
  ASSERT_TRUE(AppendOne(*db_, Rec("derbyshire", "alice", "/m", {}, kT0 + absl::Hours(1))).ok());
  VerifyResult v = VerifyOf(*db_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 5);
}

absl::StatusOr<int64_t> PruneAt(Database& db, absl::Time before) {
  int64_t n = -1;
  absl::Status s = db.Write([&](Connection& c) -> absl::Status {
    OUTREACH_ASSIGN_OR_RETURN(n, Prune(c, before));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return n;
}

TEST_F(AuditLog, PruneDeletesOldRecordsAndTheRestStillVerifies) {
  AppendFive();
  auto pruned = PruneAt(*db_, kT0 + absl::Minutes(2));
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 2);
  EXPECT_EQ(Seqs(ListOf(*db_, {.force = "derbyshire"})), (std::vector<int64_t>{5, 4}));
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM audit_record_resources WHERE seq <= 2"), 0);
  VerifyResult v = VerifyOf(*db_);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records_checked, 3);
  // Pruning again changes nothing; appending continues the chain from the head.
  EXPECT_EQ(*PruneAt(*db_, kT0 + absl::Minutes(2)), 0);
  ASSERT_TRUE(AppendOne(*db_, Rec("derbyshire", "e", "/m", {}, kT0 + absl::Minutes(9))).ok());
  EXPECT_EQ(ListOf(*db_, {.force = "derbyshire"}).records.at(0).seq, 6);
  EXPECT_TRUE(VerifyOf(*db_).ok);
  // Everything old: the chain is empty but its ends still agree.
  EXPECT_EQ(*PruneAt(*db_, kT0 + absl::Hours(1)), 4);
  v = VerifyOf(*db_);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records_checked, 0);
  ASSERT_TRUE(AppendOne(*db_, Rec("derbyshire", "f", "/m", {}, kT0 + absl::Hours(2))).ok());
  EXPECT_TRUE(VerifyOf(*db_).ok);
}

TEST_F(AuditLog, PruneDoesNotDestroyEvidenceOfTampering) {
  AppendFive();
  Tamper(*db_, "UPDATE audit_records SET subject = 'mallory' WHERE seq = 1");
  auto pruned = PruneAt(*db_, kT0 + absl::Minutes(3));
  EXPECT_EQ(pruned.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM audit_records"), 5);
  EXPECT_EQ(VerifyOf(*db_).first_bad_seq, 1);
}

// --- ScopedCommitHook ----------------------------------------------------------------------

absl::Status InsertThing(Connection& c, int64_t id) {
  OUTREACH_ASSIGN_OR_RETURN(db::Statement q, c.Prepare("INSERT INTO things (id) VALUES (?)"));
  q.Bind(1, id);
  return q.Run();
}

// The hook the interceptor arms: the record of a write on thing `id`.
std::function<absl::Status(Connection&)> RecordOf(int64_t id) {
  return [id](Connection& c) {
    return Append(c, Rec("derbyshire", "alice", "/outreach.test.v1.T/Put",
                         {absl::StrCat("forces/derbyshire/things/", id)}, kT0));
  };
}

TEST_F(AuditLog, AWriteAndItsRecordCommitTogether) {
  ScopedCommitHook hook(RecordOf(1));
  EXPECT_FALSE(hook.fired());
  ASSERT_TRUE(db_->Write([](Connection& c) { return InsertThing(c, 1); }).ok());
  EXPECT_TRUE(hook.fired());
  EXPECT_TRUE(hook.consumed());
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM things"), 1);
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM audit_records"), 1);
  // Consumed: the next write of this thread runs no hook.
  ASSERT_TRUE(db_->Write([](Connection& c) { return InsertThing(c, 2); }).ok());
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM audit_records"), 1);
}

TEST_F(AuditLog, AFailingHookRollsTheWriteBack) {
  ScopedCommitHook hook(
      [](Connection&) -> absl::Status { return absl::UnavailableError("audit store full"); });
  absl::Status s = db_->Write([](Connection& c) { return InsertThing(c, 1); });
  EXPECT_EQ(s, absl::UnavailableError("audit store full"));
  EXPECT_FALSE(hook.fired());
  EXPECT_TRUE(hook.consumed());
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM things"), 0);
}

TEST_F(AuditLog, AFailedWriteDoesNotRunTheHookAndItIsNotFired) {
  bool ran = false;
  ScopedCommitHook hook([&ran](Connection& c) {
    ran = true;
    return RecordOf(1)(c);
  });
  absl::Status s = db_->Write([](Connection& c) -> absl::Status {
    OUTREACH_RETURN_IF_ERROR(InsertThing(c, 1));
    return absl::FailedPreconditionError("rule broken after the insert");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(ran);
  EXPECT_FALSE(hook.fired());
  EXPECT_TRUE(hook.consumed());
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM things"), 0);
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM audit_records"), 0);
  // The interceptor's own record of the failure is a later Write, which the hook stays out of.
  ASSERT_TRUE(AppendOne(*db_, Rec("derbyshire", "alice", "/m", {}, kT0)).ok());
  EXPECT_FALSE(ran);
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM audit_records"), 1);
}

TEST_F(AuditLog, AFailedCommitLeavesTheHookNotFiredAndRollsItsRecordBack) {
  // A deferred foreign key fails only at COMMIT, after the hook ran.
  Tamper(*db_,
         "CREATE TABLE parents (id INTEGER PRIMARY KEY);"
         "CREATE TABLE kids (p INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)");
  bool ran = false;
  ScopedCommitHook hook([&ran](Connection& c) {
    ran = true;
    return RecordOf(1)(c);
  });
  absl::Status s = db_->Write([](Connection& c) { return c.Exec("INSERT INTO kids VALUES (7)"); });
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(ran);
  EXPECT_FALSE(hook.fired());
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM kids"), 0);
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM audit_records"), 0);
  EXPECT_TRUE(VerifyOf(*db_).ok);
}

TEST_F(AuditLog, AHookBelongsToItsThread) {
  ScopedCommitHook hook(RecordOf(1));
  std::thread other(
      [this] { EXPECT_TRUE(db_->Write([](Connection& c) { return InsertThing(c, 9); }).ok()); });
  other.join();
  EXPECT_FALSE(hook.consumed());
  EXPECT_EQ(CountOf(*db_, "SELECT COUNT(*) FROM audit_records"), 0);
}

// A child process writes things with their audit records, in a loop, and is killed with -9 at
// a random point; every thing left on disk has its record and every record its thing, and the
// chain verifies. Real SQLite files (WAL, synchronous=FULL) and a real SIGKILL.
TEST(AuditCrash, KillNineLeavesAWriteAndItsRecordBothOrNeither) {
  std::mt19937 random(20260611);  // fixed seed; the kill points still vary with timing
  for (int round = 0; round < 30; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    TempDir dir;
    const std::string path = TestDatabaseLocation(dir, "crash");
    ASSERT_NE(OpenDb(path), nullptr);  // migrated before the child starts
    int progress[2];
    ASSERT_EQ(pipe(progress), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(progress[0]);
      SetLogLevel(LogLevel::kWarn);
      auto db = Database::Open(path, {CommonMigrations(), Things()});
      if (!db.ok()) _exit(3);
      for (int64_t id = 1; id < 100000; ++id) {
        ScopedCommitHook hook(RecordOf(id));
        absl::Status s = (*db)->Write([id](Connection& c) { return InsertThing(c, id); });
        if (!s.ok() || !hook.fired()) _exit(4);
        if (write(progress[1], "+", 1) != 1) _exit(5);
      }
      _exit(0);
    }
    close(progress[1]);
    // Wait for a random number of commits, then pick a random moment inside the next ones:
    // the delay chooses where the kill lands, it does not wait for anything.
    const int commits = std::uniform_int_distribution<int>(1, 20)(random);
    for (int seen = 0; seen < commits;) {
      char buf[64];
      const ssize_t n = read(progress[0], buf, sizeof buf);
      ASSERT_GT(n, 0) << "child ended early";
      seen += static_cast<int>(n);
    }
    usleep(std::uniform_int_distribution<useconds_t>(0, 3000)(random));
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    close(progress[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited " << WEXITSTATUS(status);

    auto db = OpenDb(path);
    ASSERT_NE(db, nullptr);
    std::set<std::string> things, audited;
    ASSERT_TRUE(db->Read([&](Connection& c) -> absl::Status {
                    OUTREACH_ASSIGN_OR_RETURN(db::Statement q, c.Prepare("SELECT id FROM things"));
                    while (true) {
                      OUTREACH_ASSIGN_OR_RETURN(bool row, q.Step());
                      if (!row) break;
                      things.insert(absl::StrCat("forces/derbyshire/things/", q.Int64(0)));
                    }
                    OUTREACH_ASSIGN_OR_RETURN(
                        db::Statement r, c.Prepare("SELECT resource FROM audit_record_resources"));
                    while (true) {
                      OUTREACH_ASSIGN_OR_RETURN(bool row, r.Step());
                      if (!row) break;
                      audited.insert(r.Text(0));
                    }
                    return absl::OkStatus();
                  }).ok());
    EXPECT_GE(things.size(), static_cast<size_t>(commits));
    EXPECT_EQ(things, audited);
    VerifyResult v = VerifyOf(*db);
    EXPECT_TRUE(v.ok) << v.problem;
    EXPECT_EQ(v.records_checked, static_cast<int64_t>(things.size()));
  }
}

}  // namespace
}  // namespace outreach::audit
