#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "outreach/events/v1/events.pb.h"
#include "outreach/metrics/v1/metrics.pb.h"
#include "services/metrics/catalogue.h"

// Rules of the metrics service without network or storage: periods and buckets of the local
// calendar, event validation and settings validation (metric support: catalogue.h).
namespace outreach::metrics {

namespace ev = ::outreach::events::v1;
namespace cv1 = ::outreach::common::v1;

inline constexpr char kErrorDomain[] = "outreach.metrics.v1";

// An inclusive range of local days.
struct DayRange {
  absl::CivilDay start;
  absl::CivilDay end;
  bool operator==(const DayRange&) const = default;
};

// Longest DAY_RANGE period and most buckets of a series.
inline constexpr int kMaxPeriodDays = 3660;
inline constexpr int kMaxBuckets = 2000;
// Limits of what events carry, as the sources limit their input: topics and presenters of a
// workshop (workshops' kMaxListRefs), a campaign's areas, a title's characters.
inline constexpr int kMaxWorkshopRefs = 10;
inline constexpr int kMaxCampaignAreas = 50;
inline constexpr size_t kMaxEventTitle = 200;

DayRange IsoWeekOf(absl::CivilDay day);
DayRange MonthOf(absl::CivilDay day);
// Fixed terms: autumn 1 Sep-31 Dec, spring 1 Jan-31 Mar, summer 1 Apr-31 Aug.
DayRange TermOf(absl::CivilDay day);
DayRange AcademicYearOfDay(absl::CivilDay day);
DayRange FinancialYearOfDay(absl::CivilDay day);

// Resolves a Period to its local days. `today` is the local day of the server's clock (used
// when anchor_date is unset). Errors name fields under `field` (e.g. "period.kind").
absl::StatusOr<DayRange> ResolvePeriod(absl::string_view field, const v1::Period& period,
                                       absl::CivilDay today);

// Parses a DateRange (both dates required, start <= end); errors name `field`.start_date etc.
absl::StatusOr<DayRange> ParseDateRange(absl::string_view field, const cv1::DateRange& range);

// One bucket of a series.
struct Bucket {
  DayRange days;
  std::string label;
};
// Buckets of `granularity` covering `range`, clipped to it. INVALID_ARGUMENT naming
// "granularity" when unspecified, "date_range" when more than kMaxBuckets.
absl::StatusOr<std::vector<Bucket>> MakeBuckets(v1::Granularity granularity, DayRange range);
// "2024-W36": the ISO week-numbering year and week of `day`.
std::string IsoWeekLabel(absl::CivilDay day);

// An optional area code: empty, or 1-32 characters of [A-Za-z0-9-].
bool IsValidArea(absl::string_view area);

// Why an event is refused; `reason` is a MetricsErrorReason or ErrorReason name without prefix.
struct Rejection {
  std::string reason;
  std::string field;  // for FIELD_INVALID
};
// Validates one event of an IngestEvents call for `force` at server time `now`. nullopt = valid.
std::optional<Rejection> ValidateEvent(const ev::OutreachEvent& event, absl::string_view force,
                                       absl::Time now);
// Event ids: 1-64 printable ASCII characters without spaces.
bool IsValidEventId(absl::string_view id);

// The local instant an event counts at: its payload's own time when it has one, else
// occurred_time. Assumes a validated event.
absl::Time EventTime(const ev::OutreachEvent& event);

// School kinds for coverage.
bool IsSchoolKind(cv1::VenueKind kind);

// Validates the fields of `settings` named in `paths` for `force` (targets, percentages,
// display name). Errors name "force_settings.<field>".
absl::Status ValidateSettings(const v1::ForceSettings& settings, absl::string_view force);

// Fills the derived fields of a target status (compliance, required, met, shortfall) from
// its counts.
void FinishTargetStatus(v1::TrainingTargetStatus* status);

// The id segment of a resource name in `force`: "forces/derbyshire/venues/v1" -> "v1".
// The dashboard as JSON for the HTTP route, safe to embed in HTML: <, > and & are escaped
// (\u003c, \u003e, \u0026) wherever they occur, which protobuf's printer does not do.
absl::StatusOr<std::string> DashboardJson(const v1::Dashboard& dashboard);

std::string LastSegment(absl::string_view name);

}  // namespace outreach::metrics
