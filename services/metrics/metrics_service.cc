#include "services/metrics/metrics_service.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/field_mask.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/resource_name.h"
#include "common/store_support.h"
#include "google/protobuf/struct.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace outreach::metrics {
namespace {

const ResourcePattern& DashboardPattern() {
  static const ResourcePattern p("forces/{force}/dashboard");
  return p;
}
const ResourcePattern& SettingsPattern() {
  static const ResourcePattern p("forces/{force}/settings");
  return p;
}

grpc::Status ToGrpc(const absl::Status& s, absl::string_view method) {
  return ToGrpcStatus(s, kErrorDomain, method);
}

grpc::Status Draining() { return ServerDraining(kErrorDomain); }

const ServiceHandlers kHandlers{kErrorDomain, "/outreach.metrics.v1.MetricsService/"};

// A dashboard request, validated.
struct DashboardQuery {
  std::string force;
  DayRange days;
  std::string area;
};

absl::StatusOr<DashboardQuery> ParseDashboard(const std::string& name, const v1::Period& period,
                                              const std::string& area, absl::CivilDay today) {
  auto ids = DashboardPattern().Parse("name", name);
  if (!ids.ok()) return ids.status();
  if (!IsValidArea(area)) return InvalidArgument("area", "must be 1-32 characters of [A-Za-z0-9-]");
  auto days = ResolvePeriod("period", period, today);
  if (!days.ok()) return days.status();
  return DashboardQuery{(*ids)[0], *days, area};
}

// The reply depends on the clock while its period reaches into the future (certificates and
// accreditations expire); such replies are cached per minute.
std::string DashboardFingerprint(const DashboardQuery& q, absl::Time now) {
  std::string fp =
      absl::StrCat("d|", FormatDay(q.days.start), "|", FormatDay(q.days.end), "|", q.area);
  if (StartOfLocalDay(q.days.end + 1) > now) {
    absl::StrAppend(&fp, "|m", absl::ToUnixSeconds(now) / 60);
  }
  return fp;
}

// A series request, validated but for its buckets (MakeBuckets): its force, dates and cache
// fingerprint.
struct SeriesPlan {
  std::string force;
  DayRange range;
  std::string fingerprint;
};

absl::StatusOr<SeriesPlan> PlanSeries(const v1::QuerySeriesRequest& req, absl::Time now) {
  auto ids = ForcePattern().Parse("parent", req.parent());
  if (!ids.ok()) return ids.status();
  const std::string& force = (*ids)[0];
  std::vector<FieldViolation> bad;
  if (req.metric() == v1::METRIC_UNSPECIFIED || !v1::Metric_IsValid(req.metric())) {
    bad.push_back({"metric", "is required"});
  }
  if (!v1::GroupBy_IsValid(req.group_by()) ||
      (v1::Metric_IsValid(req.metric()) && req.metric() != v1::METRIC_UNSPECIFIED &&
       !SupportsGroupBy(req.metric(), req.group_by()))) {
    bad.push_back({"group_by", "is not supported by this metric"});
  }
  if (!IsValidArea(req.area())) {
    bad.push_back({"area", "must be 1-32 characters of [A-Za-z0-9-]"});
  }
  if (!req.course().empty()) {
    auto course = ResourcePattern("forces/{force}/courses/{course}").Parse("course", req.course());
    if (!course.ok() || (*course)[0] != force) {
      bad.push_back({"course", "must be forces/{force}/courses/{course} of the parent's force"});
    } else if (const MetricDef* def = FindMetric(req.metric());
               v1::Metric_IsValid(req.metric()) &&
               (def == nullptr || def->family != MetricFamily::kTraining)) {
      bad.push_back({"course", "applies to training metrics only"});
    }
  }
  if (!req.has_date_range()) bad.push_back({"date_range", "is required"});
  if (!bad.empty()) return InvalidArguments(bad);
  auto range = ParseDateRange("date_range", req.date_range());
  if (!range.ok()) return range.status();

  SeriesPlan plan{force, *range, ""};
  std::string& fp = plan.fingerprint;
  fp = absl::StrCat("s|", req.metric(), "|", req.granularity(), "|", req.group_by(), "|",
                    FormatDay(range->start), "|", FormatDay(range->end), "|", req.area(), "|",
                    req.course());
  if (StartOfLocalDay(range->end + 1) > now)
    absl::StrAppend(&fp, "|m", absl::ToUnixSeconds(now) / 60);
  return plan;
}

// The store's threads: SQLite reads run side by side in WAL mode and PostgreSQL has a pool of 8
// connections; 4 keeps a 2-core machine busy without queueing on the store's own locks. The
// queue holds a burst of 1 024 calls (16 connections × the 64 streams each may carry) before
// calls are refused as OVERLOADED.
constexpr int kStoreThreads = 4;
constexpr size_t kMaxQueuedCalls = 1024;

// A WatchDashboard call refused before it became a stream: it only carries the status.
class RefusedWatch final : public grpc::ServerWriteReactor<v1::Dashboard> {
 public:
  void OnDone() override { delete this; }
};

}  // namespace

