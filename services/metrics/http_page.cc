// The dashboard page on metrics' HTTP port (services/metrics/README.md "Dashboard page"):
//   /                 index.html             open: the files hold no data
//   /assets/...       its script, style sheet and uPlot, embedded at build time (web_assets.h)
//   /series           QuerySeries as JSON    guarded like the gRPC method (bearer token, force)
//   /areas            the dashboard of each area (schools covered of total, workshops, pupils)
// /dashboard itself is registered by RegisterHttp. The page sends its token in an
// Authorization header; nothing it needs is in a URL but the force, period and area.
#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/resource_name.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/metrics/metrics_service.h"
#include "services/metrics/web_assets.h"

namespace outreach::metrics {
namespace {

using Query = std::multimap<std::string, std::string>;

// The areas /areas reports at most (the page's coverage table and area picker).
constexpr int kMaxPageAreas = 50;

// Every file of the page: no inline script or style anywhere (the CSP forbids both), no
// framing, no form posts, and revalidated on each load so that an upgraded binary's page is
// never mixed with an old script.
std::vector<std::pair<std::string, std::string>> PageHeaders() {
  return {{"Content-Security-Policy",
           "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
          {"X-Content-Type-Options", "nosniff"},
          {"Cache-Control", "no-cache"},
          {"Referrer-Policy", "no-referrer"}};
}

// Force data: never stored by a browser or a proxy.
std::vector<std::pair<std::string, std::string>> DataHeaders() {
  return {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
}

HttpResponse ErrorResponse(const absl::Status& status, absl::string_view context) {
  // The same table as gRPC: INVALID_ARGUMENT is 400 with the field, internal text stays here.
  HttpError error = ToHttpError(status, context);
  HttpResponse res;
  res.status = error.status;
  res.content_type = "application/json";
  res.headers = DataHeaders();
  res.body = std::move(error.json_body);
  return res;
}

HttpResponse JsonResponse(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  HttpResponse res;
  res.content_type = "application/json";
  res.headers = DataHeaders();
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    res.status = 500;
    res.body = "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"encoding failed\"}}\n";
    return res;
  }
  res.body = std::move(json);
  res.body += "\n";
  return res;
}

std::string Get(const Query& query, const std::string& key) {
  auto it = query.find(key);
  return it == query.end() ? "" : it->second;
}

// "pupils-reached" or "PUPILS_REACHED" → "PUPILS_REACHED".
std::string EnumSuffix(std::string text) {
  absl::AsciiStrToUpper(&text);
  absl::StrReplaceAll({{"-", "_"}}, &text);
  return text;
}

absl::Status ParseDay(const std::string& field, const std::string& text, cv1::Date* out) {
  absl::CivilDay day;
  if (text.empty()) return InvalidArgument(field, "is required (YYYY-MM-DD)");
  if (!absl::ParseCivilTime(text, &day)) return InvalidArgument(field, "must be YYYY-MM-DD");
  *out = ToProtoDate(day);
  return absl::OkStatus();
}

// The route regex of a literal path (cpp-httplib matches routes as regular expressions).
std::string LiteralRoute(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (c == '.') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

absl::StatusOr<v1::QuerySeriesRequest> SeriesRequestFromQuery(const Query& query) {
  v1::QuerySeriesRequest req;
  const std::string force = Get(query, "force");
  if (!IsValidResourceId(force)) return InvalidArgument("force", "a force id is required");
  req.set_parent(absl::StrCat("forces/", force));
  v1::Metric metric = v1::METRIC_UNSPECIFIED;
  if (!v1::Metric_Parse(absl::StrCat("METRIC_", EnumSuffix(Get(query, "metric"))), &metric) ||
      metric == v1::METRIC_UNSPECIFIED) {
    return InvalidArgument("metric", "must be a metric, e.g. PUPILS_REACHED or pupils-reached");
  }
  req.set_metric(metric);
  v1::Granularity granularity = v1::GRANULARITY_UNSPECIFIED;
  if (!v1::Granularity_Parse(absl::StrCat("GRANULARITY_", EnumSuffix(Get(query, "granularity"))),
                             &granularity) ||
      granularity == v1::GRANULARITY_UNSPECIFIED) {
    return InvalidArgument("granularity",
                           "DAY, WEEK, MONTH, TERM, ACADEMIC_YEAR or FINANCIAL_YEAR");
  }
  req.set_granularity(granularity);
  if (const std::string by = Get(query, "group_by"); !by.empty()) {
    v1::GroupBy group_by = v1::GROUP_BY_UNSPECIFIED;
    if (!v1::GroupBy_Parse(absl::StrCat("GROUP_BY_", EnumSuffix(by)), &group_by)) {
      return InvalidArgument("group_by", "AREA, TOPIC, AUDIENCE, CHANNEL or ROLE");
    }
    req.set_group_by(group_by);
  }
  auto* range = req.mutable_date_range();
  if (auto s = ParseDay("start", Get(query, "start"), range->mutable_start_date()); !s.ok()) {
    return s;
  }
  if (auto s = ParseDay("end", Get(query, "end"), range->mutable_end_date()); !s.ok()) return s;
  req.set_area(Get(query, "area"));
  if (const std::string course = Get(query, "course"); !course.empty()) {
    if (!IsValidResourceId(course)) return InvalidArgument("course", "must be a course id");
    req.set_course(absl::StrCat("forces/", force, "/courses/", course));
  }
  return req;
}

void MetricsServiceImpl::RegisterPageRoutes(ServerRuntime& runtime) {
  if (web::FindAsset("/") == nullptr) {
    const std::string reason(web::MissingPageReason());
    runtime.AddHttpRoute("/", [reason](const Query&) {
      HttpResponse res;
      res.status = 404;
      res.content_type = "text/plain; charset=utf-8";
      res.body = absl::StrCat("This metrics build has no dashboard page: ", reason, ".\n");
      return res;
    });
  }
  for (const web::WebAsset& asset : web::EmbeddedAssets()) {
    runtime.AddHttpRoute(LiteralRoute(asset.path), [&asset](const Query&) {
      HttpResponse res;
      res.content_type = std::string(asset.content_type);
      res.body = std::string(asset.body);
      res.headers = PageHeaders();
      return res;
    });
  }

  runtime.AddHttpRoute(
      "/series",
      [this](const Query& q) {
        auto req = SeriesRequestFromQuery(q);
        absl::StatusOr<v1::QuerySeriesResponse> series = req.ok() ? Series(*req) : req.status();
        if (!series.ok()) return ErrorResponse(series.status(), "GET /series");
        return JsonResponse(*series);
      },
      HttpAccess{"/outreach.metrics.v1.MetricsService/QuerySeries"});

  // Coverage by area: each known area's dashboard for the period (cached like any dashboard).
  runtime.AddHttpRoute(
      "/areas",
      [this](const Query& q) {
        auto req = DashboardRequestFromQuery(q);
        if (!req.ok()) return ErrorResponse(req.status(), "GET /areas");
        const std::string force = Get(q, "force");
        auto areas = store_->ListAreas(force, kMaxPageAreas + 1);
        if (!areas.ok()) return ErrorResponse(areas.status(), "GET /areas");
        google::protobuf::Struct out;
        auto& fields = *out.mutable_fields();
        fields["truncated"].set_bool_value(static_cast<int>(areas->size()) > kMaxPageAreas);
        if (static_cast<int>(areas->size()) > kMaxPageAreas) areas->resize(kMaxPageAreas);
        auto* list = fields["areas"].mutable_list_value();
        auto version = store_->DataVersion(force);
        if (!version.ok()) return ErrorResponse(version.status(), "GET /areas");
        for (const std::string& area : *areas) {
          v1::GetDashboardRequest one = *req;
          one.set_area(area);
          auto d = Dashboard(one);
          if (!d.ok()) return ErrorResponse(d.status(), "GET /areas");
          *version = std::max(*version, d->data_version());
          auto& row = *list->add_values()->mutable_struct_value()->mutable_fields();
          const v1::WorkshopKpis& w = d->workshops();
          row["area"].set_string_value(area);
          row["schoolsCovered"].set_number_value(static_cast<double>(w.schools_covered()));
          row["schoolsTotal"].set_number_value(static_cast<double>(w.schools_total()));
          row["schoolsCoveredPercent"].set_number_value(w.schools_covered_percent());
          row["workshopsDelivered"].set_number_value(static_cast<double>(w.workshops_delivered()));
          row["pupilsReached"].set_number_value(static_cast<double>(w.pupils_reached()));
        }
        fields["dataVersion"].set_string_value(absl::StrCat(*version));
        return JsonResponse(out);
      },
      HttpAccess{"/outreach.metrics.v1.MetricsService/GetDashboard"});
}

}  // namespace outreach::metrics
