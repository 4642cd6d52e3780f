#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/store_support.h"
#include "gtest/gtest.h"
#include "services/metrics/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"
#include "tests/unit/metrics_test_events.h"

namespace outreach::metrics {
namespace {

using testing::D;
using testing::Utc;
using Events = google::protobuf::RepeatedPtrField<ev::OutreachEvent>;

class MetricsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = db::Database::Open(TestDatabaseLocation(dir_, "metrics"),
                                 {CommonMigrations(), MetricsMigrations()});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    store_ = NewSqlMetricsStore(db_.get());
  }

  MetricsStore::IngestOutput Ingest(std::vector<ev::OutreachEvent> events,
                                    const std::string& force = "derbyshire") {
    Events batch;
    for (auto& e : events) *batch.Add() = std::move(e);
    auto out = store_->Ingest(force, batch, now_);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : MetricsStore::IngestOutput{};
  }

  v1::Dashboard Dash(DayRange days, const std::string& area = "",
                     const std::string& force = "derbyshire") {
    auto d = store_->ComputeDashboard(force, days, area, now_);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : v1::Dashboard{};
  }

  int64_t Count(const std::string& sql) {
    int64_t n = 0;
    EXPECT_TRUE(db_->Read([&](db::Connection& c) -> absl::Status {
                     auto st = c.Prepare(sql);
                     if (!st.ok()) return st.status();
                     auto row = st->Step();
                     if (!row.ok()) return row.status();
                     n = st->Int64(0);
                     return absl::OkStatus();
                   })
                    .ok());
    return n;
  }

  const DayRange kYear{D(2024, 9, 1), D(2025, 8, 31)};
  absl::Time now_ = Utc(2024, 11, 1);
  TempDir dir_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<MetricsStore> store_;
};

TEST_F(MetricsStoreTest, DuplicateDeliveryChangesNothing) {
  testing::Delivery d;
  auto first = Ingest({testing::Delivered("e1", d), testing::Delivered("e1", d)});
  EXPECT_EQ(first.response.accepted(), 1);
  EXPECT_EQ(first.response.duplicates(), 1);  // the same id twice in one batch
  EXPECT_EQ(first.data_version, 1);
  constexpr char kFigureSum[] =
      "SELECT SUM(w_delivered + w_pupils + w_people + w_ratings_sum) FROM metrics_figures";
  const int64_t rollup_rows = Count(kFigureSum);
  EXPECT_GT(rollup_rows, 0);

  // Re-delivery (even with different content) is a duplicate and changes nothing.
  d.pupils_y9 = 999;
  auto again = Ingest({testing::Delivered("e1", d)});
  EXPECT_EQ(again.response.duplicates(), 1);
  EXPECT_EQ(again.response.results(0).outcome(), v1::INGEST_OUTCOME_DUPLICATE);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.data_version, 1);  // no bump without an accepted event
  EXPECT_EQ(Count(kFigureSum), rollup_rows);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metrics_events"), 1);
  v1::Dashboard dash = Dash(kYear);
  EXPECT_EQ(dash.workshops().workshops_delivered(), 1);
  EXPECT_EQ(dash.workshops().pupils_reached(), 30);
}

TEST_F(MetricsStoreTest, RejectedEventsAreNotStoredAndBatchStillCommits) {
  testing::Delivery d;
  ev::OutreachEvent bad = testing::Delivered("e2", d);
  bad.set_force("notts");
  auto out = Ingest({testing::Delivered("e1", d), bad});
  EXPECT_EQ(out.response.accepted(), 1);
  EXPECT_EQ(out.response.rejected(), 1);
  EXPECT_EQ(out.response.results(1).index(), 1);
  EXPECT_EQ(out.response.results(1).event_id(), "e2");
  EXPECT_EQ(out.response.results(1).reason(), "EVENT_FORCE_MISMATCH");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metrics_events"), 1);
}

