#include <functional>
#include <limits>

#include "common/bounds.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/metrics/domain.h"
#include "tests/unit/metrics_test_events.h"

namespace outreach::metrics {
namespace {

using testing::D;
using testing::Utc;

v1::Period Anchored(v1::PeriodKind kind, absl::CivilDay anchor) {
  v1::Period p;
  p.set_kind(kind);
  *p.mutable_anchor_date() = ToProtoDate(anchor);
  return p;
}

DayRange Days(absl::CivilDay a, absl::CivilDay b) { return {a, b}; }

TEST(MetricsPeriodTest, ResolvesEveryKind) {
  const absl::CivilDay today(2025, 1, 15);  // a Wednesday
  struct Case {
    v1::PeriodKind kind;
    absl::CivilDay anchor;
    DayRange want;
  } cases[] = {
      {v1::PERIOD_KIND_WEEK, D(2025, 1, 15), Days(D(2025, 1, 13), D(2025, 1, 19))},
      {v1::PERIOD_KIND_WEEK, D(2025, 1, 19), Days(D(2025, 1, 13), D(2025, 1, 19))},  // Sunday
      {v1::PERIOD_KIND_WEEK, D(2025, 1, 1), Days(D(2024, 12, 30), D(2025, 1, 5))},
      {v1::PERIOD_KIND_MONTH, D(2024, 2, 10), Days(D(2024, 2, 1), D(2024, 2, 29))},
      {v1::PERIOD_KIND_TERM, D(2024, 9, 1), Days(D(2024, 9, 1), D(2024, 12, 31))},
      {v1::PERIOD_KIND_TERM, D(2025, 3, 31), Days(D(2025, 1, 1), D(2025, 3, 31))},
      {v1::PERIOD_KIND_TERM, D(2025, 4, 1), Days(D(2025, 4, 1), D(2025, 8, 31))},
      {v1::PERIOD_KIND_ACADEMIC_YEAR, D(2025, 8, 31), Days(D(2024, 9, 1), D(2025, 8, 31))},
      {v1::PERIOD_KIND_ACADEMIC_YEAR, D(2025, 9, 1), Days(D(2025, 9, 1), D(2026, 8, 31))},
      {v1::PERIOD_KIND_FINANCIAL_YEAR, D(2025, 3, 31), Days(D(2024, 4, 1), D(2025, 3, 31))},
      {v1::PERIOD_KIND_FINANCIAL_YEAR, D(2025, 4, 1), Days(D(2025, 4, 1), D(2026, 3, 31))},
  };
  for (const auto& c : cases) {
    auto got = ResolvePeriod("period", Anchored(c.kind, c.anchor), today);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->start, c.want.start) << v1::PeriodKind_Name(c.kind) << " " << c.anchor;
    EXPECT_EQ(got->end, c.want.end) << v1::PeriodKind_Name(c.kind) << " " << c.anchor;
  }
  // No anchor: today.
  v1::Period p;
  p.set_kind(v1::PERIOD_KIND_ACADEMIC_YEAR);
  auto got = ResolvePeriod("period", p, today);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->start, absl::CivilDay(2024, 9, 1));
}

