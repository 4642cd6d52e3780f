#include "services/metrics/catalogue.h"

#include <algorithm>
#include <initializer_list>

namespace outreach::metrics {
namespace {

constexpr uint32_t By(std::initializer_list<v1::GroupBy> groups) {
  uint32_t bits = 0;
  for (v1::GroupBy g : groups) bits |= 1u << static_cast<int>(g);
  return bits;
}

using F = MetricFamily;
using U = MetricUnit;
using C = Computation;
constexpr uint32_t kWorkshopAll =
    By({v1::GROUP_BY_AREA, v1::GROUP_BY_TOPIC, v1::GROUP_BY_AUDIENCE});
constexpr uint32_t kWorkshopTopic = By({v1::GROUP_BY_AREA, v1::GROUP_BY_TOPIC});
constexpr uint32_t kTraining = By({v1::GROUP_BY_AREA, v1::GROUP_BY_ROLE});
constexpr uint32_t kCampaign = By({v1::GROUP_BY_AREA, v1::GROUP_BY_AUDIENCE, v1::GROUP_BY_CHANNEL});
constexpr uint32_t kEventAudience = By({v1::GROUP_BY_AREA, v1::GROUP_BY_AUDIENCE});

const MetricDef kCatalogue[] = {
    {v1::METRIC_WORKSHOPS_DELIVERED, F::kWorkshop, U::kCount, kWorkshopAll, C::kRollupSum,
     rollup::kDelivered},
    {v1::METRIC_PUPILS_REACHED, F::kWorkshop, U::kCount, kWorkshopTopic, C::kRollupSum,
     rollup::kPupils},
    {v1::METRIC_PARENTS_REACHED, F::kWorkshop, U::kCount, kWorkshopTopic, C::kRollupSum,
     rollup::kParents},
    {v1::METRIC_STAFF_REACHED, F::kWorkshop, U::kCount, kWorkshopTopic, C::kRollupSum,
     rollup::kStaff},
    {v1::METRIC_PEOPLE_REACHED, F::kWorkshop, U::kCount, kWorkshopAll, C::kRollupSum,
     rollup::kPeople},
    {v1::METRIC_SCHOOLS_COVERED, F::kWorkshop, U::kCount, By({v1::GROUP_BY_AREA}),
     C::kSchoolsCovered},
    {v1::METRIC_SAFEGUARDING_DISCLOSURES, F::kWorkshop, U::kCount, kWorkshopTopic, C::kRollupSum,
     rollup::kDisclosures},
    {v1::METRIC_FEEDBACK_MEAN_RATING, F::kWorkshop, U::kMeanRating, kWorkshopTopic, C::kRollupSum,
     rollup::kRatingsSum, rollup::kRatingsCount},
    {v1::METRIC_OFFICERS_TRAINED, F::kTraining, U::kCount, kTraining, C::kOfficersTrained},
    {v1::METRIC_COURSE_COMPLETIONS, F::kTraining, U::kCount, kTraining, C::kCompletions},
    {v1::METRIC_OFFICERS_CURRENT, F::kTraining, U::kCount, kTraining, C::kOfficersCurrent},
    {v1::METRIC_COMPLIANCE_PERCENT, F::kTraining, U::kPercent, kTraining, C::kCompliance},
    {v1::METRIC_CERTIFICATES_EXPIRED, F::kTraining, U::kCount, kTraining, C::kExpiries},
    {v1::METRIC_CAMPAIGN_IMPRESSIONS, F::kCampaign, U::kCount, kCampaign, C::kRollupSum,
     rollup::kImpressions},
    {v1::METRIC_CAMPAIGN_REACH, F::kCampaign, U::kCount, kCampaign, C::kRollupSum, rollup::kReach},
    {v1::METRIC_CAMPAIGN_ENGAGEMENTS, F::kCampaign, U::kCount, kCampaign, C::kRollupSum,
     rollup::kEngagements},
    {v1::METRIC_CAMPAIGN_CLICKS, F::kCampaign, U::kCount, kCampaign, C::kRollupSum,
     rollup::kClicks},
    {v1::METRIC_CAMPAIGN_SHARES, F::kCampaign, U::kCount, kCampaign, C::kRollupSum,
     rollup::kShares},
    {v1::METRIC_CAMPAIGN_ENGAGEMENT_RATE, F::kCampaign, U::kRate, kCampaign, C::kRollupSum,
     rollup::kEngagements, rollup::kImpressions},
    {v1::METRIC_EVENT_ATTENDANCE, F::kCampaign, U::kCount, kEventAudience, C::kRollupSum,
     rollup::kAttendance},
    {v1::METRIC_LEAFLETS_DISTRIBUTED, F::kCampaign, U::kCount, kEventAudience, C::kRollupSum,
     rollup::kCopies},
    {v1::METRIC_ACTIVITIES_PUBLISHED, F::kCampaign, U::kCount, kCampaign, C::kRollupSum,
     rollup::kPublished},
};

}  // namespace

absl::Span<const MetricDef> MetricCatalogue() { return kCatalogue; }

namespace rollup {
int FigureIndex(absl::string_view figure) {
  for (int i = 0; i < kFigureCount; ++i) {
    if (figure == kFigures[i]) return i;
  }
  return -1;
}
}  // namespace rollup

const MetricDef* FindMetric(v1::Metric metric) {
  const auto* it = std::find_if(std::begin(kCatalogue), std::end(kCatalogue),
                                [&](const MetricDef& d) { return d.metric == metric; });
  return it == std::end(kCatalogue) ? nullptr : it;
}

bool SupportsGroupBy(v1::Metric metric, v1::GroupBy group_by) {
  const MetricDef* def = FindMetric(metric);
  if (def == nullptr) return false;
  if (group_by == v1::GROUP_BY_UNSPECIFIED) return true;
  return group_by > 0 && group_by < 32 && (def->group_bys & (1u << static_cast<int>(group_by)));
}

double PointValue(MetricUnit unit, double numerator, double denominator) {
  if (unit == MetricUnit::kCount) return numerator;
  if (denominator == 0) return 0.0;
  return (unit == MetricUnit::kPercent ? 100.0 : 1.0) * numerator / denominator;
}

}  // namespace outreach::metrics
