#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db.h"
#include "services/metrics/domain.h"
#include "services/metrics/schema.h"

namespace outreach::metrics {

// The metrics store: ingested events (each (force, event_id) once), rollups by force, local
// day, area and dimension, latest-state tables of upserted entities, a per-force data version
// and the force settings. Every method is scoped by force.
class MetricsStore {
 public:
  virtual ~MetricsStore() = default;

  struct IngestOutput {
    v1::IngestEventsResponse response;
    int64_t data_version = 0;  // after the call
    bool changed = false;      // at least one event accepted
  };
  // Validates, dedupes and applies `events` of `force` in one write transaction: every
  // accepted event is stored and counted, and the data version bumped, or nothing is.
  virtual absl::StatusOr<IngestOutput> Ingest(
      const std::string& force, const google::protobuf::RepeatedPtrField<ev::OutreachEvent>& events,
      absl::Time now) = 0;

  // The force's data version (0 when it has no data).
  virtual absl::StatusOr<int64_t> DataVersion(const std::string& force) = 0;

  // The KPIs of `force` over `days` (optionally one area) evaluated at `now`: fills date_range,
  // area, as_of, data_version, compute_time, force_display_name and the three KPI groups (the
  // caller sets name and period). One consistent snapshot.
  virtual absl::StatusOr<v1::Dashboard> ComputeDashboard(const std::string& force, DayRange days,
                                                         const std::string& area,
                                                         absl::Time now) = 0;

  // A validated series request over `buckets` (non-empty) evaluated at `now`.
  virtual absl::StatusOr<v1::QuerySeriesResponse> ComputeSeries(
      const std::string& force, const v1::QuerySeriesRequest& request,
      const std::vector<Bucket>& buckets, absl::Time now) = 0;

  // Forces with data, and the areas known for a force (venue areas and officer divisions), for
  // the /metrics gauges; at most `limit` each.
  virtual absl::StatusOr<std::vector<std::string>> ListForces(int limit) = 0;
  // Forces that have ForceSettings (the operator configured them), by name.
  virtual absl::StatusOr<std::vector<std::string>> ListConfiguredForces(int limit) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListAreas(const std::string& force,
                                                             int limit) = 0;

  // Settings (defaults with an etag when never written).
  virtual absl::StatusOr<v1::ForceSettings> GetSettings(const std::string& force) = 0;
  // Applies the `paths` of `settings` after checking `etag` against the current settings, in
  // one transaction that also bumps the data version (dashboards show targets). Returns the new
  // settings; *data_version receives the new version.
  virtual absl::StatusOr<v1::ForceSettings> UpdateSettings(const std::string& force,
                                                           const v1::ForceSettings& settings,
                                                           const std::set<std::string>& paths,
                                                           absl::Time now,
                                                           int64_t* data_version) = 0;
};

// The SQLite implementation (portable SQL; times as INTEGER micros UTC, days as 'YYYY-MM-DD').
std::unique_ptr<MetricsStore> NewSqlMetricsStore(db::Database* db);

}  // namespace outreach::metrics