TEST(MetricsPeriodTest, RefusesBadPeriodsNamingTheField) {
  const absl::CivilDay today(2025, 1, 15);
  struct Case {
    const char* what;
    v1::Period period;
    const char* field;
  };
  std::vector<Case> cases;
  {
    v1::Period p;
    cases.push_back({"no kind", p, "period.kind"});
  }
  {
    v1::Period p;
    p.set_kind(v1::PERIOD_KIND_DAY_RANGE);
    cases.push_back({"day range without range", p, "period.date_range"});
  }
  {
    v1::Period p = Anchored(v1::PERIOD_KIND_DAY_RANGE, today);
    cases.push_back({"day range with anchor", p, "period.anchor_date"});
  }
  {
    v1::Period p = Anchored(v1::PERIOD_KIND_MONTH, today);
    *p.mutable_date_range()->mutable_start_date() = ToProtoDate(today);
    *p.mutable_date_range()->mutable_end_date() = ToProtoDate(today);
    cases.push_back({"month with range", p, "period.date_range"});
  }
  {
    v1::Period p;
    p.set_kind(v1::PERIOD_KIND_MONTH);
    p.mutable_anchor_date()->set_year(2024);
    p.mutable_anchor_date()->set_month(2);
    p.mutable_anchor_date()->set_day(30);
    cases.push_back({"impossible anchor", p, "period.anchor_date"});
  }
  {
    v1::Period p;
    p.set_kind(v1::PERIOD_KIND_DAY_RANGE);
    *p.mutable_date_range()->mutable_start_date() = ToProtoDate(D(2025, 2, 1));
    *p.mutable_date_range()->mutable_end_date() = ToProtoDate(D(2025, 1, 1));
    cases.push_back({"reversed range", p, "period.date_range.end_date"});
  }
  {
    v1::Period p;
    p.set_kind(v1::PERIOD_KIND_DAY_RANGE);
    *p.mutable_date_range()->mutable_start_date() = ToProtoDate(D(2010, 1, 1));
    *p.mutable_date_range()->mutable_end_date() = ToProtoDate(D(2025, 1, 1));
    cases.push_back({"too long", p, "period.date_range"});
  }
  {
    v1::Period p;
    p.set_kind(static_cast<v1::PeriodKind>(99));
    cases.push_back({"unknown kind", p, "period.kind"});
  }
  for (const auto& c : cases) {
    auto got = ResolvePeriod("period", c.period, today);
    ASSERT_FALSE(got.ok()) << c.what;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    auto fields = FieldViolations(got.status());
    ASSERT_EQ(fields.size(), 1u) << c.what;
    EXPECT_EQ(fields[0].field, c.field) << c.what;
  }
}

TEST(MetricsPeriodTest, LocalDaysFollowBritishSummerTime) {
  // 30 Jun 23:30 UTC is 1 Jul 00:30 BST: July, a new month, quarter-term unchanged.
  EXPECT_EQ(LocalDay(Utc(2024, 6, 30, 23, 30)), absl::CivilDay(2024, 7, 1));
  // 31 Aug 23:30 UTC is 1 Sep in London: the next academic year.
  const absl::CivilDay d = LocalDay(Utc(2024, 8, 31, 23, 30));
  EXPECT_EQ(AcademicYearOfDay(d).start, absl::CivilDay(2024, 9, 1));
  // In winter London is UTC: 31 Dec 23:30 UTC stays in December.
  EXPECT_EQ(LocalDay(Utc(2024, 12, 31, 23, 30)), absl::CivilDay(2024, 12, 31));
  // 31 Mar 2024: clocks go forward at 01:00 UTC; 23:30 UTC that day is 00:30 on 1 Apr (new FY).
  EXPECT_EQ(FinancialYearOfDay(LocalDay(Utc(2024, 3, 31, 23, 30))).start,
            absl::CivilDay(2024, 4, 1));
  // 27 Oct 2024: clocks go back at 01:00 UTC; 00:30 UTC is 01:30 BST the same day.
  EXPECT_EQ(LocalDay(Utc(2024, 10, 27, 0, 30)), absl::CivilDay(2024, 10, 27));
  // The local day of the clock change is 25 hours long.
  EXPECT_EQ(StartOfLocalDay(D(2024, 10, 28)) - StartOfLocalDay(D(2024, 10, 27)), absl::Hours(25));
  EXPECT_EQ(StartOfLocalDay(D(2024, 4, 1)) - StartOfLocalDay(D(2024, 3, 31)), absl::Hours(23));
}

