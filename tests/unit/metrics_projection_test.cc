// The metrics domain without a database: catalogue, event projection, series arithmetic and
// the dashboard's training KPIs from plain rows.
#include <set>
#include <variant>

#include "gtest/gtest.h"
#include "services/metrics/catalogue.h"
#include "services/metrics/kpis.h"
#include "services/metrics/projection.h"
#include "tests/unit/metrics_test_events.h"

namespace outreach::metrics {
namespace {

using namespace ::outreach::metrics::testing;  // NOLINT: event builders

template <typename Row>
const Row* Find(const std::vector<ProjectedRow>& rows) {
  for (const auto& r : rows) {
    if (const Row* x = std::get_if<Row>(&r)) return x;
  }
  return nullptr;
}

TEST(MetricCatalogue, EverySeriesMetricHasOneDefinition) {
  std::set<int> seen;
  for (const MetricDef& def : MetricCatalogue()) {
    EXPECT_TRUE(seen.insert(def.metric).second) << def.metric;
    if (def.computation == Computation::kRollupSum) {
      EXPECT_NE(def.numerator, nullptr) << def.metric;
      EXPECT_EQ(def.denominator != nullptr, def.unit != MetricUnit::kCount) << def.metric;
    }
  }
  for (int m = v1::Metric_MIN + 1; m <= v1::Metric_MAX; ++m) {
    if (v1::Metric_IsValid(m)) {
      EXPECT_TRUE(seen.count(m)) << "missing metric " << m;
    }
  }
  EXPECT_EQ(FindMetric(v1::METRIC_UNSPECIFIED), nullptr);
  EXPECT_EQ(FindMetric(static_cast<v1::Metric>(999)), nullptr);
}

TEST(MetricCatalogue, FamilyUnitAndGroupBys) {
  const MetricDef* rating = FindMetric(v1::METRIC_FEEDBACK_MEAN_RATING);
  ASSERT_NE(rating, nullptr);
  EXPECT_EQ(rating->family, MetricFamily::kWorkshop);
  EXPECT_EQ(rating->unit, MetricUnit::kMeanRating);
  EXPECT_EQ(FindMetric(v1::METRIC_COMPLIANCE_PERCENT)->family, MetricFamily::kTraining);
  EXPECT_EQ(FindMetric(v1::METRIC_COMPLIANCE_PERCENT)->unit, MetricUnit::kPercent);
  EXPECT_EQ(FindMetric(v1::METRIC_LEAFLETS_DISTRIBUTED)->family, MetricFamily::kCampaign);
  EXPECT_TRUE(SupportsGroupBy(v1::METRIC_PEOPLE_REACHED, v1::GROUP_BY_AUDIENCE));
  EXPECT_FALSE(SupportsGroupBy(v1::METRIC_PUPILS_REACHED, v1::GROUP_BY_AUDIENCE));
  EXPECT_TRUE(SupportsGroupBy(v1::METRIC_COMPLIANCE_PERCENT, v1::GROUP_BY_ROLE));
  EXPECT_FALSE(SupportsGroupBy(v1::METRIC_LEAFLETS_DISTRIBUTED, v1::GROUP_BY_CHANNEL));
  EXPECT_FALSE(SupportsGroupBy(v1::METRIC_UNSPECIFIED, v1::GROUP_BY_UNSPECIFIED));
}

TEST(MetricCatalogue, PointValueFollowsTheUnit) {
  EXPECT_EQ(PointValue(MetricUnit::kCount, 7, 0), 7);
  EXPECT_EQ(PointValue(MetricUnit::kMeanRating, 45, 10), 4.5);
  EXPECT_EQ(PointValue(MetricUnit::kRate, 1, 4), 0.25);
  EXPECT_EQ(PointValue(MetricUnit::kPercent, 1, 4), 25);
  EXPECT_EQ(PointValue(MetricUnit::kPercent, 3, 0), 0);
}

TEST(MetricsProjection, DeliveredWorkshopCountsByAreaForceTopicAndAudience) {
  Delivery d;
  d.parents = 4;
  RollupDeltas deltas;
  const auto rows = Project(Delivered("e1", d), &deltas);
  const std::string day = "2024-10-01";
  EXPECT_EQ(deltas.Get(rollup::kDelivered, {"", "A", "north", "", day}), 1);
  EXPECT_EQ(deltas.Get(rollup::kDelivered, {"", "F", "", "", day}), 1);
  EXPECT_EQ(
      deltas.Get(rollup::kPupils, {"topic", "A", "north", "forces/derbyshire/topics/sexting", day}),
      30);
  EXPECT_EQ(deltas.Get(rollup::kPeople, {"", "F", "", "", day}), 36);
  EXPECT_EQ(
      deltas.Get(rollup::kPeople, {"audience", "A", "north", "WORKSHOP_AUDIENCE_PARENTS", day}), 4);
  EXPECT_EQ(
      deltas.Get(rollup::kDelivered, {"audience", "A", "north", "WORKSHOP_AUDIENCE_PUPILS", day}),
      1);
  // Responses are not split by topic; zero numbers leave no cell.
  EXPECT_EQ(deltas.Get(rollup::kResponses,
                       {"topic", "A", "north", "forces/derbyshire/topics/sexting", day}),
            0);
  EXPECT_EQ(deltas.Get(rollup::kCommunity, {"", "A", "north", "", day}), 0);
  // One row per cell, every figure in it: the area, the force, the topic, the three audiences
  // with people (pupils, parents, staff), and the all-time total, which holds the force's.
  EXPECT_EQ(deltas.cells().size(), 7u);
  EXPECT_EQ(deltas.Totals()[rollup::FigureIndex(rollup::kPeople)], 36);
  EXPECT_EQ(deltas.Get(rollup::kDelivered, RollupDeltas::TotalKey()), 1);

  const auto* visit = Find<SchoolVisitRow>(rows);
  ASSERT_NE(visit, nullptr);
  EXPECT_EQ(visit->venue, "forces/derbyshire/venues/school-a");
  const auto* workshop = Find<WorkshopRow>(rows);
  ASSERT_NE(workshop, nullptr);
  EXPECT_EQ(workshop->state, "DELIVERED");
}

TEST(MetricsProjection, NoSchoolVisitWithoutPupilsOrAtANonSchool) {
  Delivery d;
  d.pupils_y9 = 0;
  RollupDeltas deltas;
  EXPECT_EQ(Find<SchoolVisitRow>(Project(Delivered("e1", d), &deltas)), nullptr);
  d.pupils_y9 = 10;
  d.kind = cv1::VENUE_KIND_COMMUNITY;
  EXPECT_EQ(Find<SchoolVisitRow>(Project(Delivered("e2", d), &deltas)), nullptr);
}

TEST(MetricsProjection, TrainingEventsBecomeRowsWithoutRollups) {
  RollupDeltas deltas;
  const auto rows = Project(
      Completed("e1", "derbyshire", "n1", "o1", "cyber", cv1::OFFICER_ROLE_NEIGHBOURHOOD_OFFICER,
                "north", Utc(2024, 10, 1), Utc(2025, 10, 1)),
      &deltas);
  EXPECT_TRUE(deltas.cells().empty());
  const auto* cert = Find<CertificateRow>(rows);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cert->completed_day, "2024-10-01");
  EXPECT_EQ(cert->course, "forces/derbyshire/courses/cyber");
  ASSERT_TRUE(cert->valid_until.has_value());
  const auto* enrolment = Find<EnrolmentRow>(rows);
  ASSERT_NE(enrolment, nullptr);
  EXPECT_FALSE(enrolment->open);

