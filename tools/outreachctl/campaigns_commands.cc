// campaigns, their activities and engagement reports (outreach.campaigns.v1), the engagement
// import from a platform export's CSV, and a campaign's summary by channel.
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "outreach/campaigns/v1/campaigns.pb.h"
#include "tools/outreachctl/csv.h"
#include "tools/outreachctl/resources.h"

namespace outreach::ctl {

namespace {

namespace cpv1 = outreach::campaigns::v1;
constexpr const char* kService = "outreach.campaigns.v1.CampaignsService";
constexpr int kReportBatch = 500;  // the API's maximum per call

const std::vector<std::string>& ReportColumns() {
  static const std::vector<std::string> columns = {
      "activity", "day",        "impressions",        "reach", "engagements", "clicks",
      "shares",   "attendance", "copies_distributed", "source"};
  return columns;
}

absl::Status ReportFromRow(const Context& ctx, const CsvHeader& header, const CsvRecord& row,
                           cpv1::EngagementReport* report) {
  const std::string activity = header.Get(row, "activity").value_or("");
  if (activity.empty()) return absl::InvalidArgumentError("activity is empty");
  auto name = ExpandName(ctx, activity, "activities", "campaigns", "");
  if (!name.ok())
    return absl::InvalidArgumentError(absl::StrCat("activity: ", name.status().message()));
  report->set_activity(*name);
  const std::string day = header.Get(row, "day").value_or("");
  if (auto s = SetField(report, "day", day); !s.ok()) return s;
  for (const char* column : {"impressions", "reach", "engagements", "clicks", "shares",
                             "attendance", "copies_distributed"}) {
    const std::string value = header.Get(row, column).value_or("");
    if (value.empty()) continue;
    if (auto s = SetField(report, column, value); !s.ok()) return s;
  }
  report->set_source(header.Get(row, "source").value_or(""));
  return absl::OkStatus();
}

std::string CampaignOf(const std::string& activity) {
  return activity.substr(0, activity.find("/activities/"));
}

struct ReportTotals {
  int created = 0, updated = 0, unchanged = 0, rejected = 0;
};

// Sends one campaign's reports. The API takes a batch all or none, so when a batch is refused
// for its contents each report is sent alone: the bad ones are reported by line, the rest kept.
int SendReports(Context& ctx, const std::string& path, const std::string& campaign,
                const std::vector<cpv1::EngagementReport>& reports, const std::vector<int>& lines,
                size_t begin, size_t end, ReportTotals* totals) {
  const auto* method = Method(absl::StrCat(kService, ".ReportEngagement"));
  cpv1::ReportEngagementRequest request;
  request.set_parent(campaign);
  for (size_t i = begin; i < end; ++i) *request.add_reports() = reports[i];
  cpv1::ReportEngagementResponse response;
  Outcome outcome = ctx.connection->Call(method, request, &response);
  if (outcome.ok()) {
    totals->created += response.created();
    totals->updated += response.updated();
    totals->unchanged += response.unchanged();
    return kExitOk;
  }
  const int code =
      outcome.local_error.empty() ? ExitCodeFor(outcome.status.error_code()) : kExitUsage;
  const bool about_contents =
      code == kExitInvalidArgument || code == kExitNotFound || code == kExitRefused;
  if (!about_contents) return ctx.Fail(absl::StrCat("campaigns report ", path), method, outcome);
  if (end - begin == 1) {
    const ErrorDetails details = ParseErrorDetails(outcome.status);
    std::string why = CodeName(outcome.status.error_code());
    if (!details.reason.empty() && details.reason != why)
      absl::StrAppend(&why, " ", details.reason);
    for (const auto& [path, description] : details.violations) {
      // The batch held this one report: its fields are the row's columns.
      absl::string_view field = path;
      absl::ConsumePrefix(&field, "reports[0].");
      absl::StrAppend(&why, "; ", field, ": ", description);
    }
    *ctx.err << path << ":" << lines[begin] << ": rejected: " << why << "\n";
    ++totals->rejected;
    return kExitOk;
  }
  for (size_t i = begin; i < end; ++i) {
    if (int c = SendReports(ctx, path, campaign, reports, lines, i, i + 1, totals); c != kExitOk)
      return c;
  }
  return kExitOk;
}

int RunReport(Context& ctx) {
  if (ctx.args.positional.size() != 1) return ctx.Usage("campaigns report needs one FILE.csv");
  const std::string path = ctx.args.positional[0];
  auto text = ReadFile(path);
  if (!text.ok()) return ctx.Usage(std::string(text.status().message()));
  auto file = ParseCsvFile(path, *text, ReportColumns());
  if (!file.ok()) return ctx.Usage(std::string(file.status().message()));
  const std::vector<CsvRecord>& rows = file->rows;
  const CsvHeader& header = file->header;
  // Reports grouped by campaign, file order kept within each.
  std::map<std::string, std::pair<std::vector<cpv1::EngagementReport>, std::vector<int>>>
      by_campaign;
  int bad = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    cpv1::EngagementReport report;
    absl::Status s = rows[i].error.empty() ? ReportFromRow(ctx, header, rows[i], &report)
                                           : absl::InvalidArgumentError(rows[i].error);
    if (!s.ok()) {
      *ctx.err << path << ":" << rows[i].line << ": bad row: " << s.message() << "\n";
      ++bad;
      continue;
    }
    auto& [reports, lines] = by_campaign[CampaignOf(report.activity())];
    reports.push_back(std::move(report));
    lines.push_back(rows[i].line);
  }
  ReportTotals totals;
  Progress progress(*ctx.err, ctx.interactive);
  size_t sent = 0;
  for (const auto& [campaign, entry] : by_campaign) {
    const auto& [reports, lines] = entry;
    for (size_t begin = 0; begin < reports.size(); begin += kReportBatch) {
      const size_t end = std::min(reports.size(), begin + kReportBatch);
      if (int code = SendReports(ctx, path, campaign, reports, lines, begin, end, &totals);
          code != kExitOk) {
        return code;
      }
      sent += end - begin;
      progress.Update(absl::StrFormat("campaigns report: %d of %d rows", sent, rows.size() - 1));
    }
  }
  progress.Done();
  *ctx.out << absl::StrFormat(
      "%s: %d rows: %d created, %d updated, %d unchanged, %d rejected, %d bad\n", path,
      rows.size() - 1, totals.created, totals.updated, totals.unchanged, totals.rejected, bad);
  return totals.rejected > 0 || bad > 0 ? kExitPartial : kExitOk;
}

int RunSummary(Context& ctx) {
  if (ctx.args.positional.size() != 1)
    return ctx.Usage("campaigns summary needs one campaign NAME");
  auto name = ExpandName(ctx, ctx.args.positional[0], "campaigns", "", "");
  if (!name.ok()) return ctx.Usage(std::string(name.status().message()));
  cpv1::GetCampaignSummaryRequest request;
  request.set_name(*name + "/summary");
  if (ctx.args.Has("from") || ctx.args.Has("to")) {
    if (auto s = SetField(&request, "date_range.start_date", ctx.args.Get("from")); !s.ok()) {
      return ctx.Usage(absl::StrCat("--from: ", s.message()));
    }
    if (auto s = SetField(&request, "date_range.end_date", ctx.args.Get("to")); !s.ok()) {
      return ctx.Usage(absl::StrCat("--to: ", s.message()));
    }
  }
  const auto* method = Method(absl::StrCat(kService, ".GetCampaignSummary"));
  cpv1::CampaignSummary summary;
  Outcome outcome = ctx.connection->Call(method, request, &summary);
  if (!outcome.ok()) return ctx.Fail("campaigns summary " + *name, method, outcome);
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    *ctx.out << RenderMessage(ctx.format, summary, ctx.width);
    return kExitOk;
  }
  std::vector<const google::protobuf::Message*> rows;
  for (const auto& c : summary.channels()) rows.push_back(&c);
  *ctx.out << RenderRows(ctx.format,
                         {{"CHANNEL", "channel"},
                          {"ACTIVITIES", "activities"},
                          {"PUBLISHED", "activities_published"},
                          {"IMPRESSIONS", "totals.impressions"},
                          {"REACH", "totals.reach"},
                          {"ENGAGEMENTS", "totals.engagements"},
                          {"CLICKS", "totals.clicks"},
                          {"ENGAGEMENT_RATE", "totals.engagement_rate"}},
                         rows, ctx.width);
  if (ctx.format == Format::kTable) {
    *ctx.out << absl::StrFormat(
        "total: %d impressions, %d reach (%.1f%% of target %d), %d engagements\n",
        summary.totals().impressions(), summary.totals().reach(),
        summary.reach_target_progress_percent(), summary.reach_target(),
        summary.totals().engagements());
  }
  return kExitOk;
}

}  // namespace

