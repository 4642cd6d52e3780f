// `outreachctl export <report>`: the reports a force is asked for, as CSV (or a table). Counts
// only: no names, no personal data; officers appear only as counts by role and division.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "outreach/campaigns/v1/campaigns.pb.h"
#include "outreach/training/v1/training.pb.h"
#include "outreach/workshops/v1/workshops.pb.h"
#include "tools/outreachctl/resources.h"

namespace outreach::ctl {

namespace {

namespace tv1 = outreach::training::v1;
namespace wv1 = outreach::workshops::v1;
namespace cpv1 = outreach::campaigns::v1;
namespace cv1 = outreach::common::v1;

std::string Short(const google::protobuf::Message& m, const char* path) {
  return FieldText(m, path, true);
}

std::string YearLabel(int year) { return absl::StrFormat("%d/%02d", year, (year + 1) % 100); }

bool IsSchool(cv1::VenueKind kind) {
  return kind == cv1::VENUE_KIND_PRIMARY || kind == cv1::VENUE_KIND_SECONDARY ||
         kind == cv1::VENUE_KIND_SPECIAL_SCHOOL || kind == cv1::VENUE_KIND_ALTERNATIVE_PROVISION ||
         kind == cv1::VENUE_KIND_COLLEGE;
}

int CheckFormat(const Context& ctx) {
  if (ctx.format == Format::kCsv || ctx.format == Format::kTable) return kExitOk;
  return ctx.Usage("exports are written as csv (the default) or table");
}

int Print(Context& ctx, const std::vector<std::string>& headers,
          const std::vector<std::vector<std::string>>& rows) {
  *ctx.out << RenderStrings(ctx.format, headers, rows, ctx.width);
  return kExitOk;
}

// An academic year from --year (default: this one).
bool YearFlag(Context& ctx, int* year, int* code) {
  *year = AcademicYearOf(LocalDay(absl::Now()));
  if (ctx.args.Has("year") && !absl::SimpleAtoi(ctx.args.Get("year"), year)) {
    *code = ctx.Usage(absl::StrCat("--year: \"", ctx.args.Get("year"), "\" is not a year"));
    return false;
  }
  return true;
}

// --- officers trained per year by role and division (the FOI question) ---
int OfficersTrained(Context& ctx) {
  if (int code = CheckFormat(ctx); code != kExitOk) return code;
  const auto* method = Method("outreach.training.v1.TrainingService.GetComplianceReport");
  tv1::GetComplianceReportRequest base;
  base.set_name(ctx.ForceParent() + "/complianceReport");
  if (ctx.args.Has("year-basis")) {
    if (auto s = SetField(&base, "year_basis", ctx.args.Get("year-basis")); !s.ok()) {
      return ctx.Usage(absl::StrCat("--year-basis: ", s.message()));
    }
  }
  if (ctx.args.Has("course")) {
    auto course = ExpandName(ctx, ctx.args.Get("course"), "courses", "", "");
    if (!course.ok()) return ctx.Usage(absl::StrCat("--course: ", course.status().message()));
    base.set_course(*course);
  }
  int only_year = 0;
  if (ctx.args.Has("year") && !absl::SimpleAtoi(ctx.args.Get("year"), &only_year)) {
    return ctx.Usage(absl::StrCat("--year: \"", ctx.args.Get("year"), "\" is not a year"));
  }
  tv1::ComplianceReport whole;
  Outcome outcome = ctx.connection->Call(method, base, &whole);
  if (!outcome.ok()) return ctx.Fail("export officers-trained", method, outcome);
  // One report per division: completions_by_year is per year and role within the scope.
  std::vector<std::pair<std::string, tv1::ComplianceReport>> reports;
  if (ctx.args.Has("all-divisions")) {
    reports.emplace_back("all", whole);
  } else {
    std::set<std::string> divisions;
    for (const auto& b : whole.breakdown()) divisions.insert(b.division());
    Progress progress(*ctx.err, ctx.interactive);
    for (const auto& division : divisions) {
      progress.Update("export officers-trained: division " + division);
      tv1::GetComplianceReportRequest request = base;
      request.set_division(division);
      tv1::ComplianceReport report;
      outcome = ctx.connection->Call(method, request, &report);
      if (!outcome.ok())
        return ctx.Fail("export officers-trained (division " + division + ")", method, outcome);
      reports.emplace_back(division, std::move(report));
    }
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [division, report] : reports) {
    for (const auto& y : report.completions_by_year()) {
      if (only_year != 0 && y.year() != only_year) continue;
      rows.push_back({absl::StrCat(y.year()), Short(y, "date_range.start_date"),
                      Short(y, "date_range.end_date"), Short(y, "role"), division,
                      absl::StrCat(y.officers()), absl::StrCat(y.completions())});
    }
  }
  std::sort(rows.begin(), rows.end());
  return Print(ctx, {"year", "from", "to", "role", "division", "officers_trained", "completions"},
               rows);
}

// --- workshops per school per academic year, with headcounts ---
int WorkshopsBySchool(Context& ctx) {
  if (int code = CheckFormat(ctx); code != kExitOk) return code;
  wv1::ListVenuesResponse venues;
  {
    wv1::ListVenuesRequest request;
    request.set_parent(ctx.ForceParent());
    request.set_page_size(500);
    const auto* method = Method("outreach.workshops.v1.WorkshopsService.ListVenues");
    if (int code = ListAll(ctx, "export workshops-by-school: venues", method, &request, 0, &venues);
        code != kExitOk) {
      return code;
    }
  }
  std::map<std::string, const wv1::Venue*> venue_by_name;
  for (const auto& v : venues.venues()) venue_by_name[v.name()] = &v;
  wv1::ListWorkshopsResponse workshops;
  {
    wv1::ListWorkshopsRequest request;
    request.set_parent(ctx.ForceParent());
    request.set_page_size(500);
    std::string filter = "state = WORKSHOP_STATE_DELIVERED";
    if (ctx.args.Has("area"))
      absl::StrAppend(&filter, " AND area = \"", ctx.args.Get("area"), "\"");
    request.set_filter(filter);
    const auto* method = Method("outreach.workshops.v1.WorkshopsService.ListWorkshops");
    if (int code =
            ListAll(ctx, "export workshops-by-school: workshops", method, &request, 0, &workshops);
        code != kExitOk) {
      return code;
    }
  }
  int only_year = 0;
  if (ctx.args.Has("year") && !absl::SimpleAtoi(ctx.args.Get("year"), &only_year)) {
    return ctx.Usage(absl::StrCat("--year: \"", ctx.args.Get("year"), "\" is not a year"));
  }
  struct Totals {
    int64_t workshops = 0, pupils = 0, parents = 0, staff = 0, community = 0;
  };
  std::map<std::pair<int, std::string>, Totals> totals;  // (academic year, venue)
  for (const auto& w : workshops.workshops()) {
    if (!IsSchool(w.venue_kind())) continue;
    const auto& when =
        w.delivery().has_delivered_time() ? w.delivery().delivered_time() : w.start_time();
    const int year = AcademicYearOf(LocalDay(TimeFromProto(when)));
    if (only_year != 0 && year != only_year) continue;
    Totals& t = totals[{year, w.venue()}];
    ++t.workshops;
    for (const auto& p : w.delivery().headcount().pupils()) t.pupils += p.pupils();
    t.parents += w.delivery().headcount().parents();
    t.staff += w.delivery().headcount().staff();
    t.community += w.delivery().headcount().community_members();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, t] : totals) {
    const auto it = venue_by_name.find(key.second);
    const wv1::Venue* v = it == venue_by_name.end() ? nullptr : it->second;
    rows.push_back({YearLabel(key.first), v != nullptr ? v->area() : "",
                    key.second.substr(key.second.rfind('/') + 1),
                    v != nullptr ? v->display_name() : "", v != nullptr ? Short(*v, "kind") : "",
                    v != nullptr ? absl::StrCat(v->pupil_roll()) : "", absl::StrCat(t.workshops),
                    absl::StrCat(t.pupils), absl::StrCat(t.parents), absl::StrCat(t.staff),
                    absl::StrCat(t.community)});
  }
  std::sort(rows.begin(), rows.end());
  return Print(ctx,
               {"academic_year", "area", "venue", "school", "kind", "pupil_roll", "workshops",
                "pupils", "parents", "staff", "community_members"},
               rows);
}

// --- schools not yet reached this academic year, per area ---
int SchoolsNotReached(Context& ctx) {
  if (int code = CheckFormat(ctx); code != kExitOk) return code;
  int year = 0;
  int code = 0;
  if (!YearFlag(ctx, &year, &code)) return code;
  wv1::GetCoverageRequest request;
  request.set_name(ctx.ForceParent() + "/coverage");
  request.set_academic_year(year);
  request.set_area(ctx.args.Get("area"));
  const auto* method = Method("outreach.workshops.v1.WorkshopsService.GetCoverage");
  wv1::Coverage coverage;
  Outcome outcome = ctx.connection->Call(method, request, &coverage);
  if (!outcome.ok()) return ctx.Fail("export schools-not-reached", method, outcome);
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : coverage.schools()) {
    if (s.reached()) continue;
    rows.push_back({YearLabel(year), s.area(), s.venue().substr(s.venue().rfind('/') + 1),
                    s.display_name(), Short(s, "kind"), absl::StrCat(s.pupil_roll())});
  }
  std::sort(rows.begin(), rows.end());
  return Print(ctx, {"academic_year", "area", "venue", "school", "kind", "pupil_roll"}, rows);
}

