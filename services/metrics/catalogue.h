#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "outreach/metrics/v1/metrics.pb.h"

// The metric catalogue: for every series metric its family, unit, supported group-bys and how
// it is computed. Request validation (metrics_service.cc) and the series read (store.cc) both
// read this one table, so a metric is added in one place.
namespace outreach::metrics {

// Rollup figures: what the projection writes and the reads sum. Each is a column of
// metrics_figures (schema.cc), so a figure added here needs a migration adding its column.
namespace rollup {
inline constexpr char kDelivered[] = "w_delivered";
inline constexpr char kCancelled[] = "w_cancelled";
inline constexpr char kPupils[] = "w_pupils";
inline constexpr char kParents[] = "w_parents";
inline constexpr char kStaff[] = "w_staff";
inline constexpr char kCommunity[] = "w_community";
inline constexpr char kPeople[] = "w_people";
inline constexpr char kDisclosures[] = "w_disclosures";
inline constexpr char kResponses[] = "w_responses";
inline constexpr char kRatingsCount[] = "w_ratings_count";
inline constexpr char kRatingsSum[] = "w_ratings_sum";
inline constexpr char kWhatBefore[] = "w_kwtd_before";
inline constexpr char kWhatAfter[] = "w_kwtd_after";
inline constexpr char kWhoBefore[] = "w_kwtt_before";
inline constexpr char kWhoAfter[] = "w_kwtt_after";
inline constexpr char kImpressions[] = "c_impressions";
inline constexpr char kReach[] = "c_reach";
inline constexpr char kEngagements[] = "c_engagements";
inline constexpr char kClicks[] = "c_clicks";
inline constexpr char kShares[] = "c_shares";
inline constexpr char kAttendance[] = "c_attendance";
inline constexpr char kCopies[] = "c_copies";
inline constexpr char kPublished[] = "c_published";

// Every figure, in column order: a rollup row holds one number of each.
inline constexpr const char* kFigures[] = {
    kDelivered, kCancelled,   kPupils,     kParents,      kStaff,      kCommunity,
    kPeople,    kDisclosures, kResponses,  kRatingsCount, kRatingsSum, kWhatBefore,
    kWhatAfter, kWhoBefore,   kWhoAfter,   kImpressions,  kReach,      kEngagements,
    kClicks,    kShares,      kAttendance, kCopies,       kPublished};
inline constexpr int kFigureCount = sizeof(kFigures) / sizeof(kFigures[0]);

// The column of `figure` in kFigures; -1 for a name that is not a figure.
int FigureIndex(absl::string_view figure);
}  // namespace rollup

enum class MetricFamily { kWorkshop, kTraining, kCampaign };

// What a point's value is: a count, or a quotient of two sums (a mean, a rate, a percent).
enum class MetricUnit { kCount, kMeanRating, kRate, kPercent };

// Where a metric's numbers come from.
enum class Computation {
  kRollupSum,        // sum of the rollup `numerator` (over `denominator` for a quotient unit)
  kSchoolsCovered,   // distinct schools visited per bucket
  kOfficersTrained,  // distinct officers completing per bucket
  kCompletions,      // certificates issued per bucket
  kExpiries,         // certificates expired per bucket
  kOfficersCurrent,  // officers with a current certificate at each bucket's end
  kCompliance,       // percent of a target's officers current at each bucket's end
};

struct MetricDef {
  v1::Metric metric;
  MetricFamily family;
  MetricUnit unit;
  uint32_t group_bys;  // bit (1 << GroupBy) for each supported GroupBy
  Computation computation;
  const char* numerator = nullptr;    // rollup key, for kRollupSum
  const char* denominator = nullptr;  // rollup key, for a quotient unit of kRollupSum
};

// Every series metric, in enum order.
absl::Span<const MetricDef> MetricCatalogue();
// The definition of `metric`; nullptr for METRIC_UNSPECIFIED and unknown values.
const MetricDef* FindMetric(v1::Metric metric);

// Whether `metric` may be grouped by `group_by` (GROUP_BY_UNSPECIFIED always may, for a
// catalogued metric).
bool SupportsGroupBy(v1::Metric metric, v1::GroupBy group_by);

// A point's value from the sums of a bucket: the numerator for a count, else the quotient
// (0 when the denominator is 0), times 100 for a percent.
double PointValue(MetricUnit unit, double numerator, double denominator);

}  // namespace outreach::metrics