TEST_F(MetricsStoreTest, EngagementReplacesByRevisionNeverAdds) {
  const absl::CivilDay day(2024, 10, 3);
  Ingest({testing::Engagement("r1", "derbyshire", "a1", day, 1, 1000, 400, 50, {"north"})});
  EXPECT_EQ(Dash(kYear).campaigns().impressions(), 1000);
  // Revision 2 replaces the day's numbers (and moves them to two areas).
  Ingest(
      {testing::Engagement("r2", "derbyshire", "a1", day, 2, 1500, 600, 90, {"north", "south"})});
  v1::Dashboard d = Dash(kYear);
  EXPECT_EQ(d.campaigns().impressions(), 1500);  // not 2500, and not counted twice per area
  EXPECT_EQ(d.campaigns().reach(), 600);
  EXPECT_EQ(d.campaigns().engagements(), 90);
  EXPECT_DOUBLE_EQ(d.campaigns().engagement_rate(), 90.0 / 1500.0);
  EXPECT_EQ(Dash(kYear, "north").campaigns().impressions(), 1500);
  EXPECT_EQ(Dash(kYear, "south").campaigns().impressions(), 1500);
  EXPECT_EQ(Dash(kYear, "west").campaigns().impressions(), 0);
  // A late revision 1 (re-ordered delivery) and an equal revision are ignored.
  auto late = Ingest({testing::Engagement("r1b", "derbyshire", "a1", day, 1, 7, 7, 7),
                      testing::Engagement("r2b", "derbyshire", "a1", day, 2, 8, 8, 8)});
  EXPECT_EQ(late.response.accepted(), 2);
  EXPECT_EQ(Dash(kYear).campaigns().impressions(), 1500);
  EXPECT_EQ(Dash(kYear, "north").campaigns().impressions(), 1500);
  // Another day adds; a force-wide report counts in every area.
  Ingest({testing::Engagement("r3", "derbyshire", "a1", D(2024, 10, 4), 1, 100, 10, 1)});
  EXPECT_EQ(Dash(kYear).campaigns().impressions(), 1600);
  EXPECT_EQ(Dash(kYear, "west").campaigns().impressions(), 100);
  // Rollups hold exactly the replaced values (no residue).
  EXPECT_EQ(Count("SELECT SUM(c_impressions) FROM metrics_figures WHERE scope = 'F' AND "
                  "dim_kind = ''"),
            1600);
  // The all-time total follows the replacements too.
  EXPECT_EQ(Count("SELECT c_impressions FROM metrics_figures WHERE scope = 'T'"), 1600);
}

// The hostile sequence of the reliability issue: two reports of INT64_MAX impressions and one
// of 1. The two are refused by campaigns' bound, so the totals hold just the 1.
TEST_F(MetricsStoreTest, CampaignTotalsNeverWrap) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const absl::CivilDay day(2024, 10, 3);
  auto out = Ingest({testing::Engagement("r1", "derbyshire", "a1", day, 1, kMax, 0, kMax),
                     testing::Engagement("r2", "derbyshire", "a2", day, 1, kMax, 0, kMax),
                     testing::Engagement("r3", "derbyshire", "a3", day, 1, 1, 1, 1)});
  EXPECT_EQ(out.response.accepted(), 1);
  EXPECT_EQ(out.response.rejected(), 2);
  EXPECT_EQ(out.response.results(0).field(), "engagement_reported.impressions");
  const v1::Dashboard d = Dash(kYear);
  EXPECT_EQ(d.campaigns().impressions(), 1);
  EXPECT_EQ(d.campaigns().engagements(), 1);
  EXPECT_DOUBLE_EQ(d.campaigns().engagement_rate(), 1.0);
}

