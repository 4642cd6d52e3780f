// The force dashboard and KPI series (outreach.metrics.v1).
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "tools/outreachctl/resources.h"

namespace outreach::ctl {

namespace {

namespace mv1 = outreach::metrics::v1;
constexpr const char* kService = "outreach.metrics.v1.MetricsService";

// --from/--to into a DateRange field (both or neither); `*given` says whether they were.
absl::Status DateRangeFlags(const Context& ctx, google::protobuf::Message* request,
                            const std::string& field, bool* given) {
  *given = ctx.args.Has("from") || ctx.args.Has("to");
  if (!*given) return absl::OkStatus();
  if (!ctx.args.Has("from") || !ctx.args.Has("to"))
    return absl::InvalidArgumentError("give both --from and --to");
  if (auto s = SetField(request, field + ".start_date", ctx.args.Get("from")); !s.ok()) return s;
  return SetField(request, field + ".end_date", ctx.args.Get("to"));
}

// WatchDashboard: the dashboard now, then again whenever ingested events change it, until
// --watch-for elapses (a clean end, exit 0) or the command is interrupted. JSON is one
// dashboard per line; tables are separated by a blank line.
int WatchDashboard(Context& ctx, const mv1::GetDashboardRequest& get) {
  absl::Duration watch_for = absl::InfiniteDuration();
  if (ctx.args.Has("watch-for") && (!absl::ParseDuration(ctx.args.Get("watch-for"), &watch_for) ||
                                    watch_for <= absl::ZeroDuration())) {
    return ctx.Usage(absl::StrCat("--watch-for: \"", ctx.args.Get("watch-for"),
                                  "\" is not a duration such as 10m"));
  }
  const auto* method = Method(absl::StrCat(kService, ".WatchDashboard"));
  auto channel = ctx.connection->ChannelFor("metrics");
  if (!channel.ok())
    return ctx.Fail("dashboard --watch", method,
                    Outcome{grpc::Status::OK, std::string(channel.status().message())});
  mv1::WatchDashboardRequest request;
  request.set_name(get.name());
  *request.mutable_period() = get.period();
  request.set_area(get.area());
  grpc::ClientContext context;
  if (watch_for != absl::InfiniteDuration()) {
    context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(watch_for));
  }
  auto stub = mv1::MetricsService::NewStub(*channel);
  auto reader = stub->WatchDashboard(&context, request);
  mv1::Dashboard dashboard;
  bool first = true;
  while (reader->Read(&dashboard)) {
    if (ctx.format == Format::kJson) {
      std::string line;
      (void)google::protobuf::util::MessageToJsonString(dashboard, &line);
      *ctx.out << line << "\n";
    } else {
      if (!first) *ctx.out << "\n";
      *ctx.out << RenderMessage(ctx.format, dashboard, ctx.width);
    }
    ctx.out->flush();
    first = false;
  }
  grpc::Status status = reader->Finish();
  if (status.ok() || (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && !first))
    return kExitOk;
  return ctx.Fail("dashboard --watch", method, Outcome{status, ""});
}

int RunDashboard(Context& ctx) {
  if (!ctx.args.positional.empty()) return ctx.Usage("dashboard takes no arguments");
  mv1::GetDashboardRequest request;
  request.set_name(ctx.ForceParent() + "/dashboard");
  bool range = false;
  if (auto s = DateRangeFlags(ctx, &request, "period.date_range", &range); !s.ok()) {
    return ctx.Usage(std::string(s.message()));
  }
  const std::string period = ctx.args.Get("period", range ? "day-range" : "academic-year");
  if (auto s = SetField(&request, "period.kind", period); !s.ok()) {
    return ctx.Usage(absl::StrCat("--period: \"", period, "\" is not one of ",
                                  absl::StrJoin(EnumChoices(mv1::PeriodKind_descriptor()), ", ")));
  }
  if (ctx.args.Has("anchor")) {
    if (auto s = SetField(&request, "period.anchor_date", ctx.args.Get("anchor")); !s.ok()) {
      return ctx.Usage(absl::StrCat("--anchor: ", s.message()));
    }
  }
  request.set_area(ctx.args.Get("area"));
  if (ctx.args.Has("watch")) return WatchDashboard(ctx, request);
  const auto* method = Method(absl::StrCat(kService, ".GetDashboard"));
  mv1::Dashboard dashboard;
  Outcome outcome = ctx.connection->Call(method, request, &dashboard);
  if (!outcome.ok()) return ctx.Fail("dashboard", method, outcome);
  *ctx.out << RenderMessage(ctx.format, dashboard, ctx.width);
  return kExitOk;
}

int RunSeries(Context& ctx) {
  if (ctx.args.positional.size() != 1) {
    return ctx.Usage(absl::StrCat("series needs one METRIC: ",
                                  absl::StrJoin(EnumChoices(mv1::Metric_descriptor()), ", ")));
  }
  mv1::QuerySeriesRequest request;
  request.set_parent(ctx.ForceParent());
  if (auto s = SetField(&request, "metric", ctx.args.positional[0]); !s.ok()) {
    return ctx.Usage(absl::StrCat("METRIC: ", s.message()));
  }
  if (auto s = SetField(&request, "granularity", ctx.args.Get("by", "month")); !s.ok()) {
    return ctx.Usage(absl::StrCat("--by: ", s.message()));
  }
  if (ctx.args.Has("group-by")) {
    if (auto s = SetField(&request, "group_by", ctx.args.Get("group-by")); !s.ok()) {
      return ctx.Usage(absl::StrCat("--group-by: ", s.message()));
    }
  }
  bool range = false;
  if (auto s = DateRangeFlags(ctx, &request, "date_range", &range); !s.ok())
    return ctx.Usage(std::string(s.message()));
  if (!range) {  // this academic year
    const int year = AcademicYearOf(LocalDay(absl::Now()));
    *request.mutable_date_range()->mutable_start_date() = ToProtoDate(AcademicYearStart(year));
    *request.mutable_date_range()->mutable_end_date() = ToProtoDate(AcademicYearEnd(year));
  }
  request.set_area(ctx.args.Get("area"));
  if (ctx.args.Has("course")) {
    auto course = ExpandName(ctx, ctx.args.Get("course"), "courses", "", "");
    if (!course.ok()) return ctx.Usage(absl::StrCat("--course: ", course.status().message()));
    request.set_course(*course);
  }
  const auto* method = Method(absl::StrCat(kService, ".QuerySeries"));
  mv1::QuerySeriesResponse response;
  Outcome outcome = ctx.connection->Call(method, request, &response);
  if (!outcome.ok()) return ctx.Fail("series", method, outcome);
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    *ctx.out << RenderMessage(ctx.format, response, ctx.width);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& series : response.series()) {
    for (const auto& point : series.points()) {
      rows.push_back(
          {series.group_key(), point.label(), FieldText(point, "bucket.start_date", false),
           FieldText(point, "bucket.end_date", false), FieldText(point, "value", false)});
    }
  }
  *ctx.out << RenderStrings(ctx.format, {"GROUP", "BUCKET", "FROM", "TO", "VALUE"}, rows,
                            ctx.width);
  return kExitOk;
}

}  // namespace

