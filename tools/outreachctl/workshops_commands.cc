// venues, presenters, topics and workshops (outreach.workshops.v1), and school coverage.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "outreach/workshops/v1/workshops.pb.h"
#include "tools/outreachctl/resources.h"

namespace outreach::ctl {

namespace {

namespace wv1 = outreach::workshops::v1;
constexpr const char* kService = "outreach.workshops.v1.WorkshopsService";

int RunCoverage(Context& ctx) {
  if (!ctx.args.positional.empty()) return ctx.Usage("coverage takes no arguments");
  wv1::GetCoverageRequest request;
  request.set_name(ctx.ForceParent() + "/coverage");
  int year = AcademicYearOf(LocalDay(absl::Now()));
  if (ctx.args.Has("year") && !absl::SimpleAtoi(ctx.args.Get("year"), &year)) {
    return ctx.Usage(
        absl::StrCat("--year: \"", ctx.args.Get("year"), "\" is not a year (2025 = 2025/26)"));
  }
  request.set_academic_year(year);
  request.set_area(ctx.args.Get("area"));
  if (ctx.args.Has("kinds")) {
    if (auto s = SetField(&request, "venue_kinds", ctx.args.Get("kinds")); !s.ok()) {
      return ctx.Usage(absl::StrCat("--kinds: ", s.message()));
    }
  }
  const auto* method = Method(absl::StrCat(kService, ".GetCoverage"));
  wv1::Coverage coverage;
  Outcome outcome = ctx.connection->Call(method, request, &coverage);
  if (!outcome.ok()) return ctx.Fail("workshops coverage", method, outcome);
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    *ctx.out << RenderMessage(ctx.format, coverage, ctx.width);
    return kExitOk;
  }
  std::vector<const google::protobuf::Message*> rows;
  for (const auto& school : coverage.schools()) rows.push_back(&school);
  *ctx.out << RenderRows(ctx.format,
                         {{"VENUE", "id:venue"},
                          {"SCHOOL", "display_name"},
                          {"KIND", "kind"},
                          {"AREA", "area"},
                          {"ROLL", "pupil_roll"},
                          {"REACHED", "reached"},
                          {"WORKSHOPS", "workshops_delivered"},
                          {"PUPILS", "pupils_reached"}},
                         rows, ctx.width);
  if (ctx.format == Format::kTable) {
    *ctx.out << absl::StrFormat(
        "academic year %d/%02d%s: %d of %d schools reached (%.1f%%), %d pupils\n", year,
        (year + 1) % 100, coverage.area().empty() ? "" : ", area " + coverage.area(),
        coverage.schools_reached(), coverage.schools_total(), coverage.schools_reached_percent(),
        coverage.pupils_reached());
  }
  return kExitOk;
}

}  // namespace