// Totals already near the limit (many large reports over time): the event that would take a
// stored total past int64 is refused naming its field, in a batch that goes on; the refused
// event leaves no trace.
TEST_F(MetricsStoreTest, AnEventThatWouldOverflowAStoredTotalIsRejected) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(db_->Write([&](db::Connection& c) -> absl::Status {
                   // One day's force total, and the force's all-time total it is part of.
                   for (const char* day : {"2024-10-03", ""}) {
                     auto st = c.Exec(absl::StrCat(
                         "INSERT INTO metrics_figures (force, dim_kind, scope, area, day, dim, "
                         "c_impressions) VALUES ('derbyshire', '', '",
                         *day == 0 ? "T" : "F", "', '', '", day, "', '', ", kMax - 1500, ")"));
                     if (!st.ok()) return st;
                   }
                   return absl::OkStatus();
                 })
                  .ok());
  const absl::CivilDay day(2024, 10, 3);
  auto out = Ingest({testing::Engagement("r1", "derbyshire", "a1", day, 1, 1000, 10, 5),
                     testing::Engagement("r2", "derbyshire", "a2", day, 1, 1000, 10, 5),
                     testing::Engagement("r3", "derbyshire", "a3", D(2024, 10, 4), 1, 7, 7, 7)});
  EXPECT_EQ(out.response.accepted(), 2);
  EXPECT_EQ(out.response.results(0).outcome(), v1::INGEST_OUTCOME_ACCEPTED);
  EXPECT_EQ(out.response.results(1).outcome(), v1::INGEST_OUTCOME_REJECTED);
  EXPECT_EQ(out.response.results(1).reason(), "FIELD_INVALID");
  EXPECT_EQ(out.response.results(1).field(), "engagement_reported.impressions");
  EXPECT_EQ(out.response.results(2).outcome(), v1::INGEST_OUTCOME_ACCEPTED);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metrics_events WHERE event_id = 'r2'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM metrics_engagement WHERE activity LIKE '%/a2'"), 0);
  EXPECT_EQ(Count("SELECT c_impressions FROM metrics_figures WHERE scope = 'F' AND dim_kind = '' "
                  "AND day = '2024-10-03'"),
            kMax - 500);
  EXPECT_EQ(Count("SELECT c_impressions FROM metrics_figures WHERE scope = 'T'"), kMax - 493);
  // Re-sending the refused event fails again rather than counting as a duplicate.
  auto again = Ingest({testing::Engagement("r2", "derbyshire", "a2", day, 1, 1000, 10, 5)});
  EXPECT_EQ(again.response.rejected(), 1);
}

// A store written before migration 2 (one row per figure and cell) keeps every number: the
// pivot moves each into its cell's column, and the all-time totals are the force totals' sums,
// clamped where they would not fit (which then refuses what would add to them).
TEST(MetricsStoreMigration, TallRollupsBecomeOneRowPerCellWithTotals) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  TempDir dir;
  const std::string location = TestDatabaseLocation(dir, "migrated");
  {
    db::MigrationSet v1 = MetricsMigrations();
    v1.migrations.resize(1);
    auto db = db::Database::Open(location, {CommonMigrations(), v1});
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)
                    ->Write([](db::Connection& c) -> absl::Status {
                      const std::string rows[] = {
                          "'w_delivered', '', 'F', '', '', '2024-10-01', 2",
                          "'w_pupils', '', 'F', '', '', '2024-10-01', 55",
                          "'w_delivered', '', 'F', '', '', '2024-10-02', 1",
                          "'w_delivered', '', 'A', 'north', '', '2024-10-01', 2",
                          "'w_pupils', '', 'A', 'north', '', '2024-10-01', 55",
                          absl::StrCat("'w_pupils', 'topic', 'A', 'north', ",
                                       "'forces/derbyshire/topics/t1', '2024-10-01', 30"),
                          absl::StrCat("'c_reach', '', 'F', '', '', '2024-10-01', ", kMax - 10),
                          absl::StrCat("'c_reach', '', 'F', '', '', '2024-10-02', ", kMax - 10)};
                      for (const auto& row : rows) {
                        auto st = c.Exec(absl::StrCat(
                            "INSERT INTO metrics_rollup (force, metric, dim_kind, scope, area, "
                            "dim, day, value) VALUES ('derbyshire', ",
                            row, ")"));
                        if (!st.ok()) return st;
                      }
                      return absl::OkStatus();
                    })
                    .ok());
  }
  auto db = db::Database::Open(location, {CommonMigrations(), MetricsMigrations()});
  ASSERT_TRUE(db.ok()) << db.status();
  auto count = [&](const std::string& sql) {
    int64_t n = -1;
    EXPECT_TRUE((*db)
                    ->Read([&](db::Connection& c) -> absl::Status {
                      auto st = c.Prepare(sql);
                      if (!st.ok()) return st.status();
                      auto row = st->Step();
                      if (!row.ok()) return row.status();
                      n = *row ? st->Int64(0) : -1;
                      return absl::OkStatus();
                    })
                    .ok());
    return n;
  };
  EXPECT_EQ(count("SELECT COUNT(*) FROM metrics_figures"), 5);  // 4 cells and the total
  EXPECT_EQ(count("SELECT w_pupils FROM metrics_figures WHERE scope = 'F' AND day = "
                  "'2024-10-01'"),
            55);
  EXPECT_EQ(count("SELECT w_delivered FROM metrics_figures WHERE scope = 'F' AND day = "
                  "'2024-10-01'"),
            2);
  EXPECT_EQ(count("SELECT w_pupils FROM metrics_figures WHERE dim_kind = 'topic'"), 30);
  EXPECT_EQ(count("SELECT w_delivered FROM metrics_figures WHERE scope = 'T'"), 3);
  EXPECT_EQ(count("SELECT w_pupils FROM metrics_figures WHERE scope = 'T'"), 55);
  EXPECT_EQ(count("SELECT c_reach FROM metrics_figures WHERE scope = 'T'"), kMax);

  auto store = NewSqlMetricsStore(db->get());
  auto dash =
      store->ComputeDashboard("derbyshire", {D(2024, 9, 1), D(2025, 8, 31)}, "", Utc(2024, 11, 1));
  ASSERT_TRUE(dash.ok()) << dash.status();
  EXPECT_EQ(dash->workshops().workshops_delivered(), 3);
  EXPECT_EQ(dash->workshops().pupils_reached(), 55);
  EXPECT_EQ(dash->campaigns().reach(), kMax);  // saturated, as before
  auto north = store->ComputeDashboard("derbyshire", {D(2024, 9, 1), D(2025, 8, 31)}, "north",
                                       Utc(2024, 11, 1));
  ASSERT_TRUE(north.ok()) << north.status();
  EXPECT_EQ(north->workshops().workshops_delivered(), 2);

  // Reach cannot grow past the clamped total; impressions still can.
  Events batch;
  *batch.Add() = testing::Engagement("r1", "derbyshire", "a1", D(2024, 10, 5), 1, 10, 5, 1);
  *batch.Add() = testing::Engagement("r2", "derbyshire", "a2", D(2024, 10, 5), 1, 10, 0, 1);
  auto out = store->Ingest("derbyshire", batch, Utc(2024, 11, 1));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->response.results(0).outcome(), v1::INGEST_OUTCOME_REJECTED);
  EXPECT_EQ(out->response.results(0).field(), "engagement_reported.reach");
  EXPECT_EQ(out->response.results(1).outcome(), v1::INGEST_OUTCOME_ACCEPTED);
}