  const auto created = Project(
      Enrolled("e2", "derbyshire", "n2", "o1", "cyber", cv1::OFFICER_ROLE_NEIGHBOURHOOD_OFFICER,
               "north", Utc(2024, 10, 1), D(2024, 12, 1)),
      &deltas);
  const auto* open = Find<EnrolmentRow>(created);
  ASSERT_NE(open, nullptr);
  EXPECT_TRUE(open->open);
  EXPECT_EQ(open->due_day, "2024-12-01");
  EXPECT_EQ(open->created_day, "2024-10-01");
}

TEST(MetricsProjection, HigherEngagementRevisionReplacesTheEarlierNumbers) {
  RollupDeltas ignored;
  const auto first_rows = Project(
      Engagement("e1", "derbyshire", "a1", D(2024, 10, 1), 1, 100, 50, 10, {"north"}), &ignored);
  const auto second_rows = Project(
      Engagement("e2", "derbyshire", "a1", D(2024, 10, 1), 2, 150, 60, 12, {"north"}), &ignored);
  EXPECT_TRUE(ignored.cells().empty());  // numbers depend on the stored report
  const EngagementReport first = *Find<EngagementReport>(first_rows);
  const EngagementReport second = *Find<EngagementReport>(second_rows);

  RollupDeltas deltas;
  EXPECT_TRUE(ReplaceEngagement(std::nullopt, first, &deltas));
  EXPECT_TRUE(ReplaceEngagement(first, second, &deltas));
  const std::string day = "2024-10-01";
  EXPECT_EQ(deltas.Get(rollup::kImpressions, {"", "F", "", "", day}), 150);
  EXPECT_EQ(deltas.Get(rollup::kImpressions, {"", "A", "north", "", day}), 150);
  EXPECT_EQ(deltas.Get(rollup::kReach, {"channel", "A", "north", "CHANNEL_SNAPCHAT", day}), 60);
  EXPECT_EQ(
      deltas.Get(rollup::kEngagements, {"audience", "F", "", "CAMPAIGN_AUDIENCE_PARENTS", day}),
      12);

  RollupDeltas none;
  EXPECT_FALSE(ReplaceEngagement(second, first, &none));   // lower revision
  EXPECT_FALSE(ReplaceEngagement(second, second, &none));  // same revision
  EXPECT_TRUE(none.cells().empty());
}

TEST(MetricsProjection, ForceWideCampaignNumbersCountInAreaStar) {
  RollupDeltas deltas;
  AddCampaignNumbers({cv1::CHANNEL_SNAPCHAT, {}, {}}, "2024-10-01", {{rollup::kPublished, 1}},
                     &deltas);
  EXPECT_EQ(deltas.Get(rollup::kPublished, {"", "A", "*", "", "2024-10-01"}), 1);
  EXPECT_EQ(deltas.Get(rollup::kPublished, {"", "F", "", "", "2024-10-01"}), 1);
}

TEST(MetricsProjection, CampaignSpanOpensClosesAndLearnsFromOlderChanges) {
  CampaignChange activate{"c1", cv1::CAMPAIGN_STATE_ACTIVE, true, false, "", 0, "2024-10-01", 100};
  CampaignSpan span = NextCampaignSpan({}, activate);
  EXPECT_EQ(span.first_active_day, "2024-10-01");
  EXPECT_FALSE(span.last_active_day.has_value());

  CampaignChange complete{"c1", cv1::CAMPAIGN_STATE_COMPLETED, false, true, "", 0, "2024-10-20",
                          300};
  span = NextCampaignSpan(span, complete);
  EXPECT_EQ(span.last_active_day, "2024-10-20");

  // A late-arriving earlier activation widens the start but does not reopen the span.
  CampaignChange early{"c1", cv1::CAMPAIGN_STATE_ACTIVE, true, false, "", 0, "2024-09-25", 50};
  span = NextCampaignSpan(span, early);
  EXPECT_EQ(span.first_active_day, "2024-09-25");
  EXPECT_EQ(span.last_active_day, "2024-10-20");
}

// --- series and KPIs from plain rows ------------------------------------------------------
std::vector<Bucket> Months() {
  return {{{D(2024, 9, 1), D(2024, 9, 30)}, "2024-09"},
          {{D(2024, 10, 1), D(2024, 10, 31)}, "2024-10"}};
}

TEST(MetricsSeries, DistinctSchoolsPerBucketAndGroup) {
  const auto buckets = Months();
  SeriesGrid grid(buckets);
  AddSchoolsCovered({{"2024-09-03", "s1", "north"},
                     {"2024-09-10", "s1", "north"},
                     {"2024-09-11", "s2", "south"},
                     {"2024-10-01", "s1", "north"}},
                    v1::GROUP_BY_AREA, &grid);
  v1::QuerySeriesResponse out;
  grid.Fill(MetricUnit::kCount, v1::GROUP_BY_AREA, &out);
  ASSERT_EQ(out.series_size(), 2);
  EXPECT_EQ(out.series(0).group_key(), "north");
  EXPECT_EQ(out.series(0).points(0).value(), 1);
  EXPECT_EQ(out.series(0).points(1).value(), 1);
  EXPECT_EQ(out.series(1).points(0).value(), 1);
  EXPECT_EQ(out.series(1).points(1).value(), 0);
  EXPECT_EQ(out.series(0).points(1).label(), "2024-10");
}

TEST(MetricsSeries, RollupQuotientAndScopeSelection) {
  const MetricDef& rating = *FindMetric(v1::METRIC_FEEDBACK_MEAN_RATING);
  const auto buckets = Months();
  SeriesGrid grid(buckets);
  AddRollupCells({{"2024-09-02", "north", "", rollup::kRatingsSum, 45},
                  {"2024-09-02", "north", "", rollup::kRatingsCount, 10}},
                 rating, v1::GROUP_BY_UNSPECIFIED, &grid);
  v1::QuerySeriesResponse out;
  grid.Fill(rating.unit, v1::GROUP_BY_UNSPECIFIED, &out);
  ASSERT_EQ(out.series_size(), 1);
  EXPECT_EQ(out.series(0).points(0).value(), 4.5);
  EXPECT_EQ(out.series(0).points(1).value(), 0);

  EXPECT_EQ(SelectRollups(rating, v1::GROUP_BY_UNSPECIFIED, "").scope, "F");
  EXPECT_EQ(SelectRollups(rating, v1::GROUP_BY_TOPIC, "").scope, "A");
  EXPECT_EQ(SelectRollups(rating, v1::GROUP_BY_TOPIC, "").dim_kind, "topic");
  const MetricDef& reach = *FindMetric(v1::METRIC_CAMPAIGN_REACH);
  EXPECT_EQ(SelectRollups(reach, v1::GROUP_BY_CHANNEL, "").scope, "F");
  EXPECT_EQ(SelectRollups(reach, v1::GROUP_BY_CHANNEL, "north").scope, "A");
}

TrainingSnapshot Snapshot() {
  TrainingSnapshot s;
  s.active["o1"] = {cv1::OFFICER_ROLE_NEIGHBOURHOOD_OFFICER, "north"};
  s.active["o2"] = {cv1::OFFICER_ROLE_NEIGHBOURHOOD_OFFICER, "south"};
  rules::EnrolmentRecord cert;
  cert.course = "courses/cyber";
  cert.complete_time = Utc(2024, 9, 15);
  cert.create_time = *cert.complete_time;
  cert.valid_until = Utc(2025, 9, 15);
  s.records["o1"].push_back(cert);
  rules::EnrolmentRecord open;
  open.course = "courses/cyber";
  open.due_date = D(2024, 10, 1);
  s.records["o2"].push_back(open);
  return s;
}

TEST(MetricsSeries, ComplianceAtEachBucketEndWithAFakeClock) {
  const auto buckets = Months();
  v1::TrainingTarget target;
  target.set_course("courses/cyber");
  SeriesGrid grid(buckets);
  // "now" inside October: that bucket is evaluated at now, September at its end.
  AddOfficersCurrent(Snapshot(), target.course(), &target, "", v1::GROUP_BY_UNSPECIFIED, buckets,
                     Utc(2024, 10, 10), &grid);
  v1::QuerySeriesResponse out;
  grid.Fill(MetricUnit::kPercent, v1::GROUP_BY_UNSPECIFIED, &out);
  ASSERT_EQ(out.series_size(), 1);
  EXPECT_EQ(out.series(0).points(0).value(), 50);
  EXPECT_EQ(out.series(0).points(1).value(), 50);

  SeriesGrid before(buckets);
  AddOfficersCurrent(Snapshot(), target.course(), &target, "", v1::GROUP_BY_UNSPECIFIED, buckets,
                     Utc(2024, 9, 10), &before);
  v1::QuerySeriesResponse early;
  before.Fill(MetricUnit::kPercent, v1::GROUP_BY_UNSPECIFIED, &early);
  EXPECT_EQ(early.series(0).points(0).value(), 0);  // the certificate is not issued yet
}

TEST(MetricsKpis, TargetStatusUsesTheSharedStanding) {
  v1::TrainingTarget target;
  target.set_course("courses/cyber");
  target.set_officers(2);
  // The end of 2024-10-01: o2's enrolment is due that day, so not yet overdue.
  const DayRange day{D(2024, 10, 1), D(2024, 10, 1)};
  v1::TrainingTargetStatus st =
      TargetStatus(Snapshot(), target, "", EvaluationOf(day, Utc(2025, 1, 1)));
  EXPECT_EQ(st.officers_in_scope(), 2);
  EXPECT_EQ(st.officers_current(), 1);
  EXPECT_EQ(st.officers_in_progress(), 1);
  EXPECT_EQ(st.officers_overdue(), 0);
  EXPECT_FALSE(st.target_met());
  EXPECT_EQ(st.shortfall(), 1);

  const DayRange next{D(2024, 10, 2), D(2024, 10, 2)};
  st = TargetStatus(Snapshot(), target, "south", EvaluationOf(next, Utc(2025, 1, 1)));
  EXPECT_EQ(st.officers_in_scope(), 1);
  EXPECT_EQ(st.officers_overdue(), 1);
}

TEST(MetricsKpis, EvaluationIsTheRangeEndOrNowIfEarlier) {
  const DayRange october{D(2024, 10, 1), D(2024, 10, 31)};
  const rules::EvaluationPoint past = EvaluationOf(october, Utc(2025, 1, 1));
  EXPECT_EQ(past.at, StartOfLocalDay(D(2024, 11, 1)));
  EXPECT_EQ(past.as_of_day, D(2024, 10, 31));
  const rules::EvaluationPoint current = EvaluationOf(october, Utc(2024, 10, 10));
  EXPECT_EQ(current.at, Utc(2024, 10, 10));
  EXPECT_EQ(current.as_of_day, D(2024, 10, 10));
}

TEST(MetricsKpis, ForceWideCampaignsCountInEveryArea) {
  RollupSums sums = {{rollup::kReach, 50}};
  v1::CampaignKpis north;
  FillCampaignKpis(sums, {{{}, 100}, {{"north"}, 100}, {{"south"}, 100}}, "north", &north);
  EXPECT_EQ(north.campaigns_active(), 2);
  EXPECT_EQ(north.reach_target(), 200);
  EXPECT_EQ(north.reach_target_percent(), 25);
}

}  // namespace
}  // namespace outreach::metrics