TEST(MetricsBucketTest, LabelsAndClipping) {
  auto b = MakeBuckets(v1::GRANULARITY_WEEK, {D(2024, 12, 28), D(2025, 1, 8)});
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 3u);
  EXPECT_EQ((*b)[0].label, "2024-W52");
  EXPECT_EQ((*b)[0].days.start, absl::CivilDay(2024, 12, 28));  // clipped
  EXPECT_EQ((*b)[0].days.end, absl::CivilDay(2024, 12, 29));
  EXPECT_EQ((*b)[1].label, "2025-W01");  // week of 30 Dec 2024 belongs to ISO 2025
  EXPECT_EQ((*b)[2].days.end, absl::CivilDay(2025, 1, 8));
  EXPECT_EQ(IsoWeekLabel(D(2021, 1, 3)), "2020-W53");
  EXPECT_EQ(IsoWeekLabel(D(2024, 9, 2)), "2024-W36");

  auto terms = MakeBuckets(v1::GRANULARITY_TERM, {D(2024, 8, 15), D(2025, 4, 2)});
  ASSERT_TRUE(terms.ok());
  std::vector<std::string> labels;
  for (const auto& t : *terms) labels.push_back(t.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"AY2023-summer", "AY2024-autumn", "AY2024-spring",
                                              "AY2024-summer"}));
  auto months = MakeBuckets(v1::GRANULARITY_MONTH, {D(2024, 9, 10), D(2024, 10, 1)});
  ASSERT_TRUE(months.ok());
  EXPECT_EQ((*months)[0].label, "2024-09");
  auto fy = MakeBuckets(v1::GRANULARITY_FINANCIAL_YEAR, {D(2024, 3, 1), D(2024, 4, 1)});
  ASSERT_TRUE(fy.ok());
  EXPECT_EQ((*fy)[0].label, "FY2023");
  EXPECT_EQ((*fy)[1].label, "FY2024");
  auto ay = MakeBuckets(v1::GRANULARITY_ACADEMIC_YEAR, {D(2024, 3, 1), D(2024, 9, 1)});
  ASSERT_TRUE(ay.ok());
  EXPECT_EQ((*ay)[1].label, "AY2024");

  auto too_many = MakeBuckets(v1::GRANULARITY_DAY, {D(2020, 1, 1), D(2026, 1, 1)});
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(FieldViolations(too_many.status())[0].field, "date_range");
  auto no_gran = MakeBuckets(v1::GRANULARITY_UNSPECIFIED, {D(2020, 1, 1), D(2020, 1, 1)});
  ASSERT_FALSE(no_gran.ok());
  EXPECT_EQ(FieldViolations(no_gran.status())[0].field, "granularity");
}

