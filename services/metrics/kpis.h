#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/rules/officer_standing.h"
#include "services/metrics/catalogue.h"
#include "services/metrics/domain.h"

// Dashboards and series from the plain rows the read model returns (read_model.h), without
// SQL: what counts, where, and at which instant.
namespace outreach::metrics {

// The instant a range is evaluated at (the end of its last day, or `now` if earlier) and the
// local day that instant closes.
rules::EvaluationPoint EvaluationOf(DayRange days, absl::Time now);

// Active officers with their enrolments: enough to give each one's standing at any instant.
struct TrainingSnapshot {
  struct Officer {
    int role = 0;
    std::string division;
  };
  std::map<std::string, Officer> active;  // active, not deleted
  absl::flat_hash_map<std::string, std::vector<rules::EnrolmentRecord>> records;

  rules::Standing StandingOf(const std::string& officer, rules::EvaluationPoint when,
                             const std::string& course) const;
};

// The status of `target` among the active officers of `area` ("" = all) at `when`.
v1::TrainingTargetStatus TargetStatus(const TrainingSnapshot& snapshot,
                                      const v1::TrainingTarget& target, const std::string& area,
                                      rules::EvaluationPoint when);

// Counts of a dashboard that are not rollup sums.
struct WorkshopCounts {
  int64_t scheduled = 0;
  int64_t schools_covered = 0;
  int64_t schools_total = 0;
  int64_t presenters_accredited = 0;
};
struct TrainingCounts {
  int64_t officers_trained = 0;
  int64_t course_completions = 0;
  int64_t enrolments_created = 0;
  int64_t certificates_expired = 0;
};
struct ActiveCampaign {
  std::vector<std::string> areas;  // empty = force-wide
  int64_t reach_target = 0;
};
using RollupSums = std::map<std::string, int64_t>;  // rollup key -> sum

void FillWorkshopKpis(const RollupSums& sums, const WorkshopCounts& counts,
                      double coverage_target_percent, v1::WorkshopKpis* out);
void FillTrainingKpis(const TrainingCounts& counts, const TrainingSnapshot& snapshot,
                      const v1::ForceSettings& settings, const std::string& area,
                      rules::EvaluationPoint when, v1::TrainingKpis* out);
void FillCampaignKpis(const RollupSums& sums, const std::vector<ActiveCampaign>& active,
                      const std::string& area, v1::CampaignKpis* out);

// --- series --------------------------------------------------------------------------------
// Sums per (group, bucket) of a series, numerators and denominators.
class SeriesGrid {
 public:
  explicit SeriesGrid(const std::vector<Bucket>& buckets);
  // The bucket containing `day` (YYYY-MM-DD); -1 before the first.
  int Index(const std::string& day) const;
  // Adds `v` to the bucket containing `day`; a day outside every bucket is ignored.
  void Add(const std::string& group, const std::string& day, double v, bool denominator = false);
  // One series per group (one empty-keyed series when ungrouped), values per `unit`.
  void Fill(MetricUnit unit, v1::GroupBy group_by, v1::QuerySeriesResponse* out);

 private:
  std::vector<double>& Row(std::map<std::string, std::vector<double>>& m, const std::string& group);
  const std::vector<Bucket>* buckets_;
  std::vector<std::string> starts_;  // bucket start days, formatted
  std::map<std::string, std::vector<double>> values_;
  std::map<std::string, std::vector<double>> denominators_;
};

struct SchoolVisit {
  std::string day;
  std::string venue;
  std::string area;
};
// A certificate or expiry of one officer on a day.
struct OfficerDay {
  std::string day;
  std::string officer;
  std::string division;
  int role = 0;
};
struct RollupCell {
  std::string day;
  std::string area;
  std::string dim;
  std::string metric;
  int64_t value = 0;
};

// Distinct schools per group and bucket.
void AddSchoolsCovered(const std::vector<SchoolVisit>& visits, v1::GroupBy group_by,
                       SeriesGrid* grid);
// Certificates or expiries per group and bucket; `distinct_officers` counts each officer once
// per group and bucket.
void AddOfficerDays(const std::vector<OfficerDay>& rows, bool distinct_officers,
                    v1::GroupBy group_by, SeriesGrid* grid);
// Officers current at each bucket's evaluation instant; with `target`, only its roles, each
// group's officers in scope as the denominator.
void AddOfficersCurrent(const TrainingSnapshot& snapshot, const std::string& course,
                        const v1::TrainingTarget* target, const std::string& area,
                        v1::GroupBy group_by, const std::vector<Bucket>& buckets, absl::Time now,
                        SeriesGrid* grid);
// Rollup sums of `def` (numerator, and denominator rows as denominators).
void AddRollupCells(const std::vector<RollupCell>& cells, const MetricDef& def,
                    v1::GroupBy group_by, SeriesGrid* grid);

// The rollup cells a series of `def` reads.
struct RollupSelection {
  std::string dim_kind;
  std::string scope;
};
RollupSelection SelectRollups(const MetricDef& def, v1::GroupBy group_by, const std::string& area);

// The training target a COMPLIANCE_PERCENT series follows: the target of `course`, else the
// first one; a course without a target gets a bare one (no roles). nullopt when none applies.
std::optional<v1::TrainingTarget> SeriesTarget(const v1::ForceSettings& settings,
                                               const std::string& course);

}  // namespace outreach::metrics