// --- campaign results per channel ---
int CampaignChannels(Context& ctx) {
  if (int code = CheckFormat(ctx); code != kExitOk) return code;
  std::vector<std::string> campaigns;
  if (ctx.args.Has("campaign")) {
    auto name = ExpandName(ctx, ctx.args.Get("campaign"), "campaigns", "", "");
    if (!name.ok()) return ctx.Usage(absl::StrCat("--campaign: ", name.status().message()));
    campaigns.push_back(*name);
  } else {
    cpv1::ListCampaignsRequest request;
    request.set_parent(ctx.ForceParent());
    cpv1::ListCampaignsResponse all;
    const auto* method = Method("outreach.campaigns.v1.CampaignsService.ListCampaigns");
    if (int code = ListAll(ctx, "export campaign-channels: campaigns", method, &request, 0, &all);
        code != kExitOk) {
      return code;
    }
    for (const auto& c : all.campaigns()) campaigns.push_back(c.name());
  }
  const auto* method = Method("outreach.campaigns.v1.CampaignsService.GetCampaignSummary");
  std::vector<std::vector<std::string>> rows;
  Progress progress(*ctx.err, ctx.interactive);
  for (const auto& campaign : campaigns) {
    progress.Update("export campaign-channels: " + campaign);
    cpv1::GetCampaignSummaryRequest request;
    request.set_name(campaign + "/summary");
    cpv1::CampaignSummary summary;
    Outcome outcome = ctx.connection->Call(method, request, &summary);
    if (!outcome.ok()) return ctx.Fail("export campaign-channels " + campaign, method, outcome);
    for (const auto& c : summary.channels()) {
      rows.push_back({campaign.substr(campaign.rfind('/') + 1), Short(summary, "state"),
                      Short(c, "channel"), absl::StrCat(c.activities()),
                      absl::StrCat(c.activities_published()),
                      absl::StrCat(c.totals().impressions()), absl::StrCat(c.totals().reach()),
                      absl::StrCat(c.totals().engagements()), absl::StrCat(c.totals().clicks()),
                      absl::StrCat(c.totals().shares()), absl::StrCat(c.totals().attendance()),
                      absl::StrCat(c.totals().copies_distributed()),
                      absl::StrFormat("%.4f", c.totals().engagement_rate()),
                      absl::StrFormat("%.4f", c.totals().click_through_rate())});
    }
  }
  return Print(ctx,
               {"campaign", "state", "channel", "activities", "activities_published", "impressions",
                "reach", "engagements", "clicks", "shares", "attendance", "copies_distributed",
                "engagement_rate", "click_through_rate"},
               rows);
}

}  // namespace

