#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "outreach/events/v1/events.pb.h"
#include "services/metrics/catalogue.h"

// The projection of accepted events onto the metrics read model, without SQL: each event
// becomes plain rows for the latest-state tables and deltas for the rollups. store.cc maps the
// rows to SQL; the decisions (what counts where, which report replaces which) are made here.
namespace outreach::metrics {

namespace ev = ::outreach::events::v1;

// One rollup cell of a force: a row of metrics_figures, holding one number per figure. Scope
// "A" rows are per area (a campaign counts in each area it targets, a force-wide one in area
// "*", which every area filter includes); scope "F" rows (area "") are force totals per day, so
// a multi-area campaign counts once and a force dashboard reads one row per day. dim_kind "" is
// the undimensioned total. Scope "T" (day "") is the force's all-time total: the sum of its F
// rows, which bounds every cell (all figures are non-negative).
struct RollupKey {
  std::string dim_kind;  // "", "topic", "audience", "channel"
  std::string scope;     // "A", "F" or "T"
  std::string area;
  std::string dim;
  std::string day;  // local day, YYYY-MM-DD
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const RollupKey&) const = default;
};

// The figures of one cell, in rollup::kFigures order.
using Figures = std::array<int64_t, rollup::kFigureCount>;

// Rollup deltas summed per cell, so that a batch costs one upsert per touched cell. A delta to
// an undimensioned force total (scope F, dim_kind "") also goes to the all-time total (T).
class RollupDeltas {
 public:
  // Adds `delta` to `figure` (a rollup:: key) of `cell`; a zero delta touches nothing.
  void Add(const char* figure, const RollupKey& cell, int64_t delta);
  const std::map<RollupKey, Figures>& cells() const { return cells_; }
  // The delta of `figure` in `cell` (0 when untouched).
  int64_t Get(const char* figure, const RollupKey& cell) const;
  // The deltas of the all-time total (zero when untouched).
  Figures Totals() const;
  // Adds every cell of `other`.
  void Merge(const RollupDeltas& other);

  static RollupKey TotalKey() { return {"", "T", "", "", ""}; }

 private:
  std::map<RollupKey, Figures> cells_;
};

// --- latest-state rows (times as micros UTC, days as YYYY-MM-DD) ---------------------------
struct VenueRow {
  std::string venue;
  int kind = 0;
  std::string area;
  bool deleted = false;
  int64_t occurred = 0;
};
struct PresenterRow {
  std::string presenter;
  int state = 0;
  std::optional<int64_t> expire;
  int64_t occurred = 0;
};
// A delivered workshop overwrites any state; other states only replace older, undelivered ones.
struct WorkshopRow {
  std::string workshop;
  std::string state;  // SCHEDULED, POSTPONED, CANCELLED, DELIVERED
  std::string area;
  std::optional<int64_t> start;
  int64_t occurred = 0;
};
struct SchoolVisitRow {
  std::string workshop;
  std::string venue;
  std::string area;
  std::string day;
};
struct OfficerRow {
  std::string officer;
  int role = 0;
  std::string division;
  bool active = false;
  bool deleted = false;
  int64_t occurred = 0;
};
// Created once; `open` follows the latest occurred_time; the due day is set when set_due, the
// created day (with role and division) when known.
struct EnrolmentRow {
  std::string enrolment;
  std::string officer;
  std::string course;
  int role = 0;
  std::string division;
  bool open = false;
  std::optional<std::string> due_day;
  bool set_due = false;
  std::optional<std::string> created_day;
  int64_t occurred = 0;
};
struct DueDateRow {
  std::string enrolment;
  std::optional<std::string> due_day;
};
struct CertificateRow {
  std::string enrolment;
  std::string officer;
  std::string course;
  int role = 0;
  std::string division;
  int64_t completed = 0;
  std::string completed_day;
  std::optional<int64_t> valid_until;
};
struct ExpiryRow {
  std::string enrolment;
  std::string officer;
  std::string course;
  int role = 0;
  std::string division;
  std::string day;
};
struct CampaignChange {
  std::string campaign;
  int state = 0;
  bool active = false;
  bool was_active = false;  // previous_state was ACTIVE
  std::string areas;        // sorted, comma-joined
  int64_t reach_target = 0;
  std::string day;
  int64_t occurred = 0;
};

// Where campaign numbers of one day count: every scope, area and dimension.
struct CampaignDims {
  int channel = 0;
  std::vector<std::string> audiences;  // CampaignAudience names, sorted
  std::vector<std::string> areas;      // sorted; empty = force-wide
};
// One engagement report: the numbers of an activity for a day, at a revision.
struct EngagementReport {
  std::string activity;
  std::string day;
  int64_t revision = 0;
  CampaignDims dims;
  // impressions, reach, engagements, clicks, shares, attendance, copies.
  std::array<int64_t, 7> values{};
};

using ProjectedRow =
    std::variant<VenueRow, PresenterRow, WorkshopRow, SchoolVisitRow, OfficerRow, EnrolmentRow,
                 DueDateRow, CertificateRow, ExpiryRow, CampaignChange, EngagementReport>;

// The rows of one validated, newly accepted event; its rollup deltas are added to *deltas.
// A CampaignChange or EngagementReport row needs the stored state: see NextCampaignSpan and
// ReplaceEngagement.
std::vector<ProjectedRow> Project(const ev::OutreachEvent& event, RollupDeltas* deltas);

// The active span of a campaign as stored.
struct CampaignSpan {
  std::optional<std::string> first_active_day;
  std::optional<std::string> last_active_day;
  int64_t occurred = -1;  // of the stored state; -1 when none
};
// The span after `change`. An older change (change.occurred < stored.occurred) may only widen
// the span; the caller then keeps the stored state and writes just the span.
CampaignSpan NextCampaignSpan(const CampaignSpan& stored, const CampaignChange& change);

// Reports replace: a report of a higher revision than `previous` takes the previous numbers out
// where they were counted and adds its own; an equal or lower one is ignored. Returns whether
// `report` replaced (and must be stored).
bool ReplaceEngagement(const std::optional<EngagementReport>& previous,
                       const EngagementReport& report, RollupDeltas* deltas);

// The event field whose number a rollup `metric` counts ("engagement_reported.impressions"),
// or the payload's name when the metric counts the event itself: what a rejection names.
std::string FieldCounting(const ev::OutreachEvent& event, const std::string& metric);

// Adds `values` (rollup key, number) of one day to every cell they count in.
void AddCampaignNumbers(const CampaignDims& dims, const std::string& day,
                        const std::vector<std::pair<const char*, int64_t>>& values,
                        RollupDeltas* deltas);

}  // namespace outreach::metrics