// The command table as data, one resource after another.
// NOLINTNEXTLINE(readability-function-size)
void RegisterCampaignsCommands(Registry& registry) {
  const FieldFlag reason{"reason", "reason", "TEXT", "why (required)"};
  AddResource(
      registry,
      ResourceSpec{{"campaigns"},
                   kService,
                   "Campaign",
                   "Campaigns",
                   "campaigns",
                   "",
                   "",
                   "CreateCampaign",
                   true,
                   true,
                   {{"CAMPAIGN", "id:name"},
                    {"TITLE", "title"},
                    {"STATE", "state"},
                    {"START", "start_date"},
                    {"END", "end_date"},
                    {"REACH_TARGET", "reach_target"}},
                   "",
                   {VerbSpec{"schedule", "ScheduleCampaign", "schedule a draft campaign"},
                    VerbSpec{"activate", "ActivateCampaign", "activate a scheduled campaign"},
                    VerbSpec{"complete", "CompleteCampaign", "complete an active campaign"},
                    VerbSpec{"cancel", "CancelCampaign", "cancel a campaign", {reason}}}});
  AddResource(
      registry,
      ResourceSpec{
          {"campaigns", "activities"},
          kService,
          "Activity",
          "Activities",
          "activities",
          "campaigns",
          "campaign",
          "CreateActivity",
          true,
          true,
          {{"ACTIVITY", "id:name"},
           {"TITLE", "title"},
           {"CHANNEL", "channel"},
           {"STATE", "state"},
           {"SCHEDULED", "scheduled_time"},
           {"PUBLISHED", "publish_time"}},
          "NAME is CAMPAIGN/ACTIVITY, or ACTIVITY with --campaign.",
          {VerbSpec{"publish",
                    "PublishActivity",
                    "mark an activity published",
                    {{"publish-time", "publish_time", "TIME", "when (default now)"},
                     {"external-reference", "external_reference", "REF", "post id or URL"}}},
           VerbSpec{"withdraw", "WithdrawActivity", "withdraw a published activity", {reason}}}});
  AddResource(registry, ResourceSpec{{"campaigns", "engagement"},
                                     kService,
                                     "EngagementReport",
                                     "EngagementReports",
                                     "engagement",
                                     "campaigns",
                                     "campaign",
                                     "",
                                     false,
                                     false,
                                     {{"ACTIVITY", "id:activity"},
                                      {"DAY", "day"},
                                      {"CHANNEL", "channel"},
                                      {"IMPRESSIONS", "impressions"},
                                      {"REACH", "reach"},
                                      {"ENGAGEMENTS", "engagements"},
                                      {"CLICKS", "clicks"},
                                      {"REVISION", "revision"}},
                                     "",
                                     {},
                                     false});
  registry.Add(
      Command{{"campaigns", "report"},
              "FILE.csv",
              "import daily engagement numbers from a platform export's CSV",
              "Columns (header row): activity (CAMPAIGN/ACTIVITY), day (YYYY-MM-DD), impressions,\n"
              "reach, engagements, clicks, shares, attendance, copies_distributed, source.\n"
              "Numbers for an (activity, day) replace the stored ones, so a re-run never double\n"
              "counts. A bad row is reported with its line; exit 8 when rows were rejected.",
              {},
              true,
              "",
              RunReport});
  registry.Add(Command{{"campaigns", "summary"},
                       "NAME",
                       "a campaign's totals and results per channel",
                       "",
                       {{"from", "DATE", "first day (with --to)"}, {"to", "DATE", "last day"}},
                       true,
                       "",
                       RunSummary});
}

}  // namespace outreach::ctl