void RegisterExportCommands(Registry& registry) {
  const char* const kNote =
      "Counts only; no personal data. Written as CSV (-o table to read it here).";
  registry.Add(Command{{"export", "officers-trained"},
                       "",
                       "officers trained per year by role and division (the FOI question)",
                       kNote,
                       {{"year", "YEAR", "only this year"},
                        {"year-basis", "BASIS", "calendar (default), financial or academic years"},
                        {"course", "COURSE", "only this course (default: any course)"},
                        {"all-divisions", "", "one row per year and role, divisions together"}},
                       true,
                       "csv",
                       OfficersTrained});
  registry.Add(Command{{"export", "workshops-by-school"},
                       "",
                       "delivered workshops per school per academic year, with headcounts",
                       kNote,
                       {{"year", "YEAR", "only this academic year (by its first year)"},
                        {"area", "AREA", "only this area code"}},
                       true,
                       "csv",
                       WorkshopsBySchool});
  registry.Add(Command{{"export", "schools-not-reached"},
                       "",
                       "schools not yet reached in an academic year, by area",
                       kNote,
                       {{"year", "YEAR", "academic year by its first year (default: this one)"},
                        {"area", "AREA", "only this area code"}},
                       true,
                       "csv",
                       SchoolsNotReached});
  registry.Add(Command{{"export", "campaign-channels"},
                       "",
                       "campaign results per channel",
                       kNote,
                       {{"campaign", "CAMPAIGN", "only this campaign (default: all)"}},
                       true,
                       "csv",
                       CampaignChannels});
}

}  // namespace outreach::ctl