// Sums over days saturate instead of wrapping, and rates stay in [0, 1].
TEST_F(MetricsStoreTest, DashboardSumsSaturateAndRatesStayInRange) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(db_->Write([&](db::Connection& c) -> absl::Status {
                   for (const char* day : {"2024-10-03", "2024-10-04"}) {
                     auto st = c.Exec(absl::StrCat(
                         "INSERT INTO metrics_figures (force, dim_kind, scope, area, day, dim, "
                         "c_impressions, c_engagements) VALUES ('derbyshire', '', 'F', '', '",
                         day, "', '', ", kMax - 10, ", ", kMax - 10, ")"));
                     if (!st.ok()) return st;
                   }
                   return absl::OkStatus();
                 })
                  .ok());
  v1::Dashboard d = Dash(kYear);
  EXPECT_EQ(d.campaigns().impressions(), kMax);
  EXPECT_EQ(d.campaigns().engagements(), kMax);
  EXPECT_GE(d.campaigns().engagement_rate(), 0.0);
  EXPECT_LE(d.campaigns().engagement_rate(), 1.0);
  // Campaigns lets engagements exceed impressions (a reply counts without an impression).
  Ingest({testing::Engagement("r1", "derbyshire", "a1", D(2024, 10, 20), 1, 10, 5, 100)});
  d = Dash({D(2024, 10, 20), D(2024, 10, 20)});
  EXPECT_EQ(d.campaigns().engagements(), 100);
  EXPECT_DOUBLE_EQ(d.campaigns().engagement_rate(), 1.0);
  EXPECT_LE(d.campaigns().click_through_rate(), 1.0);
}

