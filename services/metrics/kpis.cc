#include "services/metrics/kpis.h"

#include <algorithm>
#include <limits>
#include <set>
#include <tuple>

#include "common/bounds.h"
#include "common/calendar.h"

namespace outreach::metrics {
namespace {

double Ratio(int64_t num, int64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

// A share of impressions: campaigns lets engagements and clicks exceed impressions (and sums
// saturate), but a rate is a fraction.
double Rate(int64_t num, int64_t den) { return std::clamp(Ratio(num, den), 0.0, 1.0); }

int64_t Get(const RollupSums& sums, const char* key) {
  auto it = sums.find(key);
  return it == sums.end() ? int64_t{0} : it->second;
}

// The confidence counts are int32 on the wire: clamped rather than truncated.
int32_t Get32(const RollupSums& sums, const char* key) {
  return static_cast<int32_t>(std::clamp<int64_t>(
      Get(sums, key), std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()));
}

bool RoleInScope(const v1::TrainingTarget& t, int role) {
  return t.roles_size() == 0 ||
         std::find(t.roles().begin(), t.roles().end(), role) != t.roles().end();
}

std::string RoleName(int role) {
  return cv1::OfficerRole_Name(static_cast<cv1::OfficerRole>(role));
}

// The group of an officer's row: its division or role name, or "" when not grouped by those.
std::string OfficerGroup(v1::GroupBy g, const std::string& division, int role) {
  if (g == v1::GROUP_BY_AREA) return division;
  if (g == v1::GROUP_BY_ROLE) return RoleName(role);
  return "";
}

void Count(rules::Standing s, v1::TrainingTargetStatus* st) {
  st->set_officers_in_scope(st->officers_in_scope() + 1);
  switch (s) {
    case rules::Standing::kCurrent:
      st->set_officers_current(st->officers_current() + 1);
      break;
    case rules::Standing::kOverdue:
      st->set_officers_overdue(st->officers_overdue() + 1);
      break;
    case rules::Standing::kInProgress:
      st->set_officers_in_progress(st->officers_in_progress() + 1);
      break;
    case rules::Standing::kExpired:
      st->set_officers_expired(st->officers_expired() + 1);
      break;
    case rules::Standing::kNeverTrained:
      st->set_officers_never_trained(st->officers_never_trained() + 1);
      break;
  }
}

}  // namespace

rules::EvaluationPoint EvaluationOf(DayRange days, absl::Time now) {
  return {std::min(StartOfLocalDay(days.end + 1), now), std::min(days.end, LocalDay(now))};
}

rules::Standing TrainingSnapshot::StandingOf(const std::string& officer,
                                             rules::EvaluationPoint when,
                                             const std::string& course) const {
  auto it = records.find(officer);
  if (it == records.end()) return rules::Standing::kNeverTrained;
  return rules::PositionOf(it->second, when, course).standing;
}

v1::TrainingTargetStatus TargetStatus(const TrainingSnapshot& s, const v1::TrainingTarget& target,
                                      const std::string& area, rules::EvaluationPoint when) {
  v1::TrainingTargetStatus st;
  *st.mutable_target() = target;
  for (const auto& [officer, o] : s.active) {
    if (!area.empty() && o.division != area) continue;
    if (!RoleInScope(target, o.role)) continue;
    Count(s.StandingOf(officer, when, target.course()), &st);
  }
  FinishTargetStatus(&st);
  return st;
}

void FillWorkshopKpis(const RollupSums& sums, const WorkshopCounts& counts,
                      double coverage_target_percent, v1::WorkshopKpis* w) {
  w->set_workshops_delivered(Get(sums, rollup::kDelivered));
  w->set_workshops_cancelled(Get(sums, rollup::kCancelled));
  w->set_pupils_reached(Get(sums, rollup::kPupils));
  w->set_parents_reached(Get(sums, rollup::kParents));
  w->set_staff_reached(Get(sums, rollup::kStaff));
  w->set_community_reached(Get(sums, rollup::kCommunity));
  w->set_people_reached(Get(sums, rollup::kPeople));
  w->set_safeguarding_disclosures(Get(sums, rollup::kDisclosures));
  w->set_feedback_responses(Get(sums, rollup::kResponses));
  w->set_mean_rating(Ratio(Get(sums, rollup::kRatingsSum), Get(sums, rollup::kRatingsCount)));
  w->mutable_know_what_to_do()->set_before(Get32(sums, rollup::kWhatBefore));
  w->mutable_know_what_to_do()->set_after(Get32(sums, rollup::kWhatAfter));
  w->mutable_know_who_to_tell()->set_before(Get32(sums, rollup::kWhoBefore));
  w->mutable_know_who_to_tell()->set_after(Get32(sums, rollup::kWhoAfter));
  w->set_workshops_scheduled(counts.scheduled);
  w->set_schools_covered(counts.schools_covered);
  w->set_schools_total(counts.schools_total);
  w->set_schools_covered_percent(
      counts.schools_total == 0
          ? 0.0
          : std::min(100.0, 100.0 * Ratio(counts.schools_covered, counts.schools_total)));
  w->set_school_coverage_target_percent(coverage_target_percent);
  w->set_presenters_accredited(counts.presenters_accredited);
}

void FillTrainingKpis(const TrainingCounts& counts, const TrainingSnapshot& snapshot,
                      const v1::ForceSettings& settings, const std::string& area,
                      rules::EvaluationPoint when, v1::TrainingKpis* t) {
  t->set_officers_trained(counts.officers_trained);
  t->set_course_completions(counts.course_completions);
  t->set_enrolments_created(counts.enrolments_created);
  t->set_certificates_expired(counts.certificates_expired);
  int64_t active = 0, current = 0;
  for (const auto& [officer, o] : snapshot.active) {
    if (!area.empty() && o.division != area) continue;
    ++active;
    if (snapshot.StandingOf(officer, when, "") == rules::Standing::kCurrent) ++current;
  }
  t->set_officers_active(active);
  t->set_officers_current(current);
  for (const auto& target : settings.training_targets()) {
    *t->add_targets() = TargetStatus(snapshot, target, area, when);
  }
}

void FillCampaignKpis(const RollupSums& sums, const std::vector<ActiveCampaign>& active,
                      const std::string& area, v1::CampaignKpis* c) {
  c->set_activities_published(Get(sums, rollup::kPublished));
  c->set_impressions(Get(sums, rollup::kImpressions));
  c->set_reach(Get(sums, rollup::kReach));
  c->set_engagements(Get(sums, rollup::kEngagements));
  c->set_clicks(Get(sums, rollup::kClicks));
  c->set_shares(Get(sums, rollup::kShares));
  c->set_attendance(Get(sums, rollup::kAttendance));
  c->set_copies_distributed(Get(sums, rollup::kCopies));
  c->set_engagement_rate(Rate(c->engagements(), c->impressions()));
  c->set_click_through_rate(Rate(c->clicks(), c->impressions()));
  int64_t campaigns = 0, reach_target = 0;
  for (const ActiveCampaign& a : active) {
    // A force-wide campaign (no areas) counts in every area.
    if (!area.empty() && !a.areas.empty() &&
        std::find(a.areas.begin(), a.areas.end(), area) == a.areas.end()) {
      continue;
    }
    ++campaigns;
    reach_target = bounds::SaturatingAdd(reach_target, a.reach_target);
  }
  c->set_campaigns_active(campaigns);
  c->set_reach_target(reach_target);
  c->set_reach_target_percent(reach_target == 0 ? 0.0 : 100.0 * Ratio(c->reach(), reach_target));
}

// --- series --------------------------------------------------------------------------------
SeriesGrid::SeriesGrid(const std::vector<Bucket>& buckets) : buckets_(&buckets) {
  for (const auto& b : buckets) starts_.push_back(FormatDay(b.days.start));
}

int SeriesGrid::Index(const std::string& day) const {
  auto it = std::upper_bound(starts_.begin(), starts_.end(), day);
  return static_cast<int>(it - starts_.begin()) - 1;
}

std::vector<double>& SeriesGrid::Row(std::map<std::string, std::vector<double>>& m,
                                     const std::string& group) {
  auto& row = m[group];
  if (row.empty()) row.assign(buckets_->size(), 0.0);
  return row;
}

void SeriesGrid::Add(const std::string& group, const std::string& day, double v, bool denominator) {
  const int i = Index(day);
  if (i < 0) return;
  Row(denominator ? denominators_ : values_, group)[i] += v;
  if (!denominator) Row(denominators_, group);
}

void SeriesGrid::Fill(MetricUnit unit, v1::GroupBy group_by, v1::QuerySeriesResponse* out) {
  if (group_by == v1::GROUP_BY_UNSPECIFIED) {
    Row(values_, "");
    Row(denominators_, "");
  }
  const std::vector<Bucket>& buckets = *buckets_;
  for (auto& [group, values] : values_) {
    v1::Series* s = out->add_series();
    s->set_group_key(group);
    const auto& den = Row(denominators_, group);
    for (size_t i = 0; i < buckets.size(); ++i) {
      v1::Point* p = s->add_points();
      *p->mutable_bucket()->mutable_start_date() = ToProtoDate(buckets[i].days.start);
      *p->mutable_bucket()->mutable_end_date() = ToProtoDate(buckets[i].days.end);
      p->set_label(buckets[i].label);
      p->set_value(PointValue(unit, values[i], den[i]));
    }
  }
}

void AddSchoolsCovered(const std::vector<SchoolVisit>& visits, v1::GroupBy g, SeriesGrid* grid) {
  std::set<std::tuple<std::string, int, std::string>> seen;  // group, bucket, venue
  for (const SchoolVisit& v : visits) {
    const std::string group = g == v1::GROUP_BY_AREA ? v.area : "";
    if (seen.insert({group, grid->Index(v.day), v.venue}).second) grid->Add(group, v.day, 1);
  }
}

void AddOfficerDays(const std::vector<OfficerDay>& rows, bool distinct_officers, v1::GroupBy g,
                    SeriesGrid* grid) {
  std::set<std::tuple<std::string, int, std::string>> seen;  // group, bucket, officer
  for (const OfficerDay& r : rows) {
    const std::string group = OfficerGroup(g, r.division, r.role);
    if (distinct_officers && !seen.insert({group, grid->Index(r.day), r.officer}).second) {
      continue;
    }
    grid->Add(group, r.day, 1);
  }
}

void AddOfficersCurrent(const TrainingSnapshot& snapshot, const std::string& course,
                        const v1::TrainingTarget* target, const std::string& area, v1::GroupBy g,
                        const std::vector<Bucket>& buckets, absl::Time now, SeriesGrid* grid) {
  for (const Bucket& bucket : buckets) {
    const rules::EvaluationPoint when = EvaluationOf(bucket.days, now);
    std::map<std::string, std::pair<int64_t, int64_t>> per_group;  // current, in scope
    for (const auto& [officer, o] : snapshot.active) {
      if (!area.empty() && o.division != area) continue;
      if (target != nullptr && !RoleInScope(*target, o.role)) continue;
      auto& cell = per_group[OfficerGroup(g, o.division, o.role)];
      ++cell.second;
      if (snapshot.StandingOf(officer, when, course) == rules::Standing::kCurrent) ++cell.first;
    }
    const std::string day = FormatDay(bucket.days.start);
    for (const auto& [group, cell] : per_group) {
      grid->Add(group, day, static_cast<double>(cell.first));
      if (target != nullptr) grid->Add(group, day, static_cast<double>(cell.second), true);
    }
  }
}

RollupSelection SelectRollups(const MetricDef& def, v1::GroupBy g, const std::string& area) {
  RollupSelection s;
  s.dim_kind = g == v1::GROUP_BY_TOPIC      ? "topic"
               : g == v1::GROUP_BY_AUDIENCE ? "audience"
               : g == v1::GROUP_BY_CHANNEL  ? "channel"
                                            : "";
  // Force totals (scope F) exist per day for every metric without a dimension, and for
  // campaign metrics with one; the rest sums the per-area rows.
  const bool campaign = def.family == MetricFamily::kCampaign;
  // assign(count, char): GCC 12's -Wrestrict misfires on operator=(const char*) here at -O3.
  s.scope.assign(1, (!area.empty() || g == v1::GROUP_BY_AREA || (!campaign && !s.dim_kind.empty()))
                        ? 'A'
                        : 'F');
  return s;
}

void AddRollupCells(const std::vector<RollupCell>& cells, const MetricDef& def, v1::GroupBy g,
                    SeriesGrid* grid) {
  const bool dimensioned =
      g == v1::GROUP_BY_TOPIC || g == v1::GROUP_BY_AUDIENCE || g == v1::GROUP_BY_CHANNEL;
  for (const RollupCell& c : cells) {
    std::string group;
    if (g == v1::GROUP_BY_AREA) group = c.area == "*" ? "" : c.area;
    if (dimensioned) group = c.dim;
    const bool is_den = def.denominator != nullptr && c.metric == def.denominator;
    grid->Add(group, c.day, static_cast<double>(c.value), is_den);
  }
}

std::optional<v1::TrainingTarget> SeriesTarget(const v1::ForceSettings& settings,
                                               const std::string& course) {
  for (const auto& t : settings.training_targets()) {
    if (course.empty() || t.course() == course) return t;
  }
  if (course.empty()) return std::nullopt;
  v1::TrainingTarget bare;
  bare.set_course(course);
  return bare;
}

}  // namespace outreach::metrics