MetricsServiceImpl::MetricsServiceImpl(std::unique_ptr<MetricsStore> store, const Clock* clock,
                                       std::unique_ptr<ReplyCache> cache, KpiOptions kpis)
    : store_(std::move(store)),
      clock_(clock),
      cache_(std::move(cache)),
      kpis_(std::move(kpis)),
      pool_(std::make_unique<WorkPool>("metrics-store", kStoreThreads, kMaxQueuedCalls)),
      handlers_{&kHandlers, pool_.get()} {
  security::DeclareRawRequestMethods({absl::StrCat(kHandlers.method_prefix, "GetDashboard"),
                                      absl::StrCat(kHandlers.method_prefix, "QuerySeries")});
  WatchSource source;
  source.data_version = [this](const std::string& force) { return store_->DataVersion(force); };
  source.dashboard = [this](const std::string& force, DayRange days, const std::string& area) {
    return DashboardFor(force, days, area);
  };
  source.clock = clock_;
  watchers_ = std::make_unique<WatchHub>(std::move(source), WatchOptions{});
  // Another replica's ingest reaches this one as the cache's pub/sub message.
  if (cache_ != nullptr) {
    cache_->OnNewVersion([hub = watchers_.get()](const std::string& force) { hub->Notify(force); });
  }
}

MetricsServiceImpl::~MetricsServiceImpl() {
  if (cache_ != nullptr) cache_->OnNewVersion(nullptr);
  BeginDrain();
}

void MetricsServiceImpl::BeginDrain() { watchers_->Close(Draining()); }

void MetricsServiceImpl::Changed(const std::string& force, int64_t version) {
  if (cache_ != nullptr) cache_->Publish(force, version);
  watchers_->Notify(force);
}