TEST(MetricsEventValidationTest, RejectsWithReasonAndField) {
  const absl::Time now = Utc(2024, 10, 2);
  testing::Delivery d;
  const ev::OutreachEvent good = testing::Delivered("e1", d);
  ASSERT_FALSE(ValidateEvent(good, "derbyshire", now).has_value());

  struct Case {
    const char* what;
    std::function<void(ev::OutreachEvent&)> mutate;
    const char* reason;
    const char* field;
  } cases[] = {
      {"empty id", [](auto& e) { e.set_event_id(""); }, "FIELD_INVALID", "event_id"},
      {"space in id", [](auto& e) { e.set_event_id("a b"); }, "FIELD_INVALID", "event_id"},
      {"long id", [](auto& e) { e.set_event_id(std::string(65, 'x')); }, "FIELD_INVALID",
       "event_id"},
      {"other force", [](auto& e) { e.set_force("notts"); }, "EVENT_FORCE_MISMATCH", "force"},
      {"bad source", [](auto& e) { e.set_source("Work Shops"); }, "FIELD_INVALID", "source"},
      {"no time", [](auto& e) { e.clear_occurred_time(); }, "FIELD_INVALID", "occurred_time"},
      {"future", [&](auto& e) { *e.mutable_occurred_time() = ToProtoTime(now + absl::Minutes(6)); },
       "EVENT_TIME_IN_FUTURE", "occurred_time"},
      {"subject of other force", [](auto& e) { e.set_subject("forces/notts/workshops/w1"); },
       "EVENT_FORCE_MISMATCH", "subject"},
      {"bad subject", [](auto& e) { e.set_subject("workshops/w1"); }, "FIELD_INVALID", "subject"},
      {"no payload", [](auto& e) { e.clear_payload(); }, "EVENT_PAYLOAD_MISSING", ""},
      {"venue of other force",
       [](auto& e) { e.mutable_workshop_delivered()->set_venue("forces/notts/venues/v"); },
       "EVENT_FORCE_MISMATCH", "workshop_delivered.venue"},
      {"negative parents",
       [](auto& e) { e.mutable_workshop_delivered()->mutable_headcount()->set_parents(-1); },
       "FIELD_INVALID", "workshop_delivered.headcount.parents"},
      {"ratings sum too high",
       [](auto& e) { e.mutable_workshop_delivered()->mutable_feedback()->set_ratings_sum(51); },
       "FIELD_INVALID", "workshop_delivered.feedback.ratings_sum"},
      {"bad area", [](auto& e) { e.mutable_workshop_delivered()->set_area("north east"); },
       "FIELD_INVALID", "workshop_delivered.area"},
  };
  for (const auto& c : cases) {
    ev::OutreachEvent e = good;
    c.mutate(e);
    auto r = ValidateEvent(e, "derbyshire", now);
    ASSERT_TRUE(r.has_value()) << c.what;
    EXPECT_EQ(r->reason, c.reason) << c.what;
    if (std::string(c.reason) == "FIELD_INVALID" || !std::string(c.field).empty()) {
      EXPECT_EQ(r->field, c.field) << c.what;
    }
  }
  // Engagement numbers: reach above impressions, revision 0.
  ev::OutreachEvent eng =
      testing::Engagement("e2", "derbyshire", "a1", D(2024, 10, 1), 1, 100, 50, 5);
  ASSERT_FALSE(ValidateEvent(eng, "derbyshire", now).has_value());
  eng.mutable_engagement_reported()->set_reach(101);
  EXPECT_EQ(ValidateEvent(eng, "derbyshire", now)->field, "engagement_reported.reach");
  eng.mutable_engagement_reported()->set_reach(1);
  eng.mutable_engagement_reported()->set_revision(0);
  EXPECT_EQ(ValidateEvent(eng, "derbyshire", now)->field, "engagement_reported.revision");
}