// The command table as data, one resource after another.
// NOLINTNEXTLINE(readability-function-size)
void RegisterWorkshopsCommands(Registry& registry) {
  AddResource(registry,
              ResourceSpec{{"venues"},
                           kService,
                           "Venue",
                           "Venues",
                           "venues",
                           "",
                           "",
                           "CreateVenue",
                           true,
                           true,
                           {{"VENUE", "id:name"},
                            {"NAME", "display_name"},
                            {"KIND", "kind"},
                            {"AREA", "area"},
                            {"URN", "school_urn"},
                            {"ROLL", "pupil_roll"}},
                           "Filter fields: display_name, kind, area, school_urn, pupil_roll, "
                           "create_time. Order: display_name (default), area, create_time.",
                           {}});
  AddResource(
      registry,
      ResourceSpec{{"presenters"},
                   kService,
                   "Presenter",
                   "Presenters",
                   "presenters",
                   "",
                   "",
                   "CreatePresenter",
                   true,
                   true,
                   {{"PRESENTER", "id:name"},
                    {"NAME", "display_name"},
                    {"TEAM", "team"},
                    {"ORGANISATION", "organisation"},
                    {"ACCREDITATION", "accreditation.state"},
                    {"EXPIRES", "accreditation.expire_time"}},
                   "Filter fields: display_name, team, organisation, accreditation.state.",
                   {VerbSpec{"grant-accreditation",
                             "GrantAccreditation",
                             "accredit a presenter until --expire-time",
                             {{"expire-time", "expire_time", "TIME", "RFC 3339 time or local date"},
                              {"note", "note", "TEXT", "note (no personal data)"}}},
                    VerbSpec{"suspend-accreditation",
                             "SuspendAccreditation",
                             "suspend a presenter's accreditation",
                             {{"reason", "reason", "TEXT", "why (required)"}}}}});
  AddResource(
      registry,
      ResourceSpec{{"topics"},
                   kService,
                   "Topic",
                   "Topics",
                   "topics",
                   "",
                   "",
                   "CreateTopic",
                   true,
                   true,
                   {{"TOPIC", "id:name"},
                    {"NAME", "display_name"},
                    {"CATEGORY", "category"},
                    {"YEARS", "min_year_group"},
                    {"TO", "max_year_group"},
                    {"VERSION", "version"},
                    {"STATE", "state"}},
                   "Filter fields: category, state, display_name, min_year_group, "
                   "max_year_group, suitable_for_pupils, suitable_for_adults.",
                   {VerbSpec{"retire", "RetireTopic", "retire a topic (no new bookings)"}}});
  AddResource(
      registry,
      ResourceSpec{
          {"workshops"},
          kService,
          "Workshop",
          "Workshops",
          "workshops",
          "",
          "",
          "ScheduleWorkshop",
          true,
          true,
          {{"WORKSHOP", "id:name"},
           {"TITLE", "title"},
           {"STATE", "state"},
           {"START", "start_time"},
           {"AREA", "area"},
           {"VENUE", "id:venue"},
           {"PUPILS", "sum:delivery.headcount.pupils.pupils"},
           {"PARENTS", "delivery.headcount.parents"},
           {"STAFF", "delivery.headcount.staff"}},
          "Filter fields: venue, area, venue_kind, state, format, audiences, year_groups, topics, "
          "presenters, partner_organisation, start_time, end_time, delivery.delivered_time. Enum "
          "values may be written in full (WORKSHOP_STATE_DELIVERED) or short (\"DELIVERED\").\n"
          "Order: start_time (default), end_time, state, area, create_time, update_time.",
          {VerbSpec{
               "deliver",
               "DeliverWorkshop",
               "record a delivery (headcounts, feedback, disclosures) from -f FILE",
               {},
               true,
               true,
               "delivery",
               "FILE is a DeliveryRecord, e.g. {\"actualDurationMinutes\": 60, \"headcount\": "
               "{\"pupils\": [{\"yearGroup\": 9, \"pupils\": 28}], \"staff\": 2}}. The request_id "
               "is derived from NAME and the file, so a re-run records nothing twice."},
           VerbSpec{"cancel",
                    "CancelWorkshop",
                    "cancel a scheduled or postponed workshop",
                    {{"reason", "reason", "TEXT", "why (required)"}}},
           VerbSpec{"postpone",
                    "PostponeWorkshop",
                    "postpone a scheduled workshop without a date",
                    {{"reason", "reason", "TEXT", "why (required)"}}},
           VerbSpec{"reschedule",
                    "RescheduleWorkshop",
                    "move a workshop to new times (and venue)",
                    {{"start-time", "start_time", "TIME", "new start (RFC 3339)"},
                     {"end-time", "end_time", "TIME", "new end (RFC 3339)"},
                     {"venue", "venue", "NAME", "new venue (full name)"},
                     {"reason", "reason", "TEXT", "why"}}}}});
  registry.Add(Command{{"workshops", "coverage"},
                       "",
                       "schools reached and not reached in an academic year",
                       "",
                       {{"year", "YEAR", "academic year by its first year (default: this one)"},
                        {"area", "AREA", "only this area code"},
                        {"kinds", "KINDS", "only these school kinds, e.g. primary,secondary"}},
                       true,
                       "",
                       RunCoverage});
}

}  // namespace outreach::ctl