grpc::ServerUnaryReactor* MetricsServiceImpl::IngestEvents(grpc::CallbackServerContext* ctx,
                                                           const v1::IngestEventsRequest* request,
                                                           v1::IngestEventsResponse* response) {
  return handlers_.Blocking(ctx, "IngestEvents", [this, request, response]() -> absl::Status {
    auto ids = ForcePattern().Parse("parent", request->parent());
    if (!ids.ok()) return ids.status();
    if (request->events_size() == 0) {
      return InvalidArgument("events", "must hold 1-1000 events");
    }
    if (request->events_size() > 1000) {
      return InvalidArgument("events", "must hold at most 1000 events");
    }
    const std::string& force = (*ids)[0];
    auto out = store_->Ingest(force, request->events(), clock_->Now());
    if (!out.ok()) {
      absl::Status s = out.status();
      if (absl::IsUnavailable(s)) s = StorageUnavailable();
      return s;
    }
    if (out->changed) Changed(force, out->data_version);
    *response = std::move(out->response);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Dashboard> MetricsServiceImpl::DashboardFor(const std::string& force,
                                                               DayRange days,
                                                               const std::string& area) {
  const absl::Time now = clock_->Now();
  DashboardQuery q{force, days, area};
  const std::string fp = DashboardFingerprint(q, now);
  v1::Dashboard d;
  if (cache_ != nullptr && cache_->enabled()) {
    if (auto hit = cache_->NearGet(force, fp); hit.has_value() && d.ParseFromString(*hit)) {
      return d;
    }
    auto version = store_->DataVersion(force);
    if (version.ok()) {
      const int64_t generation = cache_->NoteVersion(force, *version);
      if (auto hit = cache_->Get(force, *version, fp, generation);
          hit.has_value() && d.ParseFromString(*hit)) {
        return d;
      }
      auto computed = store_->ComputeDashboard(force, days, area, now);
      if (!computed.ok()) return computed.status();
      cache_->Put(force, computed->data_version(), fp, computed->SerializeAsString(), generation);
      return computed;
    }
  }
  return store_->ComputeDashboard(force, days, area, now);
}

absl::StatusOr<v1::Dashboard> MetricsServiceImpl::Dashboard(
    const v1::GetDashboardRequest& request) {
  auto q =
      ParseDashboard(request.name(), request.period(), request.area(), LocalDay(clock_->Now()));
  if (!q.ok()) return q.status();
  auto d = DashboardFor(q->force, q->days, q->area);
  if (!d.ok()) return d.status();
  d->set_name(request.name());
  *d->mutable_period() = request.period();
  return d;
}

absl::StatusOr<bool> MetricsServiceImpl::NearDashboard(const v1::GetDashboardRequest& request,
                                                       grpc::ByteBuffer* reply) {
  if (cache_ == nullptr || !cache_->enabled()) return false;
  const absl::Time now = clock_->Now();
  auto q = ParseDashboard(request.name(), request.period(), request.area(), LocalDay(now));
  if (!q.ok()) return q.status();
  std::optional<std::string> hit = cache_->NearGet(q->force, DashboardFingerprint(*q, now));
  if (!hit.has_value()) return false;
  // A cached dashboard has no name and no period (DashboardFor): the request's are appended as
  // fields 1 and 2, which a parser reads as if they came first.
  v1::Dashboard echo;
  echo.set_name(request.name());
  *echo.mutable_period() = request.period();
  if (!echo.AppendToString(&*hit)) return false;
  *reply = ReplyBytes(*hit);
  return true;
}

grpc::ServerWriteReactor<v1::Dashboard>* MetricsServiceImpl::WatchDashboard(
    grpc::CallbackServerContext* context, const v1::WatchDashboardRequest* request) {
  // A stream does not run in ServiceHandlers::Run (it finishes later, on the hub's thread), so
  // it takes the security decision itself, first.
  security::CallGuard guard(context);
  absl::Status admitted = guard.status();
  absl::StatusOr<DashboardQuery> q = admitted.ok()
                                         ? ParseDashboard(request->name(), request->period(),
                                                          request->area(), LocalDay(clock_->Now()))
                                         : admitted;
  if (!q.ok()) {
    guard.Finish(q.status());
    auto* refused = new RefusedWatch();
    refused->Finish(ToGrpc(q.status(), "WatchDashboard"));
    return refused;
  }
  return watchers_->Open(*request, q->force);
}

absl::StatusOr<bool> MetricsServiceImpl::NearSeries(const v1::QuerySeriesRequest& request,
                                                    grpc::ByteBuffer* reply) {
  if (cache_ == nullptr || !cache_->enabled()) return false;
  // The buckets are not made here: an entry exists only for a fingerprint whose buckets were
  // made (the fingerprint holds the granularity and the dates, all MakeBuckets reads), so a
  // request MakeBuckets refuses always misses and is refused by Series.
  auto plan = PlanSeries(request, clock_->Now());
  if (!plan.ok()) return plan.status();
  std::optional<std::string> hit = cache_->NearGet(plan->force, plan->fingerprint);
  if (!hit.has_value()) return false;
  *reply = ReplyBytes(*hit);
  return true;
}

grpc::ServerUnaryReactor* MetricsServiceImpl::GetDashboard(grpc::CallbackServerContext* ctx,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* reply) {
  return handlers_.RawQuickOrBlocking<v1::GetDashboardRequest>(
      ctx, "GetDashboard", request, reply,
      [this](const v1::GetDashboardRequest& r, grpc::ByteBuffer* out) {
        return NearDashboard(r, out);
      },
      [this](const v1::GetDashboardRequest& r) { return Dashboard(r); });
}

grpc::ServerUnaryReactor* MetricsServiceImpl::QuerySeries(grpc::CallbackServerContext* ctx,
                                                          const grpc::ByteBuffer* request,
                                                          grpc::ByteBuffer* reply) {
  return handlers_.RawQuickOrBlocking<v1::QuerySeriesRequest>(
      ctx, "QuerySeries", request, reply,
      [this](const v1::QuerySeriesRequest& r, grpc::ByteBuffer* out) { return NearSeries(r, out); },
      [this](const v1::QuerySeriesRequest& r) { return Series(r); });
}

absl::StatusOr<v1::QuerySeriesResponse> MetricsServiceImpl::Series(
    const v1::QuerySeriesRequest& req) {
  // QuerySeries' checks and cache-aside, shared with the /series route.
  const absl::Time now = clock_->Now();
  auto plan = PlanSeries(req, now);
  if (!plan.ok()) return plan.status();
  auto buckets = MakeBuckets(req.granularity(), plan->range);
  if (!buckets.ok()) return buckets.status();
  const std::string& force = plan->force;
  const std::string& fp = plan->fingerprint;
  if (cache_ != nullptr && cache_->enabled()) {
    if (auto hit = cache_->NearGet(force, fp); hit.has_value()) {
      v1::QuerySeriesResponse out;
      if (out.ParseFromString(*hit)) return out;
    }
    auto version = store_->DataVersion(force);
    if (version.ok()) {
      const int64_t generation = cache_->NoteVersion(force, *version);
      if (auto hit = cache_->Get(force, *version, fp, generation); hit.has_value()) {
        v1::QuerySeriesResponse out;
        if (out.ParseFromString(*hit)) return out;
      }
      auto computed = store_->ComputeSeries(force, req, *buckets, now);
      if (!computed.ok()) return computed.status();
      cache_->Put(force, computed->data_version(), fp, computed->SerializeAsString(), generation);
      return computed;
    }
  }
  return store_->ComputeSeries(force, req, *buckets, now);
}

grpc::ServerUnaryReactor* MetricsServiceImpl::GetForceSettings(
    grpc::CallbackServerContext* ctx, const v1::GetForceSettingsRequest* request,
    v1::ForceSettings* response) {
  return handlers_.Blocking(ctx, "GetForceSettings", [this, request, response]() -> absl::Status {
    auto ids = SettingsPattern().Parse("name", request->name());
    if (!ids.ok()) return ids.status();
    auto s = store_->GetSettings((*ids)[0]);
    if (!s.ok()) return s.status();
    *response = std::move(*s);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* MetricsServiceImpl::UpdateForceSettings(
    grpc::CallbackServerContext* ctx, const v1::UpdateForceSettingsRequest* request,
    v1::ForceSettings* response) {
  return handlers_.Blocking(
      ctx, "UpdateForceSettings", [this, request, response]() -> absl::Status {
        const v1::ForceSettings& in = request->force_settings();
        auto ids = SettingsPattern().Parse("force_settings.name", in.name());
        if (!ids.ok()) return ids.status();
        const std::string& force = (*ids)[0];
        auto paths = ValidateUpdateMask(request->update_mask(), {"display_name", "training_targets",
                                                                 "school_coverage_target_percent"});
        if (!paths.ok()) return paths.status();
        if (in.etag().empty()) {
          return InvalidArgument("force_settings.etag", "is required (read the settings first)");
        }
        if (absl::Status s = ValidateSettings(in, force); !s.ok()) return s;
        int64_t version = 0;
        auto out = store_->UpdateSettings(force, in, *paths, clock_->Now(), &version);
        if (!out.ok()) return out.status();
        Changed(force, version);
        *response = std::move(*out);
        return absl::OkStatus();
      });
}

absl::StatusOr<v1::GetDashboardRequest> DashboardRequestFromQuery(
    const std::multimap<std::string, std::string>& query) {
  auto get = [&](const std::string& key) -> std::string {
    auto it = query.find(key);
    return it == query.end() ? "" : it->second;
  };
  v1::GetDashboardRequest req;
  const std::string force = get("force");
  if (!IsValidResourceId(force)) return InvalidArgument("force", "a force id is required");
  req.set_name(absl::StrCat("forces/", force, "/dashboard"));
  req.set_area(get("area"));
  std::string kind = absl::AsciiStrToUpper(get("period"));
  if (kind.empty()) kind = "ACADEMIC_YEAR";
  v1::PeriodKind k;
  if (!v1::PeriodKind_Parse(absl::StrCat("PERIOD_KIND_", kind), &k) ||
      k == v1::PERIOD_KIND_UNSPECIFIED) {
    return InvalidArgument("period",
                           "DAY_RANGE, WEEK, MONTH, TERM, ACADEMIC_YEAR or "
                           "FINANCIAL_YEAR");
  }
  req.mutable_period()->set_kind(k);
  auto parse_day = [](const std::string& field, const std::string& text,
                      cv1::Date* out) -> absl::Status {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(text, &day)) return InvalidArgument(field, "must be YYYY-MM-DD");
    *out = ToProtoDate(day);
    return absl::OkStatus();
  };
  if (!get("anchor").empty()) {
    if (auto s = parse_day("anchor", get("anchor"), req.mutable_period()->mutable_anchor_date());
        !s.ok()) {
      return s;
    }
  }
  if (!get("start").empty() || !get("end").empty()) {
    auto* r = req.mutable_period()->mutable_date_range();
    if (auto s = parse_day("start", get("start"), r->mutable_start_date()); !s.ok()) return s;
    if (auto s = parse_day("end", get("end"), r->mutable_end_date()); !s.ok()) return s;
  }
  return req;
}

namespace {

// The KPI gauges on /metrics, academic year to date, by force and area.
struct KpiGauge {
  const char* name;
  const char* help;
  std::function<double(const v1::Dashboard&)> value;
};

const std::vector<KpiGauge>& KpiGauges() {
  static const std::vector<KpiGauge>* gauges = new std::vector<KpiGauge>{
      {"outreach_kpi_workshops_delivered", "Workshops delivered, academic year to date.",
       [](const v1::Dashboard& d) { return d.workshops().workshops_delivered(); }},
      {"outreach_kpi_pupils_reached", "Pupils reached, academic year to date.",
       [](const v1::Dashboard& d) { return d.workshops().pupils_reached(); }},
      {"outreach_kpi_parents_reached", "Parents and carers reached, academic year to date.",
       [](const v1::Dashboard& d) { return d.workshops().parents_reached(); }},
      {"outreach_kpi_staff_reached", "Teachers and staff reached, academic year to date.",
       [](const v1::Dashboard& d) { return d.workshops().staff_reached(); }},
      {"outreach_kpi_schools_covered_percent", "Schools covered of total (%), academic year.",
       [](const v1::Dashboard& d) { return d.workshops().schools_covered_percent(); }},
      {"outreach_kpi_safeguarding_disclosures", "Safeguarding disclosures, academic year.",
       [](const v1::Dashboard& d) { return d.workshops().safeguarding_disclosures(); }},
      {"outreach_kpi_officers_trained", "Officers trained, academic year to date.",
       [](const v1::Dashboard& d) { return d.training().officers_trained(); }},
      {"outreach_kpi_officers_current", "Active officers holding a current certificate.",
       [](const v1::Dashboard& d) { return d.training().officers_current(); }},
      {"outreach_kpi_compliance_percent", "Headline training target compliance (%).",
       [](const v1::Dashboard& d) {
         return d.training().targets_size() > 0 ? d.training().targets(0).compliance_percent()
                                                : 0.0;
       }},
      {"outreach_kpi_campaign_impressions", "Campaign impressions, academic year to date.",
       [](const v1::Dashboard& d) { return d.campaigns().impressions(); }},
      {"outreach_kpi_campaign_reach", "Campaign reach (sum of daily), academic year.",
       [](const v1::Dashboard& d) { return d.campaigns().reach(); }},
      {"outreach_kpi_campaign_engagement_rate", "Campaign engagements / impressions.",
       [](const v1::Dashboard& d) { return d.campaigns().engagement_rate(); }},
      {"outreach_kpi_data_version", "The force's data version.",
       [](const v1::Dashboard& d) { return static_cast<double>(d.data_version()); }},
  };
  return *gauges;
}

}  // namespace

void MetricsServiceImpl::RegisterHttp(ServerRuntime& runtime) {
  runtime.AddHttpRoute(
      "/dashboard",
      [this](const std::multimap<std::string, std::string>& q) {
        HttpResponse res;
        res.content_type = "application/json";
        res.headers = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
        auto req = DashboardRequestFromQuery(q);
        absl::StatusOr<v1::Dashboard> d = req.ok() ? Dashboard(*req) : req.status();
        if (!d.ok()) {
          // The same table as gRPC: INVALID_ARGUMENT is 400, NOT_FOUND 404, storage down 503, and
          // internal text never leaves the process.
          HttpError error = ToHttpError(d.status(), "GET /dashboard");
          res.status = error.status;
          res.body = std::move(error.json_body);
          return res;
        }
        absl::StatusOr<std::string> json = DashboardJson(*d);  // HTML-safe (domain.h)
        if (!json.ok()) {
          res.status = 500;
          res.body = "{\"error\":\"encoding failed\"}\n";
          return res;
        }
        res.body = *std::move(json);
        return res;
      },
      // The dashboard is force data: a token that may call GetDashboard for the `force` asked for.
      HttpAccess{"/outreach.metrics.v1.MetricsService/GetDashboard"});
  RegisterPageRoutes(runtime);

  MetricsRegistry& m = runtime.metrics();
  for (const auto& g : KpiGauges()) m.DefineGauge(g.name, g.help);
  m.AddRefresher([this](MetricsRegistry& reg) { RefreshKpis(reg); });
}

void MetricsServiceImpl::RefreshKpis(MetricsRegistry& registry) {
  absl::StatusOr<std::vector<std::string>> forces =
      kpis_.forces.empty() ? store_->ListConfiguredForces(kMaxKpiForces) : kpis_.forces;
  if (!forces.ok()) {
    OUTREACH_LOG(kWarn, "kpi_refresh_failed").Kv("detail", forces.status().message());
    return;
  }
  const absl::CivilDay today = LocalDay(clock_->Now());
  const DayRange year = AcademicYearOfDay(today);
  absl::MutexLock lock(&kpi_mu_);
  for (const auto& force : *forces) {
    absl::StatusOr<int64_t> version = store_->DataVersion(force);
    if (!version.ok()) continue;
    KpiSnapshot& snapshot = kpi_snapshots_[force];
    if (snapshot.data_version != *version || snapshot.day != today) {
      KpiSnapshot fresh;
      fresh.data_version = *version;
      fresh.day = today;
      std::vector<std::string> areas = {""};
      if (auto more = store_->ListAreas(force, kpis_.max_areas); more.ok()) {
        areas.insert(areas.end(), more->begin(), more->end());
      } else {
        // The force-wide gauges are still exported; the scrape must not fail for this.
        OUTREACH_LOG(kWarn, "kpi_areas_failed")
            .Kv("force", force)
            .Kv("detail", more.status().message());
      }
      for (const auto& area : areas) {
        absl::StatusOr<v1::Dashboard> d = DashboardFor(force, year, area);
        if (d.ok()) {
          fresh.by_area.emplace_back(area, std::move(*d));
        } else {
          OUTREACH_LOG(kWarn, "kpi_dashboard_failed")
              .Kv("force", force)
              .Kv("area", area)
              .Kv("detail", d.status().message());
        }
      }
      // Series persist in the registry: drop the areas that disappeared, Set only what changed.
      for (const auto& [area, dashboard] : snapshot.by_area) {
        const bool kept = std::any_of(fresh.by_area.begin(), fresh.by_area.end(),
                                      [&area = area](const auto& a) { return a.first == area; });
        if (kept) continue;
        for (const auto& g : KpiGauges()) {
          registry.Remove(g.name, {{"force", force}, {"area", area.empty() ? "all" : area}});
        }
      }
      snapshot = std::move(fresh);
      for (const auto& [area, dashboard] : snapshot.by_area) {
        for (const auto& g : KpiGauges()) {
          registry.Set(g.name, {{"force", force}, {"area", area.empty() ? "all" : area}},
                       g.value(dashboard));
        }
      }
    }
  }
}

std::unique_ptr<MetricsServiceImpl> MakeMetricsService(const ServiceContext& context,
                                                       const CacheOptions& cache_options,
                                                       const KpiOptions& kpis) {
  std::unique_ptr<ReplyCache> cache;
  if (cache_options.redis_address != "off") {
    cache = std::make_unique<ReplyCache>(cache_options, context.metrics);
  }
  auto service = std::make_unique<MetricsServiceImpl>(NewSqlMetricsStore(context.db), context.clock,
                                                      std::move(cache), kpis);
  if (context.runtime != nullptr) {
    service->RegisterHttp(*context.runtime);
    context.runtime->OnDrain([s = service.get()] { s->BeginDrain(); });
  }
  return service;
}

ServiceSpec MetricsServiceSpec() {
  ServiceSpec spec;
  spec.name = "metrics";
  spec.health_name = "outreach.metrics.v1.MetricsService";
  spec.default_grpc_address = "127.0.0.1:50054";
  spec.default_http_address = "127.0.0.1:9104";
  spec.schema = {CommonMigrations(), MetricsMigrations()};
  spec.make_service = [](const ServiceContext& context) -> std::unique_ptr<grpc::Service> {
    return MakeMetricsService(context, CacheOptions{});
  };
  return spec;
}

ServiceSpec MetricsBinarySpec() {
  struct Settings {
    CacheOptions cache;
    int64_t near_capacity = 4096;
    bool near_cache = true;
    std::string kpi_forces;
    int64_t kpi_max_areas = 20;
  };
  auto settings = std::make_shared<Settings>();
  ServiceSpec spec = MetricsServiceSpec();
  spec.register_settings = [settings](ConfigParser& parser) {
    parser.String(
        "redis-address", &settings->cache.redis_address, std::string("off"),
        "host:port of the Redis that caches dashboards and series, or \"off\"",
        [](const std::string& v) { return v == "off" ? absl::OkStatus() : ValidateHostPort(v); });
    parser.Duration("cache-ttl", &settings->cache.ttl, absl::Seconds(60), absl::Milliseconds(100),
                    absl::Hours(24), "lifetime of every cached reply (Redis and near-cache)");
    parser.Duration("redis-timeout", &settings->cache.command_timeout, absl::Milliseconds(100),
                    absl::Milliseconds(5), absl::Seconds(5),
                    "connect and command timeout of Redis calls (then the store answers)");
    parser.Bool("near-cache", &settings->near_cache, true,
                "keep ready replies in process, invalidated by Redis pub/sub");
    parser.Int("near-cache-entries", &settings->near_capacity, 4096, 16, 1000000,
               "cached replies kept in process per force");
    parser.String("kpi-forces", &settings->kpi_forces, std::string(""),
                  "comma-separated forces whose KPI gauges /metrics shows (empty: the forces "
                  "that have ForceSettings)",
                  [](const std::string& v) -> absl::Status {
                    for (absl::string_view f : absl::StrSplit(v, ',', absl::SkipEmpty())) {
                      if (!IsValidResourceId(f)) {
                        return absl::InvalidArgumentError(
                            absl::StrCat("\"", f, "\" is not a force id ([a-z][a-z0-9-]{0,62})"));
                      }
                    }
                    return absl::OkStatus();
                  });
    parser.Int("kpi-max-areas", &settings->kpi_max_areas, 20, 0, 500,
               "areas per force that get their own KPI gauges on /metrics");
  };
  spec.make_service = [settings](const ServiceContext& context) -> std::unique_ptr<grpc::Service> {
    CacheOptions cache = settings->cache;
    cache.connect_timeout = cache.command_timeout;
    cache.near_cache = settings->near_cache;
    cache.near_capacity = static_cast<size_t>(settings->near_capacity);
    OUTREACH_LOG(kInfo, "cache_config")
        .Kv("redis", cache.redis_address)
        .Kv("ttl", cache.ttl)
        .Kv("near_cache", cache.near_cache ? "on" : "off");
    KpiOptions kpis;
    kpis.forces = absl::StrSplit(settings->kpi_forces, ',', absl::SkipEmpty());
    kpis.max_areas = static_cast<int>(settings->kpi_max_areas);
    return MakeMetricsService(context, cache, kpis);
  };
  return spec;
}

}  // namespace outreach::metrics