// Metrics refuses every number its source service would have refused (common/bounds.h), every
// enum value the proto does not define, payload times ahead of the event, and a source that is
// not the service owning the event's kind.
TEST(MetricsEventValidationTest, RefusesWhatTheSourcesRefuse) {
  const absl::Time now = Utc(2024, 10, 2);
  testing::Delivery d;
  const ev::OutreachEvent good = testing::Delivered("e1", d);
  ASSERT_FALSE(ValidateEvent(good, "derbyshire", now).has_value());
  constexpr int kInt32Max = std::numeric_limits<int32_t>::max();
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
  const auto delivered = [](ev::OutreachEvent& e) { return e.mutable_workshop_delivered(); };
  struct Case {
    const char* what;
    std::function<void(ev::OutreachEvent&)> mutate;
    const char* field;
  } cases[] = {
      {"disclosures beyond int32 sums",
       [&](auto& e) { delivered(e)->set_safeguarding_disclosures(kInt32Max); },
       "workshop_delivered.safeguarding_disclosures"},
      {"disclosures above workshops' bound",
       [&](auto& e) { delivered(e)->set_safeguarding_disclosures(bounds::kMaxDisclosures + 1); },
       "workshop_delivered.safeguarding_disclosures"},
      {"responses above a headcount of 1",
       [&](auto& e) {
         auto* h = delivered(e)->mutable_headcount();
         h->clear_pupils();
         h->set_staff(1);
         auto* f = delivered(e)->mutable_feedback();
         f->set_responses(kInt32Max);
         f->set_ratings_count(kInt32Max);
         f->set_ratings_sum(kInt32Max);
       },
       "workshop_delivered.feedback.responses"},
      {"nobody attended",
       [&](auto& e) {
         auto* h = delivered(e)->mutable_headcount();
         h->clear_pupils();
         h->set_staff(0);
         delivered(e)->clear_feedback();
       },
       "workshop_delivered.headcount"},
      {"headcount total above workshops' bound",
       [&](auto& e) {
         auto* h = delivered(e)->mutable_headcount();
         h->set_parents(bounds::kMaxAdults);
         h->set_staff(bounds::kMaxAdults);
         h->set_community_members(bounds::kMaxAdults);
       },
       "workshop_delivered.headcount"},
      {"unknown venue kind",
       [&](auto& e) { delivered(e)->set_venue_kind(static_cast<cv1::VenueKind>(999)); },
       "workshop_delivered.venue_kind"},
      {"unknown audience",
       [&](auto& e) { delivered(e)->add_audiences(static_cast<cv1::WorkshopAudience>(999)); },
       "workshop_delivered.audiences[1]"},
      {"delivered a year after the event",
       [&](auto& e) {
         *delivered(e)->mutable_delivered_time() = ToProtoTime(now + absl::Hours(24 * 365));
       },
       "workshop_delivered.delivered_time"},
      {"unknown source", [](auto& e) { e.set_source("evil-system"); }, "source"},
      {"source not owning the kind", [](auto& e) { e.set_source("training"); }, "source"},
  };
  for (const auto& c : cases) {
    ev::OutreachEvent e = good;
    c.mutate(e);
    auto r = ValidateEvent(e, "derbyshire", now);
    ASSERT_TRUE(r.has_value()) << c.what;
    EXPECT_EQ(r->reason, "FIELD_INVALID") << c.what;
    EXPECT_EQ(r->field, c.field) << c.what;
  }

  ev::OutreachEvent venue =
      testing::Venue("v1", "derbyshire", "school-a", cv1::VENUE_KIND_PRIMARY, "north", now);
  ASSERT_FALSE(ValidateEvent(venue, "derbyshire", now).has_value());
  venue.mutable_venue_upserted()->set_pupil_roll(kInt32Max);
  EXPECT_EQ(ValidateEvent(venue, "derbyshire", now)->field, "venue_upserted.pupil_roll");
  venue.mutable_venue_upserted()->set_pupil_roll(bounds::kMaxPupilRoll);
  EXPECT_FALSE(ValidateEvent(venue, "derbyshire", now).has_value());
  venue.mutable_venue_upserted()->set_kind(static_cast<cv1::VenueKind>(999));
  EXPECT_EQ(ValidateEvent(venue, "derbyshire", now)->field, "venue_upserted.kind");

  // Campaign numbers: each report number and the reach target within campaigns' bounds.
  ev::OutreachEvent eng =
      testing::Engagement("e2", "derbyshire", "a1", D(2024, 10, 1), 1, 100, 50, 5);
  ASSERT_FALSE(ValidateEvent(eng, "derbyshire", now).has_value());
  eng.mutable_engagement_reported()->set_impressions(kInt64Max);
  EXPECT_EQ(ValidateEvent(eng, "derbyshire", now)->field, "engagement_reported.impressions");
  eng.mutable_engagement_reported()->set_impressions(bounds::kMaxReportNumber);
  EXPECT_FALSE(ValidateEvent(eng, "derbyshire", now).has_value());
  eng.mutable_engagement_reported()->set_engagements(bounds::kMaxReportNumber + 1);
  EXPECT_EQ(ValidateEvent(eng, "derbyshire", now)->field, "engagement_reported.engagements");
  ev::OutreachEvent state =
      testing::CampaignState("e3", "derbyshire", "c1", cv1::CAMPAIGN_STATE_ACTIVE,
                             cv1::CAMPAIGN_STATE_SCHEDULED, now, bounds::kMaxReachTarget);
  ASSERT_FALSE(ValidateEvent(state, "derbyshire", now).has_value());
  state.mutable_campaign_state_changed()->set_reach_target(kInt64Max);
  EXPECT_EQ(ValidateEvent(state, "derbyshire", now)->field, "campaign_state_changed.reach_target");
  state.mutable_campaign_state_changed()->set_reach_target(bounds::kMaxReachTarget);
  state.mutable_campaign_state_changed()->add_audiences(static_cast<cv1::CampaignAudience>(999));
  EXPECT_EQ(ValidateEvent(state, "derbyshire", now)->field, "campaign_state_changed.audiences[0]");
  state.mutable_campaign_state_changed()->clear_audiences();
  state.set_source("workshops");
  EXPECT_EQ(ValidateEvent(state, "derbyshire", now)->field, "source");
}

