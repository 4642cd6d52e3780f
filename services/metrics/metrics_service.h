#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "common/callback_handlers.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/service_main.h"
#include "common/work_pool.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "services/metrics/cache.h"
#include "services/metrics/store.h"
#include "services/metrics/watch.h"

namespace outreach::metrics {

// Which forces and areas the KPI gauges on /metrics cover. Label sets are bounded so that
// invented forces or areas can neither push a real force off the page nor make a scrape
// compute thousands of dashboards: the forces are the ones listed (or, when none are, the
// forces that have ForceSettings, at most kMaxKpiForces), each with at most `max_areas` areas.
struct KpiOptions {
  std::vector<std::string> forces;
  int max_areas = 20;
};
inline constexpr int kMaxKpiForces = 100;

// The two cached reads as raw methods (request and reply as bytes), every method on the callback
// API.
using MetricsServiceBase = v1::MetricsService::WithRawCallbackMethod_GetDashboard<
    v1::MetricsService::WithRawCallbackMethod_QuerySeries<v1::MetricsService::CallbackService>>;

// outreach.metrics.v1.MetricsService: proto <-> domain, the reply cache, and WatchDashboard.
// On gRPC's callback API (bench/README.md "read_bench"): GetDashboard and QuerySeries are raw
// methods whose near-cache hit finishes on gRPC's own thread with the stored bytes as the reply
// (no parse, no re-serialization, no hand-off); whatever touches the store (ingest, settings,
// cache misses) runs on a bounded WorkPool; WatchDashboard streams are reactors of one WatchHub
// (watch.h) and hold no thread while they wait.
class MetricsServiceImpl final : public MetricsServiceBase {
 public:
  // `cache` may be null (no caching).
  MetricsServiceImpl(std::unique_ptr<MetricsStore> store, const Clock* clock,
                     std::unique_ptr<ReplyCache> cache, KpiOptions kpis = {});
  ~MetricsServiceImpl() override;

  grpc::ServerUnaryReactor* IngestEvents(grpc::CallbackServerContext* context,
                                         const v1::IngestEventsRequest* request,
                                         v1::IngestEventsResponse* response) override;
  grpc::ServerWriteReactor<v1::Dashboard>* WatchDashboard(
      grpc::CallbackServerContext* context, const v1::WatchDashboardRequest* request) override;
  grpc::ServerUnaryReactor* GetForceSettings(grpc::CallbackServerContext* context,
                                             const v1::GetForceSettingsRequest* request,
                                             v1::ForceSettings* response) override;
  grpc::ServerUnaryReactor* UpdateForceSettings(grpc::CallbackServerContext* context,
                                                const v1::UpdateForceSettingsRequest* request,
                                                v1::ForceSettings* response) override;

  // Raw: the request and the reply are bytes (common/callback_handlers.h).
  grpc::ServerUnaryReactor* GetDashboard(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* reply) override;
  grpc::ServerUnaryReactor* QuerySeries(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* reply) override;

  // The dashboard as GetDashboard computes it (cache included); for the HTTP route.
  absl::StatusOr<v1::Dashboard> Dashboard(const v1::GetDashboardRequest& request);
  // The series as QuerySeries computes it (validation and cache included); for /series.
  absl::StatusOr<v1::QuerySeriesResponse> Series(const v1::QuerySeriesRequest& request);
  // Ends every WatchDashboard stream with UNAVAILABLE SERVER_DRAINING; call before the server's
  // Shutdown so that drain does not wait for the streams' deadline.
  void BeginDrain();
  // Adds the /dashboard JSON route, the KPI gauges (academic year to date, by force and area)
  // and the dashboard page (/, its files, /series and /areas; http_page.cc) to a runtime before
  // Start.
  void RegisterHttp(ServerRuntime& runtime);

  ReplyCache* cache() { return cache_.get(); }
  MetricsStore* store() { return store_.get(); }

 private:
  absl::StatusOr<v1::Dashboard> DashboardFor(const std::string& force, DayRange days,
                                             const std::string& area);
  // The near-cache's answer to a GetDashboard / QuerySeries without any I/O (the stored bytes,
  // with the dashboard's name and period appended), or false.
  absl::StatusOr<bool> NearDashboard(const v1::GetDashboardRequest& request,
                                     grpc::ByteBuffer* reply);
  absl::StatusOr<bool> NearSeries(const v1::QuerySeriesRequest& request, grpc::ByteBuffer* reply);
  void Changed(const std::string& force, int64_t version);
  // The page's routes (http_page.cc): its embedded files (open) and the JSON it reads beside
  // /dashboard, each guarded by the gRPC method it stands for.
  void RegisterPageRoutes(ServerRuntime& runtime);
  // Sets the KPI gauges of every covered force, recomputing a force's dashboards only when its
  // data version or the local day changed since the last scrape.
  void RefreshKpis(MetricsRegistry& registry);

  // The dashboards of one force as last computed for the gauges.
  struct KpiSnapshot {
    int64_t data_version = -1;
    absl::CivilDay day;
    std::vector<std::pair<std::string, v1::Dashboard>> by_area;  // "" = all areas
  };

  std::unique_ptr<MetricsStore> store_;
  const Clock* clock_;
  std::unique_ptr<ReplyCache> cache_;
  const KpiOptions kpis_;
  absl::Mutex kpi_mu_;  // scrapes may overlap; one refresh at a time
  std::map<std::string, KpiSnapshot> kpi_snapshots_ ABSL_GUARDED_BY(kpi_mu_);
  // Last: their threads call the members above, so they stop first.
  std::unique_ptr<WorkPool> pool_;
  CallbackHandlers handlers_;
  std::unique_ptr<WatchHub> watchers_;
};

// Builds the service over a context's store and clock with `cache_options` ("off" = no cache).
// With a runtime in the context it also adds the /dashboard route and KPI gauges to the monitor
// port and ends WatchDashboard streams when a drain begins.
std::unique_ptr<MetricsServiceImpl> MakeMetricsService(const ServiceContext& context,
                                                       const CacheOptions& cache_options,
                                                       const KpiOptions& kpis = {});

// The spec of the metrics service with the cache off (ServiceHarness, tests).
ServiceSpec MetricsServiceSpec();
// The binary's spec: MetricsServiceSpec plus the cache settings (--redis-address, --cache-ttl,
// --redis-timeout, --near-cache, --near-cache-entries) and the KPI gauge bounds (--kpi-forces,
// --kpi-max-areas).
ServiceSpec MetricsBinarySpec();

// Parses the /dashboard query (force, period, anchor, start, end, area) into a request.
absl::StatusOr<v1::GetDashboardRequest> DashboardRequestFromQuery(
    const std::multimap<std::string, std::string>& query);
// Parses the /series query into a request: force, metric (a Metric value name without its
// prefix, any case, '-' for '_': "pupils-reached"), granularity (DAY, WEEK, MONTH, TERM,
// ACADEMIC_YEAR, FINANCIAL_YEAR), start and end (YYYY-MM-DD, inclusive), and optionally
// group_by (AREA, TOPIC, AUDIENCE, CHANNEL, ROLE), area and course (a course id). A bad value
// is INVALID_ARGUMENT naming the query parameter.
absl::StatusOr<v1::QuerySeriesRequest> SeriesRequestFromQuery(
    const std::multimap<std::string, std::string>& query);

}  // namespace outreach::metrics