TEST_F(MetricsStoreTest, WorkshopKpisAndSchoolCoverage) {
  now_ = Utc(2025, 1, 10);
  Ingest({testing::Venue("v1", "derbyshire", "school-a", cv1::VENUE_KIND_SECONDARY, "north",
                         Utc(2024, 9, 1)),
          testing::Venue("v2", "derbyshire", "school-b", cv1::VENUE_KIND_PRIMARY, "north",
                         Utc(2024, 9, 1)),
          testing::Venue("v3", "derbyshire", "school-c", cv1::VENUE_KIND_PRIMARY, "south",
                         Utc(2024, 9, 1)),
          testing::Venue("v4", "derbyshire", "library", cv1::VENUE_KIND_COMMUNITY, "south",
                         Utc(2024, 9, 1))});
  testing::Delivery a;  // school-a, north, 30 pupils
  testing::Delivery a2 = a;
  a2.workshop = "w2";
  a2.delivered = Utc(2024, 11, 5);
  testing::Delivery lib;
  lib.workshop = "w3";
  lib.venue = "library";
  lib.kind = cv1::VENUE_KIND_COMMUNITY;
  lib.area = "south";
  lib.pupils_y9 = 0;
  lib.community = 40;
  lib.audiences = {cv1::WORKSHOP_AUDIENCE_COMMUNITY};
  Ingest(
      {testing::Delivered("d1", a), testing::Delivered("d2", a2), testing::Delivered("d3", lib)});
  v1::Dashboard d = Dash(kYear);
  EXPECT_EQ(d.workshops().workshops_delivered(), 3);
  EXPECT_EQ(d.workshops().pupils_reached(), 60);
  EXPECT_EQ(d.workshops().community_reached(), 40);
  EXPECT_EQ(d.workshops().people_reached(), 60 + 40 + 6);
  EXPECT_EQ(d.workshops().schools_covered(), 1);  // school-a twice, library is no school
  EXPECT_EQ(d.workshops().schools_total(), 3);
  EXPECT_NEAR(d.workshops().schools_covered_percent(), 100.0 / 3, 1e-9);
  EXPECT_EQ(d.workshops().safeguarding_disclosures(), 3);
  EXPECT_DOUBLE_EQ(d.workshops().mean_rating(), 4.5);
  EXPECT_EQ(d.workshops().know_what_to_do().after(), 45);
  v1::Dashboard north = Dash(kYear, "north");
  EXPECT_EQ(north.workshops().workshops_delivered(), 2);
  EXPECT_EQ(north.workshops().schools_total(), 2);
  EXPECT_DOUBLE_EQ(north.workshops().schools_covered_percent(), 50.0);
  // Period boundaries: October only.
  EXPECT_EQ(Dash({D(2024, 10, 1), D(2024, 10, 31)}).workshops().workshops_delivered(), 2);
  EXPECT_EQ(d.data_version(), 2);
  EXPECT_EQ(d.as_of().seconds(), absl::ToUnixSeconds(Utc(2024, 11, 5)));
}