TEST(MetricsSettingsTest, ValidatesTargets) {
  v1::ForceSettings s;
  auto* t = s.add_training_targets();
  t->set_course("forces/derbyshire/courses/cyber");
  t->set_percent(80);
  EXPECT_TRUE(ValidateSettings(s, "derbyshire").ok());

  struct Case {
    const char* what;
    std::function<void(v1::ForceSettings&)> mutate;
    const char* field;
  } cases[] = {
      {"percent 0", [](auto& s) { s.mutable_training_targets(0)->set_percent(0); },
       "force_settings.training_targets[0].percent"},
      {"percent 101", [](auto& s) { s.mutable_training_targets(0)->set_percent(101); },
       "force_settings.training_targets[0].percent"},
      {"officers 0", [](auto& s) { s.mutable_training_targets(0)->set_officers(0); },
       "force_settings.training_targets[0].officers"},
      {"no target", [](auto& s) { s.mutable_training_targets(0)->clear_target(); },
       "force_settings.training_targets[0].target"},
      {"other force course",
       [](auto& s) { s.mutable_training_targets(0)->set_course("forces/notts/courses/c"); },
       "force_settings.training_targets[0].course"},
      {"duplicate course", [](auto& s) { *s.add_training_targets() = s.training_targets(0); },
       "force_settings.training_targets[1].course"},
      {"duplicate role",
       [](auto& s) {
         s.mutable_training_targets(0)->add_roles(cv1::OFFICER_ROLE_SUPERVISOR);
         s.mutable_training_targets(0)->add_roles(cv1::OFFICER_ROLE_SUPERVISOR);
       },
       "force_settings.training_targets[0].roles"},
      {"coverage 120", [](auto& s) { s.set_school_coverage_target_percent(120); },
       "force_settings.school_coverage_target_percent"},
      {"long name", [](auto& s) { s.set_display_name(std::string(201, 'x')); },
       "force_settings.display_name"},
  };
  for (const auto& c : cases) {
    v1::ForceSettings copy = s;
    c.mutate(copy);
    absl::Status st = ValidateSettings(copy, "derbyshire");
    ASSERT_FALSE(st.ok()) << c.what;
    EXPECT_EQ(FieldViolations(st)[0].field, c.field) << c.what;
  }
}

TEST(MetricsSettingsTest, TargetArithmetic) {
  v1::TrainingTargetStatus s;
  s.mutable_target()->set_percent(10);
  s.set_officers_in_scope(50);
  s.set_officers_current(4);
  FinishTargetStatus(&s);
  EXPECT_EQ(s.target_officers_required(), 5);
  EXPECT_FALSE(s.target_met());
  EXPECT_EQ(s.shortfall(), 1);
  EXPECT_DOUBLE_EQ(s.compliance_percent(), 8.0);
  s.mutable_target()->set_percent(33);
  s.set_officers_in_scope(10);  // 3.3 -> 4
  FinishTargetStatus(&s);
  EXPECT_EQ(s.target_officers_required(), 4);
  EXPECT_TRUE(s.target_met());
  EXPECT_EQ(s.shortfall(), 0);
}

