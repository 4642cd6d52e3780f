// Moving up from the embedded default, end to end, on the demo data: the suite runs on SQLite
// files (real processes of workshops, training, campaigns and metrics), the demo loaders put the
// Derbyshire story in through the public APIs, and once every outbox is empty the dashboards are
// read. Then every service stops, `outreach-migrate` copies each SQLite file into its own new
// database on the `postgres` fixture's server, and the suite starts again on PostgreSQL
// (--db-url) with an EMPTY Redis, so that every dashboard is computed from the moved store and
// none comes from the cache. The dashboards must be the same, field for field (only
// compute_time differs).
//
// Then the moved stores are used:
// - the demo loaders run again: their request_ids are in the moved ledgers, so nothing changes;
// - a new delivery counts once: the outbox's sequence continues past the moved events (were it
//   to restart, metrics would take the new event for one it has already seen and drop it).

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/client.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/replica_set.h"
#include "tests/support/service_harness.h"
#include "tests/support/suite_processes.h"
#include "tests/support/suite_writes.h"
#include "tests/support/temp_dir.h"

namespace outreach {
namespace {

using outreach::testing::ChildProcess;
using outreach::testing::Ctx;
using outreach::testing::ReplicaSet;
using outreach::testing::ScopedDatabase;
namespace ws = outreach::workshops::v1;
namespace mt = outreach::metrics::v1;

using outreach::testing::kSuiteServices;
using Suite = outreach::testing::SuiteProcesses;

// The dashboards compared across the move: the whole force and one area, this academic year,
// the last one (the 128 frontline investigators trained), this financial year and this term.
std::vector<mt::GetDashboardRequest> DashboardRequests() {
  const absl::CivilDay today = LocalDay(absl::Now());
  std::vector<mt::GetDashboardRequest> out;
  auto add = [&](mt::PeriodKind kind, absl::CivilDay anchor, const std::string& area) {
    mt::GetDashboardRequest req;
    req.set_name("forces/derbyshire/dashboard");
    req.mutable_period()->set_kind(kind);
    *req.mutable_period()->mutable_anchor_date() = ToProtoDate(anchor);
    req.set_area(area);
    out.push_back(std::move(req));
  };
  add(mt::PERIOD_KIND_ACADEMIC_YEAR, today, "");
  add(mt::PERIOD_KIND_ACADEMIC_YEAR, today - 365, "");
  add(mt::PERIOD_KIND_FINANCIAL_YEAR, today, "");
  add(mt::PERIOD_KIND_TERM, today, "");
  add(mt::PERIOD_KIND_ACADEMIC_YEAR, today, "derby-city");
  return out;
}

std::vector<mt::Dashboard> ReadDashboards(ReplicaSet& metrics,
                                          outreach::testing::ProcessSecurity& security) {
  auto stub = mt::MetricsService::NewStub(security.Channel(metrics.Port(0)));
  std::vector<mt::Dashboard> out;
  for (const auto& req : DashboardRequests()) {
    mt::Dashboard d;
    grpc::Status s = stub->GetDashboard(Ctx().get(), req, &d);
    EXPECT_TRUE(s.ok()) << req.ShortDebugString() << ": " << s.error_message();
    d.clear_compute_time();  // when it was computed, the one field that may differ
    out.push_back(std::move(d));
  }
  return out;
}

void ExpectSameDashboards(const std::vector<mt::Dashboard>& want,
                          const std::vector<mt::Dashboard>& got) {
  ASSERT_EQ(want.size(), got.size());
  const auto requests = DashboardRequests();
  for (size_t i = 0; i < want.size(); ++i) {
    std::string diff;
    google::protobuf::util::MessageDifferencer differ;
    differ.ReportDifferencesToString(&diff);
    EXPECT_TRUE(differ.Compare(want[i], got[i]))
        << requests[i].ShortDebugString() << " differs after the move:\n"
        << diff;
  }
}

class MigrateDemo : public ::testing::Test {
 protected:
  int RunMigrate(const std::string& service, const std::string& to, std::string* output) {
    ChildProcess tool(
        outreach::testing::EnvOr("OUTREACH_MIGRATE_BIN", "outreach-migrate"),
        {"--service=" + service, "--from=" + dir_.File(service + ".db"), "--to=" + to});
    if (!tool.Start()) return -1;
    const int code = tool.Wait(absl::Seconds(60));
    *output = tool.Stderr();
    return code;
  }