TEST_F(MetricsStoreTest, TrainingCurrentVersusTargetUsesTheClock) {
  now_ = Utc(2025, 6, 1);
  const auto fi = cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR;
  Ingest({testing::Officer("o1", "derbyshire", "p1", fi, "d1", true, Utc(2024, 9, 1)),
          testing::Officer("o2", "derbyshire", "p2", fi, "d1", true, Utc(2024, 9, 1)),
          testing::Officer("o3", "derbyshire", "p3", fi, "d2", true, Utc(2024, 9, 1)),
          testing::Officer("o4", "derbyshire", "p4", cv1::OFFICER_ROLE_STAFF, "d2", true,
                           Utc(2024, 9, 1)),
          testing::Officer("o5", "derbyshire", "p5", fi, "d2", false, Utc(2024, 9, 1)),
          // p1 current until 2026; p2's certificate expired on 1 Mar 2025.
          testing::Completed("c1", "derbyshire", "e1", "p1", "cyber", fi, "d1", Utc(2024, 10, 1),
                             Utc(2026, 10, 1)),
          testing::Completed("c2", "derbyshire", "e2", "p2", "cyber", fi, "d1", Utc(2023, 3, 1),
                             Utc(2025, 3, 1)),
          // p3 is enrolled, due 1 May 2025: overdue by June.
          testing::Enrolled("n3", "derbyshire", "e3", "p3", "cyber", fi, "d2", Utc(2025, 1, 1),
                            absl::CivilDay(2025, 5, 1))});
  int64_t version = 0;
  v1::ForceSettings s;
  auto* t = s.add_training_targets();
  t->set_course("forces/derbyshire/courses/cyber");
  t->add_roles(fi);
  t->set_percent(50);
  auto current = store_->GetSettings("derbyshire");
  ASSERT_TRUE(current.ok());
  s.set_etag(current->etag());
  ASSERT_TRUE(store_->UpdateSettings("derbyshire", s, {"training_targets"}, now_, &version).ok());
  EXPECT_EQ(version, 2);  // settings change dashboards: the version moves

  v1::Dashboard d = Dash(kYear);
  EXPECT_EQ(d.training().officers_active(), 4);
  EXPECT_EQ(d.training().officers_current(), 1);
  EXPECT_EQ(d.training().officers_trained(), 1);  // only p1 completed in this academic year
  ASSERT_EQ(d.training().targets_size(), 1);
  const auto& st = d.training().targets(0);
  EXPECT_EQ(st.officers_in_scope(), 3);  // frontline investigators, active
  EXPECT_EQ(st.officers_current(), 1);
  EXPECT_EQ(st.officers_expired(), 1);
  EXPECT_EQ(st.officers_overdue(), 1);
  EXPECT_EQ(st.officers_never_trained(), 0);
  EXPECT_EQ(st.target_officers_required(), 2);
  EXPECT_FALSE(st.target_met());
  EXPECT_EQ(st.shortfall(), 1);
  // In the previous academic year (evaluated at its end, 31 Aug 2024) p2 was still current.
  v1::Dashboard last = Dash({D(2023, 9, 1), D(2024, 8, 31)});
  EXPECT_EQ(last.training().officers_current(), 1);
  EXPECT_EQ(last.training().targets(0).officers_current(), 1);
  // Division filter.
  EXPECT_EQ(Dash(kYear, "d2").training().officers_active(), 2);
}

TEST_F(MetricsStoreTest, ForcesNeverSeeEachOther) {
  testing::Delivery d;
  Ingest({testing::Delivered("e1", d)});
  testing::Delivery n = d;
  n.force = "notts";
  // The same event id in another force is another event.
  auto out = Ingest({testing::Delivered("e1", n)}, "notts");
  EXPECT_EQ(out.response.accepted(), 1);
  EXPECT_EQ(out.data_version, 1);
  EXPECT_EQ(Dash(kYear, "", "notts").workshops().workshops_delivered(), 1);
  EXPECT_EQ(Dash(kYear, "", "derbyshire").workshops().workshops_delivered(), 1);
  EXPECT_EQ(Dash(kYear, "", "leics").workshops().workshops_delivered(), 0);
  EXPECT_EQ(Dash(kYear, "", "leics").data_version(), 0);
}

TEST_F(MetricsStoreTest, SeriesBucketsAndGroups) {
  now_ = Utc(2025, 1, 1);
  testing::Delivery a;
  a.topics = {"sexting", "grooming"};
  testing::Delivery b = a;
  b.workshop = "w2";
  b.area = "south";
  b.topics = {"grooming"};
  b.delivered = Utc(2024, 11, 20);
  Ingest({testing::Delivered("d1", a), testing::Delivered("d2", b)});
  v1::QuerySeriesRequest req;
  req.set_metric(v1::METRIC_WORKSHOPS_DELIVERED);
  req.set_granularity(v1::GRANULARITY_MONTH);
  req.set_group_by(v1::GROUP_BY_TOPIC);
  *req.mutable_date_range()->mutable_start_date() = ToProtoDate(D(2024, 9, 1));
  *req.mutable_date_range()->mutable_end_date() = ToProtoDate(D(2024, 12, 31));
  auto buckets = MakeBuckets(req.granularity(), {D(2024, 9, 1), D(2024, 12, 31)});
  ASSERT_TRUE(buckets.ok());
  auto s = store_->ComputeSeries("derbyshire", req, *buckets, now_);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->series_size(), 2);
  EXPECT_EQ(s->series(0).group_key(), "forces/derbyshire/topics/grooming");
  ASSERT_EQ(s->series(0).points_size(), 4);
  EXPECT_EQ(s->series(0).points(1).label(), "2024-10");
  EXPECT_EQ(s->series(0).points(1).value(), 1);
  EXPECT_EQ(s->series(0).points(2).value(), 1);
  EXPECT_EQ(s->series(1).points(1).value(), 1);
  EXPECT_EQ(s->series(1).points(2).value(), 0);
  req.set_group_by(v1::GROUP_BY_AREA);
  s = store_->ComputeSeries("derbyshire", req, *buckets, now_);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->series_size(), 2);
  EXPECT_EQ(s->series(0).group_key(), "north");
  EXPECT_EQ(s->series(1).group_key(), "south");
  req.set_group_by(v1::GROUP_BY_UNSPECIFIED);
  req.set_metric(v1::METRIC_SCHOOLS_COVERED);
  s = store_->ComputeSeries("derbyshire", req, *buckets, now_);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->series_size(), 1);
  EXPECT_EQ(s->series(0).points(1).value(), 1);
  EXPECT_EQ(s->series(0).points(2).value(), 1);
  EXPECT_EQ(s->series(0).points(0).value(), 0);
}