TEST(MetricsGroupByTest, SupportMatrix) {
  EXPECT_TRUE(SupportsGroupBy(v1::METRIC_WORKSHOPS_DELIVERED, v1::GROUP_BY_TOPIC));
  EXPECT_FALSE(SupportsGroupBy(v1::METRIC_WORKSHOPS_DELIVERED, v1::GROUP_BY_CHANNEL));
  EXPECT_TRUE(SupportsGroupBy(v1::METRIC_SCHOOLS_COVERED, v1::GROUP_BY_AREA));
  EXPECT_FALSE(SupportsGroupBy(v1::METRIC_SCHOOLS_COVERED, v1::GROUP_BY_TOPIC));
  EXPECT_TRUE(SupportsGroupBy(v1::METRIC_OFFICERS_TRAINED, v1::GROUP_BY_ROLE));
  EXPECT_FALSE(SupportsGroupBy(v1::METRIC_EVENT_ATTENDANCE, v1::GROUP_BY_CHANNEL));
  EXPECT_TRUE(SupportsGroupBy(v1::METRIC_CAMPAIGN_REACH, v1::GROUP_BY_CHANNEL));
  EXPECT_TRUE(SupportsGroupBy(v1::METRIC_CAMPAIGN_REACH, v1::GROUP_BY_UNSPECIFIED));
}