void RegisterMetricsCommands(Registry& registry) {
  registry.Add(Command{{"dashboard"},
                       "",
                       "the force's KPIs for a period (workshops, training, campaigns)",
                       "Periods: day-range (with --from/--to), week, month, term, academic-year, "
                       "financial-year.",
                       {{"period", "KIND", "period kind (default academic-year)"},
                        {"anchor", "DATE", "a local date inside the period (default today)"},
                        {"from", "DATE", "first day of a day range"},
                        {"to", "DATE", "last day of a day range"},
                        {"area", "AREA", "only this area code"},
                        {"watch", "", "keep printing the dashboard as events change it"},
                        {"watch-for", "DURATION", "with --watch: stop after this long (e.g. 10m)"}},
                       true,
                       "",
                       RunDashboard});
  registry.Add(
      Command{{"series"},
              "METRIC",
              "a KPI over time in buckets (default: this academic year by month)",
              "Metrics: " + absl::StrJoin(EnumChoices(mv1::Metric_descriptor()), ", ") +
                  ".\nGranularities: day, week, month, term, academic-year, financial-year.\n"
                  "Groups: area, topic, audience, channel, role (as the metric allows).",
              {{"by", "GRANULARITY", "bucket size (default month)"},
               {"group-by", "DIMENSION", "split by a dimension"},
               {"from", "DATE", "first day"},
               {"to", "DATE", "last day"},
               {"area", "AREA", "only this area code"},
               {"course", "COURSE", "training metrics: only this course"}},
              true,
              "",
              RunSeries});
}

}  // namespace outreach::ctl
