#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/db.h"
#include "services/metrics/kpis.h"

// The reads of the metrics tables, as plain values (kpis.h): each function is one query (or a
// few) inside the caller's transaction, and decides nothing beyond its WHERE clause.
namespace outreach::metrics::read_model {

struct ForceState {
  int64_t data_version = 0;         // 0 when the force has no data
  std::optional<absl::Time> as_of;  // newest occurred_time stored
};
absl::StatusOr<ForceState> ReadForceState(db::Connection& tx, const std::string& force);

// The stored settings, or the defaults (name and etag) when never written.
absl::StatusOr<v1::ForceSettings> ReadSettings(db::Connection& tx, const std::string& force);

// Sums of undimensioned rollups over `days`, for the whole force or one area.
absl::StatusOr<RollupSums> SumRollups(db::Connection& tx, const std::string& force, DayRange days,
                                      const std::string& area);

// Scheduled workshops starting in `days`, schools covered and known, presenters accredited at
// `at`; `area` "" = all.
absl::StatusOr<WorkshopCounts> ReadWorkshopCounts(db::Connection& tx, const std::string& force,
                                                  DayRange days, const std::string& area,
                                                  absl::Time at);
absl::StatusOr<TrainingCounts> ReadTrainingCounts(db::Connection& tx, const std::string& force,
                                                  DayRange days, const std::string& area);
// Campaigns active at some point of `days`.
absl::StatusOr<std::vector<ActiveCampaign>> ReadActiveCampaigns(db::Connection& tx,
                                                                const std::string& force,
                                                                DayRange days);
// Active officers, their certificates and their open enrolments.
absl::StatusOr<TrainingSnapshot> LoadTraining(db::Connection& tx, const std::string& force);

// Rows of a series over days [from, to] (YYYY-MM-DD); `area`/`course` "" = all.
absl::StatusOr<std::vector<SchoolVisit>> ReadSchoolVisits(db::Connection& tx,
                                                          const std::string& force,
                                                          const std::string& from,
                                                          const std::string& to,
                                                          const std::string& area);
enum class OfficerDays { kCompletions, kExpiries };
absl::StatusOr<std::vector<OfficerDay>> ReadOfficerDays(
    db::Connection& tx, OfficerDays which, const std::string& force, const std::string& from,
    const std::string& to, const std::string& area, const std::string& course);
// Rollup cells of `metrics` (one or two keys) in `selection`: one per day, area and dim.
absl::StatusOr<std::vector<RollupCell>> ReadRollupCells(
    db::Connection& tx, const std::string& force, const std::vector<std::string>& metrics,
    const RollupSelection& selection, const std::string& area, const std::string& from,
    const std::string& to);

}  // namespace outreach::metrics::read_model