TEST(MetricsEventValidationTest, ChecksTextIdsAndListsAsTheSourcesDo) {
  const absl::Time now = Utc(2024, 10, 2);
  testing::Delivery d;
  const ev::OutreachEvent good = testing::Delivered("e1", d);
  const auto delivered = [](ev::OutreachEvent& e) { return e.mutable_workshop_delivered(); };
  struct Case {
    const char* what;
    std::function<void(ev::OutreachEvent&)> mutate;
    const char* reason;
    const char* field;
  } cases[] = {
      {"a partner's phone number",
       [&](auto& e) { delivered(e)->set_partner_organisation("Call 07700 900123"); },
       "PERSONAL_DATA_REFUSED", "workshop_delivered.partner_organisation"},
      {"a partner with a line break",
       [&](auto& e) { delivered(e)->set_partner_organisation("Cyber\nTrust"); },
       "CONTROL_CHARACTER", "workshop_delivered.partner_organisation"},
      {"a blank partner", [&](auto& e) { delivered(e)->set_partner_organisation("  "); },
       "BLANK_TEXT", "workshop_delivered.partner_organisation"},
      {"a partner longer than a title",
       [&](auto& e) { delivered(e)->set_partner_organisation(std::string(201, 'p')); },
       "FIELD_INVALID", "workshop_delivered.partner_organisation"},
      {"an id the sources never give",
       [&](auto& e) { delivered(e)->set_venue("forces/derbyshire/venues/School_A"); },
       "FIELD_INVALID", "workshop_delivered.venue"},
      {"a subject id with a script",
       [](auto& e) { e.set_subject("forces/derbyshire/workshops/<script>"); }, "FIELD_INVALID",
       "subject"},
      {"no area", [&](auto& e) { delivered(e)->clear_area(); }, "FIELD_INVALID",
       "workshop_delivered.area"},
      {"a duplicate topic", [&](auto& e) { delivered(e)->add_topics(delivered(e)->topics(0)); },
       "FIELD_INVALID", "workshop_delivered.topics[1]"},
      {"more presenters than a workshop has",
       [&](auto& e) {
         for (int i = 0; i <= kMaxWorkshopRefs; ++i) {
           delivered(e)->add_presenters(absl::StrCat("forces/derbyshire/presenters/p", i));
         }
       },
       "FIELD_INVALID", "workshop_delivered.presenters"},
  };
  for (const auto& c : cases) {
    ev::OutreachEvent e = good;
    c.mutate(e);
    auto r = ValidateEvent(e, "derbyshire", now);
    ASSERT_TRUE(r.has_value()) << c.what;
    EXPECT_EQ(r->reason, c.reason) << c.what;
    EXPECT_EQ(r->field, c.field) << c.what;
  }
  // A partner organisation that is ordinary text passes, as in workshops.
  ev::OutreachEvent partner = good;
  delivered(partner)->set_partner_organisation("Derbyshire Cyber & Online Safety Trust");
  EXPECT_FALSE(ValidateEvent(partner, "derbyshire", now).has_value());

  // Campaign areas: at most campaigns' 50, distinct, each an area code.
  std::vector<std::string> areas;
  for (int i = 0; i < kMaxCampaignAreas; ++i) areas.push_back(absl::StrCat("area-", i));
  ev::OutreachEvent eng =
      testing::Engagement("e2", "derbyshire", "a1", D(2024, 10, 1), 1, 100, 50, 5, areas);
  EXPECT_FALSE(ValidateEvent(eng, "derbyshire", now).has_value());
  eng.mutable_engagement_reported()->add_areas("area-0");
  EXPECT_EQ(ValidateEvent(eng, "derbyshire", now)->field, "engagement_reported.areas");
  eng.mutable_engagement_reported()->mutable_areas()->RemoveLast();
  eng.mutable_engagement_reported()->set_areas(1, "area-0");
  EXPECT_EQ(ValidateEvent(eng, "derbyshire", now)->field, "engagement_reported.areas[1]");

  // Training: a module id as training allows it, a division as training requires it.
  ev::OutreachEvent module =
      testing::Envelope("e3", "derbyshire", "forces/derbyshire/enrolments/en1", now, "training");
  auto* m = module.mutable_module_completed();
  m->set_officer("forces/derbyshire/officers/o1");
  m->set_course("forces/derbyshire/courses/c1");
  m->set_module_id("intro");
  EXPECT_FALSE(ValidateEvent(module, "derbyshire", now).has_value());
  m->set_module_id("Intro Module");
  EXPECT_EQ(ValidateEvent(module, "derbyshire", now)->field, "module_completed.module_id");
  ev::OutreachEvent officer =
      testing::Officer("e4", "derbyshire", "o1", cv1::OFFICER_ROLE_CALL_HANDLER, "", true, now);
  EXPECT_EQ(ValidateEvent(officer, "derbyshire", now)->field, "officer_upserted.division");
}

TEST(MetricsDashboardJsonTest, EscapesMarkupSoItIsSafeInHtml) {
  v1::Dashboard d;
  d.set_name("forces/derbyshire/dashboard");
  d.set_force_display_name("<script>alert(1)</script> Derbyshire & Derby \xe2\x80\xa8");
  absl::StatusOr<std::string> json = DashboardJson(d);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->find('<'), std::string::npos) << *json;
  EXPECT_EQ(json->find('>'), std::string::npos);
  EXPECT_EQ(json->find('&'), std::string::npos);
  EXPECT_EQ(json->find("\xe2\x80\xa8"), std::string::npos);
  EXPECT_NE(
      json->find(R"(\u003cscript\u003ealert(1)\u003c/script\u003e Derbyshire \u0026 Derby \u2028)"),
      std::string::npos)
      << *json;
  // Still the same JSON: it parses back to the same display name.
  v1::Dashboard back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &back).ok());
  EXPECT_EQ(back.force_display_name(), d.force_display_name());
  EXPECT_EQ(back.name(), d.name());
}

}  // namespace
}  // namespace outreach::metrics