TEST_F(MetricsStoreTest, CampaignsActiveInThePeriodAndReachTarget) {
  now_ = Utc(2025, 2, 1);
  const auto active = cv1::CAMPAIGN_STATE_ACTIVE;
  Ingest({testing::CampaignState("s1", "derbyshire", "c1", cv1::CAMPAIGN_STATE_SCHEDULED,
                                 cv1::CAMPAIGN_STATE_DRAFT, Utc(2024, 9, 20), 5000, {"north"}),
          testing::CampaignState("s2", "derbyshire", "c1", active, cv1::CAMPAIGN_STATE_SCHEDULED,
                                 Utc(2024, 10, 1), 5000, {"north"}),
          testing::CampaignState("s3", "derbyshire", "c1", cv1::CAMPAIGN_STATE_COMPLETED, active,
                                 Utc(2024, 12, 1), 5000, {"north"}),
          // Force-wide, still active.
          testing::CampaignState("s4", "derbyshire", "c2", active, cv1::CAMPAIGN_STATE_SCHEDULED,
                                 Utc(2024, 11, 15), 1000),
          testing::Engagement("r1", "derbyshire", "a1", D(2024, 11, 20), 1, 3000, 1200, 60,
                              {"north"})});
  v1::Dashboard nov = Dash({D(2024, 11, 1), D(2024, 11, 30)});
  EXPECT_EQ(nov.campaigns().campaigns_active(), 2);
  EXPECT_EQ(nov.campaigns().reach_target(), 6000);
  EXPECT_DOUBLE_EQ(nov.campaigns().reach_target_percent(), 20.0);
  EXPECT_DOUBLE_EQ(nov.campaigns().click_through_rate(), 30.0 / 3000.0);
  // c1 ended on 1 Dec; c2 (force-wide) counts in every area.
  v1::Dashboard jan = Dash({D(2025, 1, 1), D(2025, 1, 31)});
  EXPECT_EQ(jan.campaigns().campaigns_active(), 1);
  EXPECT_EQ(Dash({D(2024, 11, 1), D(2024, 11, 30)}, "south").campaigns().campaigns_active(), 1);
  EXPECT_EQ(Dash({D(2024, 11, 1), D(2024, 11, 30)}, "north").campaigns().campaigns_active(), 2);
  // September: c1 only scheduled.
  EXPECT_EQ(Dash({D(2024, 9, 1), D(2024, 9, 30)}).campaigns().campaigns_active(), 0);
}