  TempDir dir_;
  outreach::testing::ProcessSecurity security_{dir_.File("pki")};
};

TEST_F(MigrateDemo, DemoDataMovesToPostgresAndTheDashboardsStayTheSame) {
  const std::string base_url = outreach::testing::FixturePostgresUrl();
  ASSERT_FALSE(base_url.empty());

  // 1. The embedded default: SQLite files, the demo loaded through the APIs.
  std::vector<mt::Dashboard> before;
  {
    Suite sqlite(&security_, dir_.path(), "redis-sqlite", [&](const std::string& service) {
      return "--db-path=" + dir_.File(service + ".db");
    });
    ASSERT_FALSE(HasFatalFailure());
    sqlite.LoadDemo(security_);
    ASSERT_FALSE(HasFatalFailure());
    sqlite.AwaitOutboxesEmpty();
    ASSERT_FALSE(HasFatalFailure()) << sqlite.Problems();
    before = ReadDashboards(sqlite.metrics(), security_);
    ASSERT_FALSE(HasFailure()) << sqlite.Problems();
    sqlite.Stop();  // the services must be stopped during the copy
  }
  // The story is in: the numbers the rest of the test compares are not zeros.
  ASSERT_GT(before[0].workshops().workshops_delivered(), 0);
  ASSERT_GT(before[0].workshops().pupils_reached(), 0);
  ASSERT_GT(before[1].training().officers_trained(), 0);  // last academic year's completions
  ASSERT_GT(before[0].campaigns().impressions(), 0);

  // 2. The move: one new database per service, each verified by the tool.
  std::map<std::string, std::unique_ptr<ScopedDatabase>> databases;
  for (const char* service : kSuiteServices) {
    auto db = std::make_unique<ScopedDatabase>(base_url, absl::StrCat("demo_", service));
    ASSERT_TRUE(db->ok());
    std::string output;
    EXPECT_EQ(RunMigrate(service, db->url(), &output), 0) << service << ":\n" << output;
    databases.emplace(service, std::move(db));
  }
  ASSERT_FALSE(HasFailure());

  // 3. The suite on PostgreSQL, with an empty cache.
  Suite postgres(&security_, dir_.path(), "redis-postgres", [&](const std::string& service) {
    return "--db-url=" + databases.at(service)->url();
  });
  ASSERT_FALSE(HasFatalFailure());
  ExpectSameDashboards(before, ReadDashboards(postgres.metrics(), security_));

  // 4a. The ledgers moved: the demo loaders again change nothing.
  postgres.LoadDemo(security_);
  ASSERT_FALSE(HasFatalFailure());
  postgres.AwaitOutboxesEmpty();
  ASSERT_FALSE(HasFatalFailure()) << postgres.Problems();
  ExpectSameDashboards(before, ReadDashboards(postgres.metrics(), security_));

  // 4b. The outbox continues: a new workshop delivered today counts once.
  auto workshops =
      ws::WorkshopsService::NewStub(security_.Channel(postgres.domain("workshops").Port(0)));
  outreach::testing::DeliverParentsEvening(*workshops, "forces/derbyshire", "after-the-move", 17);
  ASSERT_FALSE(HasFatalFailure());
  postgres.AwaitOutboxesEmpty();
  ASSERT_FALSE(HasFatalFailure()) << postgres.Problems();
  const std::vector<mt::Dashboard> after = ReadDashboards(postgres.metrics(), security_);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after[0].workshops().workshops_delivered(),
            before[0].workshops().workshops_delivered() + 1)
      << postgres.Problems();
  EXPECT_EQ(after[0].workshops().parents_reached(), before[0].workshops().parents_reached() + 17);
  EXPECT_EQ(after[0].workshops().pupils_reached(), before[0].workshops().pupils_reached());
  EXPECT_EQ(after[1].training().officers_trained(), before[1].training().officers_trained());
}

}  // namespace
}  // namespace outreach