TEST_F(MetricsStoreTest, TrainingAndCampaignSeries) {
  now_ = Utc(2025, 6, 1);
  const auto fi = cv1::OFFICER_ROLE_FRONTLINE_INVESTIGATOR;
  const auto dmi = cv1::OFFICER_ROLE_DIGITAL_MEDIA_INVESTIGATOR;
  Ingest({testing::Officer("o1", "derbyshire", "p1", fi, "d1", true, Utc(2024, 9, 1)),
          testing::Officer("o2", "derbyshire", "p2", dmi, "d2", true, Utc(2024, 9, 1)),
          testing::Completed("c1", "derbyshire", "e1", "p1", "cyber", fi, "d1", Utc(2024, 10, 1),
                             Utc(2025, 3, 15)),
          testing::Completed("c2", "derbyshire", "e2", "p2", "cyber", dmi, "d2", Utc(2024, 11, 1),
                             std::nullopt),
          testing::Completed("c3", "derbyshire", "e3", "p2", "other", dmi, "d2", Utc(2024, 11, 2),
                             std::nullopt),
          testing::Engagement("r1", "derbyshire", "a1", D(2024, 10, 3), 1, 100, 50, 5, {},
                              cv1::CHANNEL_SNAPCHAT),
          testing::Engagement("r2", "derbyshire", "a2", D(2024, 10, 3), 1, 300, 50, 30, {},
                              cv1::CHANNEL_INSTAGRAM)});
  auto series = [&](v1::Metric m, v1::GroupBy g, const std::string& course = "") {
    v1::QuerySeriesRequest req;
    req.set_metric(m);
    req.set_granularity(v1::GRANULARITY_TERM);
    req.set_group_by(g);
    req.set_course(course);
    *req.mutable_date_range()->mutable_start_date() = ToProtoDate(D(2024, 9, 1));
    *req.mutable_date_range()->mutable_end_date() = ToProtoDate(D(2025, 8, 31));
    auto buckets = MakeBuckets(req.granularity(), {D(2024, 9, 1), D(2025, 8, 31)});
    auto s = store_->ComputeSeries("derbyshire", req, *buckets, now_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : v1::QuerySeriesResponse{};
  };
  auto trained = series(v1::METRIC_OFFICERS_TRAINED, v1::GROUP_BY_ROLE);
  ASSERT_EQ(trained.series_size(), 2);
  EXPECT_EQ(trained.series(0).group_key(), "OFFICER_ROLE_DIGITAL_MEDIA_INVESTIGATOR");
  EXPECT_EQ(trained.series(0).points(0).value(), 1);  // p2 twice in autumn: one officer
  EXPECT_EQ(
      series(v1::METRIC_COURSE_COMPLETIONS, v1::GROUP_BY_UNSPECIFIED).series(0).points(0).value(),
      3);
  EXPECT_EQ(series(v1::METRIC_COURSE_COMPLETIONS, v1::GROUP_BY_UNSPECIFIED,
                   "forces/derbyshire/courses/cyber")
                .series(0)
                .points(0)
                .value(),
            2);
  // Current at the end of each term: p1's certificate lapsed on 15 Mar (spring).
  auto current = series(v1::METRIC_OFFICERS_CURRENT, v1::GROUP_BY_UNSPECIFIED,
                        "forces/derbyshire/courses/cyber");
  EXPECT_EQ(current.series(0).points(0).value(), 2);
  EXPECT_EQ(current.series(0).points(1).value(), 1);
  EXPECT_EQ(current.series(0).points(2).value(), 1);  // summer: evaluated at now (1 Jun)
  auto compliance =
      series(v1::METRIC_COMPLIANCE_PERCENT, v1::GROUP_BY_AREA, "forces/derbyshire/courses/cyber");
  ASSERT_EQ(compliance.series_size(), 2);
  EXPECT_EQ(compliance.series(0).group_key(), "d1");
  EXPECT_EQ(compliance.series(0).points(0).value(), 100);
  EXPECT_EQ(compliance.series(0).points(1).value(), 0);
  auto by_channel = series(v1::METRIC_CAMPAIGN_ENGAGEMENT_RATE, v1::GROUP_BY_CHANNEL);
  ASSERT_EQ(by_channel.series_size(), 2);
  EXPECT_EQ(by_channel.series(0).group_key(), "CHANNEL_INSTAGRAM");
  EXPECT_DOUBLE_EQ(by_channel.series(0).points(0).value(), 0.1);
  EXPECT_DOUBLE_EQ(by_channel.series(1).points(0).value(), 0.05);
  auto rate = series(v1::METRIC_CAMPAIGN_ENGAGEMENT_RATE, v1::GROUP_BY_UNSPECIFIED);
  EXPECT_DOUBLE_EQ(rate.series(0).points(0).value(), 35.0 / 400.0);
  auto by_area = series(v1::METRIC_CAMPAIGN_IMPRESSIONS, v1::GROUP_BY_AREA);
  ASSERT_EQ(by_area.series_size(), 1);
  EXPECT_EQ(by_area.series(0).group_key(), "");  // force-wide campaigns
  EXPECT_EQ(by_area.series(0).points(0).value(), 400);
}

}  // namespace
}  // namespace outreach::metrics
