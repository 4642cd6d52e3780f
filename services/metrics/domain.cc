#include "services/metrics/domain.h"

#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/bounds.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "common/resource_name.h"
#include "common/validation.h"
#include "google/protobuf/util/json_util.h"

namespace outreach::metrics {
namespace {

int DaysFromMonday(absl::CivilDay day) {
  switch (absl::GetWeekday(day)) {
    case absl::Weekday::monday:
      return 0;
    case absl::Weekday::tuesday:
      return 1;
    case absl::Weekday::wednesday:
      return 2;
    case absl::Weekday::thursday:
      return 3;
    case absl::Weekday::friday:
      return 4;
    case absl::Weekday::saturday:
      return 5;
    case absl::Weekday::sunday:
      return 6;
  }
  return 0;
}

std::string TermName(absl::CivilDay day) {
  if (day.month() >= 9) return "autumn";
  if (day.month() <= 3) return "spring";
  return "summer";
}

// The service that publishes each kind of event: an event from any other source is forged.
absl::string_view SourceOf(ev::OutreachEvent::PayloadCase kind) {
  using E = ev::OutreachEvent;
  switch (kind) {
    case E::kVenueUpserted:
    case E::kVenueDeleted:
    case E::kPresenterAccreditationChanged:
    case E::kWorkshopScheduled:
    case E::kWorkshopPostponed:
    case E::kWorkshopCancelled:
    case E::kWorkshopDelivered:
      return "workshops";
    case E::kOfficerUpserted:
    case E::kOfficerDeleted:
    case E::kEnrolmentCreated:
    case E::kEnrolmentDueDateChanged:
    case E::kModuleCompleted:
    case E::kEnrolmentCompleted:
    case E::kCertificateExpired:
    case E::kEnrolmentWithdrawn:
      return "training";
    case E::kCampaignStateChanged:
    case E::kActivityPublished:
    case E::kActivityWithdrawn:
    case E::kEngagementReported:
      return "campaigns";
    case E::PAYLOAD_NOT_SET:
      break;
  }
  return "";
}

// Every enum field of `m` (nested messages too) must hold a value the proto defines, and an
// entry of a repeated enum must be set: the sources refuse anything else, and an unknown value
// would become a dimension no dashboard can name.
std::optional<Rejection> CheckEnums(const google::protobuf::Message& m, const std::string& path) {
  using google::protobuf::FieldDescriptor;
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string name = absl::StrCat(path, ".", f->name());
    const bool is_enum = f->type() == FieldDescriptor::TYPE_ENUM;
    if (!is_enum && f->type() != FieldDescriptor::TYPE_MESSAGE) continue;
    if (!f->is_repeated()) {
      if (is_enum && f->enum_type()->FindValueByNumber(r->GetEnumValue(m, f)) == nullptr) {
        return Rejection{"FIELD_INVALID", name};
      }
      if (!is_enum && r->HasField(m, f)) {
        if (auto bad = CheckEnums(r->GetMessage(m, f), name); bad.has_value()) return bad;
      }
      continue;
    }
    for (int j = 0; j < r->FieldSize(m, f); ++j) {
      const std::string item = absl::StrCat(name, "[", j, "]");
      if (is_enum) {
        const int v = r->GetRepeatedEnumValue(m, f, j);
        if (v == 0 || f->enum_type()->FindValueByNumber(v) == nullptr) {
          return Rejection{"FIELD_INVALID", item};
        }
      } else if (auto bad = CheckEnums(r->GetRepeatedMessage(m, f, j), item); bad.has_value()) {
        return bad;
      }
    }
  }
  return std::nullopt;
}

// Checks a resource name in a payload: required or optional, of this force.
std::optional<Rejection> CheckName(absl::string_view field, absl::string_view name,
                                   absl::string_view force, bool required) {
  if (name.empty()) {
    if (required) return Rejection{"FIELD_INVALID", std::string(field)};
    return std::nullopt;
  }
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() < 2 || parts[0] != "forces" || parts[1].empty()) {
    return Rejection{"FIELD_INVALID", std::string(field)};
  }
  if (parts[1] != force) return Rejection{"EVENT_FORCE_MISMATCH", std::string(field)};
  if (parts.size() < 4 || parts.size() % 2 != 0) {
    return Rejection{"FIELD_INVALID", std::string(field)};
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    // Every id matches the pattern the sources give their ids (common/resource_name.h).
    if (parts[i].empty() || (i % 2 == 1 && !IsValidResourceId(parts[i]))) {
      return Rejection{"FIELD_INVALID", std::string(field)};
    }
  }
  return std::nullopt;
}

// The sources require an area (workshops) or division (training): 1-32 of [A-Za-z0-9-].
bool IsRequiredArea(absl::string_view area) { return !area.empty() && IsValidArea(area); }

// A list of names of this force, at most `max` and without duplicates (workshops allows 10
// topics and 10 presenters per workshop).
std::optional<Rejection> CheckNames(absl::string_view field,
                                    const google::protobuf::RepeatedPtrField<std::string>& names,
                                    absl::string_view force, int max) {
  if (names.size() > max) return Rejection{"FIELD_INVALID", std::string(field)};
  std::set<absl::string_view> seen;
  for (int i = 0; i < names.size(); ++i) {
    const std::string item = absl::StrCat(field, "[", i, "]");
    if (auto r = CheckName(item, names[i], force, true); r.has_value()) return r;
    if (!seen.insert(names[i]).second) return Rejection{"FIELD_INVALID", item};
  }
  return std::nullopt;
}

// Areas of a campaign event: campaigns allows 50 distinct area codes.
std::optional<Rejection> CheckAreas(absl::string_view field,
                                    const google::protobuf::RepeatedPtrField<std::string>& areas) {
  if (areas.size() > kMaxCampaignAreas) return Rejection{"FIELD_INVALID", std::string(field)};
  std::set<absl::string_view> seen;
  for (int i = 0; i < areas.size(); ++i) {
    if (!IsRequiredArea(areas[i]) || !seen.insert(areas[i]).second) {
      return Rejection{"FIELD_INVALID", absl::StrCat(field, "[", i, "]")};
    }
  }
  return std::nullopt;
}

// Text an event carries gets the checks its source gave it (common/validation.h), with the
// reason of the refusal (PERSONAL_DATA_REFUSED, CONTROL_CHARACTER, BLANK_TEXT).
std::optional<Rejection> CheckEventText(absl::string_view field, absl::string_view text,
                                        size_t max) {
  if (CodePoints(text) > max) return Rejection{"FIELD_INVALID", std::string(field)};
  if (auto bad = CheckTextContent(text, TextKind::kLine, std::string(field)); bad.has_value()) {
    return Rejection{bad->reason, bad->field};
  }
  return std::nullopt;
}

bool ValidTime(const google::protobuf::Timestamp& ts) { return FromProtoTime("t", ts).ok(); }

#define OUTREACH_CHECK(cond, field)                                     \
  do {                                                                  \
    if (!(cond)) return Rejection{"FIELD_INVALID", std::string(field)}; \
  } while (0)
#define OUTREACH_NAME(field, value, required)                                       \
  do {                                                                              \
    if (auto r = CheckName(field, value, force, required); r.has_value()) return r; \
  } while (0)
#define OUTREACH_RETURN_REJECTION(check)           \
  do {                                             \
    if (auto r = (check); r.has_value()) return r; \
  } while (0)

// Venues and presenters.
std::optional<Rejection> ValidateVenuePayload(const ev::OutreachEvent& e) {
  using E = ev::OutreachEvent;
  switch (e.payload_case()) {
    case E::kVenueUpserted: {
      const auto& p = e.venue_upserted();
      OUTREACH_CHECK(p.kind() != cv1::VENUE_KIND_UNSPECIFIED, "venue_upserted.kind");
      OUTREACH_CHECK(IsRequiredArea(p.area()), "venue_upserted.area");
      OUTREACH_CHECK(p.pupil_roll() >= 0 && p.pupil_roll() <= bounds::kMaxPupilRoll,
                     "venue_upserted.pupil_roll");
      return std::nullopt;
    }
    case E::kVenueDeleted:
      OUTREACH_CHECK(IsRequiredArea(e.venue_deleted().area()), "venue_deleted.area");
      return std::nullopt;
    case E::kPresenterAccreditationChanged: {
      const auto& p = e.presenter_accreditation_changed();
      OUTREACH_CHECK(p.state() == cv1::ACCREDITATION_STATE_ACCREDITED ||
                         p.state() == cv1::ACCREDITATION_STATE_SUSPENDED,
                     "presenter_accreditation_changed.state");
      OUTREACH_CHECK(!p.has_expire_time() || ValidTime(p.expire_time()),
                     "presenter_accreditation_changed.expire_time");
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

// Headcount and feedback of a delivery, within workshops' bounds (common/bounds.h): the total
// attendance 1-kMaxHeadcountTotal, feedback counts at most the attendance.
std::optional<Rejection> ValidateDeliveredCounts(const ev::WorkshopDelivered& p) {
  const auto& h = p.headcount();
  std::set<int> years;
  int64_t total = 0;
  for (int i = 0; i < h.pupils_size(); ++i) {
    const auto& y = h.pupils(i);
    OUTREACH_CHECK(y.year_group() >= 0 && y.year_group() <= bounds::kMaxYearGroup &&
                       years.insert(y.year_group()).second,
                   absl::StrCat("workshop_delivered.headcount.pupils[", i, "].year_group"));
    OUTREACH_CHECK(y.pupils() >= 0 && y.pupils() <= bounds::kMaxPupilsPerYear,
                   absl::StrCat("workshop_delivered.headcount.pupils[", i, "].pupils"));
    total += y.pupils();
  }
  for (const auto& [value, name] :
       {std::pair{h.parents(), "parents"}, std::pair{h.staff(), "staff"},
        std::pair{h.community_members(), "community_members"}}) {
    OUTREACH_CHECK(value >= 0 && value <= bounds::kMaxAdults,
                   absl::StrCat("workshop_delivered.headcount.", name));
    total += value;
  }
  OUTREACH_CHECK(total >= 1 && total <= bounds::kMaxHeadcountTotal, "workshop_delivered.headcount");
  const auto& f = p.feedback();
  OUTREACH_CHECK(f.responses() >= 0 && f.responses() <= total,
                 "workshop_delivered.feedback.responses");
  OUTREACH_CHECK(f.ratings_count() >= 0 && f.ratings_count() <= f.responses(),
                 "workshop_delivered.feedback.ratings_count");
  OUTREACH_CHECK(f.ratings_sum() >= f.ratings_count() &&
                     f.ratings_sum() <= 5 * static_cast<int64_t>(f.ratings_count()),
                 "workshop_delivered.feedback.ratings_sum");
  for (const auto& [c, name] : {std::pair{&f.know_what_to_do(), "know_what_to_do"},
                                std::pair{&f.know_who_to_tell(), "know_who_to_tell"}}) {
    OUTREACH_CHECK(c->before() >= 0 && c->before() <= f.responses() && c->after() >= 0 &&
                       c->after() <= f.responses(),
                   absl::StrCat("workshop_delivered.feedback.", name));
  }
  OUTREACH_CHECK(
      p.safeguarding_disclosures() >= 0 && p.safeguarding_disclosures() <= bounds::kMaxDisclosures,
      "workshop_delivered.safeguarding_disclosures");
  return std::nullopt;
}

// A delivery: its names, its time (workshops refuses a delivered_time in the future, so it is
// never after the event that reports it, beyond clock skew) and its counts.
std::optional<Rejection> ValidateDelivered(const ev::OutreachEvent& e, absl::string_view force) {
  const auto& p = e.workshop_delivered();
  OUTREACH_NAME("workshop_delivered.venue", p.venue(), true);
  OUTREACH_CHECK(IsRequiredArea(p.area()), "workshop_delivered.area");
  OUTREACH_CHECK(p.has_delivered_time() && ValidTime(p.delivered_time()) &&
                     TimeFromProto(p.delivered_time()) <=
                         TimeFromProto(e.occurred_time()) + bounds::kMaxClockSkew,
                 "workshop_delivered.delivered_time");
  OUTREACH_RETURN_REJECTION(
      CheckNames("workshop_delivered.topics", p.topics(), force, kMaxWorkshopRefs));
  OUTREACH_RETURN_REJECTION(
      CheckNames("workshop_delivered.presenters", p.presenters(), force, kMaxWorkshopRefs));
  OUTREACH_RETURN_REJECTION(CheckEventText("workshop_delivered.partner_organisation",
                                           p.partner_organisation(), kMaxEventTitle));
  return ValidateDeliveredCounts(p);
}

// Workshop lifecycle and delivery.
std::optional<Rejection> ValidateWorkshopPayload(const ev::OutreachEvent& e,
                                                 absl::string_view force) {
  using E = ev::OutreachEvent;
  switch (e.payload_case()) {
    case E::kWorkshopScheduled: {
      const auto& p = e.workshop_scheduled();
      OUTREACH_NAME("workshop_scheduled.venue", p.venue(), true);
      OUTREACH_CHECK(IsRequiredArea(p.area()), "workshop_scheduled.area");
      OUTREACH_CHECK(p.has_start_time() && ValidTime(p.start_time()),
                     "workshop_scheduled.start_time");
      OUTREACH_RETURN_REJECTION(
          CheckNames("workshop_scheduled.topics", p.topics(), force, kMaxWorkshopRefs));
      OUTREACH_RETURN_REJECTION(
          CheckNames("workshop_scheduled.presenters", p.presenters(), force, kMaxWorkshopRefs));
      std::set<int> years;
      for (int i = 0; i < p.year_groups_size(); ++i) {
        const int y = p.year_groups(i);
        OUTREACH_CHECK(y >= 0 && y <= bounds::kMaxYearGroup && years.insert(y).second,
                       absl::StrCat("workshop_scheduled.year_groups[", i, "]"));
      }
      return std::nullopt;
    }
    case E::kWorkshopPostponed:
      OUTREACH_NAME("workshop_postponed.venue", e.workshop_postponed().venue(), false);
      OUTREACH_CHECK(IsRequiredArea(e.workshop_postponed().area()), "workshop_postponed.area");
      return std::nullopt;
    case E::kWorkshopCancelled:
      OUTREACH_NAME("workshop_cancelled.venue", e.workshop_cancelled().venue(), false);
      OUTREACH_CHECK(IsRequiredArea(e.workshop_cancelled().area()), "workshop_cancelled.area");
      return std::nullopt;
    case E::kWorkshopDelivered:
      return ValidateDelivered(e, force);
    default:
      return std::nullopt;
  }
}

// Officers, enrolments and certificates.
std::optional<Rejection> ValidateTrainingPayload(const ev::OutreachEvent& e,
                                                 absl::string_view force) {
  using E = ev::OutreachEvent;
  switch (e.payload_case()) {
    case E::kOfficerUpserted:
      OUTREACH_CHECK(IsRequiredArea(e.officer_upserted().division()), "officer_upserted.division");
      return std::nullopt;
    case E::kOfficerDeleted:
      return std::nullopt;
    case E::kEnrolmentCreated: {
      const auto& p = e.enrolment_created();
      OUTREACH_NAME("enrolment_created.officer", p.officer(), true);
      OUTREACH_NAME("enrolment_created.course", p.course(), true);
      OUTREACH_NAME("enrolment_created.course_version", p.course_version(), false);
      OUTREACH_CHECK(IsRequiredArea(p.division()), "enrolment_created.division");
      OUTREACH_CHECK(!p.has_due_date() || FromProtoDate("d", p.due_date()).ok(),
                     "enrolment_created.due_date");
      return std::nullopt;
    }
    case E::kEnrolmentDueDateChanged: {
      const auto& p = e.enrolment_due_date_changed();
      OUTREACH_NAME("enrolment_due_date_changed.officer", p.officer(), false);
      OUTREACH_NAME("enrolment_due_date_changed.course", p.course(), false);
      OUTREACH_CHECK(!p.has_due_date() || FromProtoDate("d", p.due_date()).ok(),
                     "enrolment_due_date_changed.due_date");
      return std::nullopt;
    }
    case E::kModuleCompleted: {
      const auto& p = e.module_completed();
      OUTREACH_NAME("module_completed.officer", p.officer(), true);
      OUTREACH_NAME("module_completed.course", p.course(), true);
      OUTREACH_NAME("module_completed.course_version", p.course_version(), false);
      OUTREACH_CHECK(IsValidResourceId(p.module_id()), "module_completed.module_id");
      OUTREACH_CHECK(!p.has_score() || (p.score() >= 0 && p.score() <= 100),
                     "module_completed.score");
      return std::nullopt;
    }
    case E::kEnrolmentCompleted: {
      const auto& p = e.enrolment_completed();
      OUTREACH_NAME("enrolment_completed.officer", p.officer(), true);
      OUTREACH_NAME("enrolment_completed.course", p.course(), true);
      OUTREACH_NAME("enrolment_completed.course_version", p.course_version(), false);
      OUTREACH_CHECK(IsRequiredArea(p.division()), "enrolment_completed.division");
      OUTREACH_CHECK(p.has_completed_time() && ValidTime(p.completed_time()),
                     "enrolment_completed.completed_time");
      OUTREACH_CHECK(!p.has_valid_until() || ValidTime(p.valid_until()),
                     "enrolment_completed.valid_until");
      return std::nullopt;
    }
    case E::kCertificateExpired: {
      const auto& p = e.certificate_expired();
      OUTREACH_NAME("certificate_expired.officer", p.officer(), true);
      OUTREACH_NAME("certificate_expired.course", p.course(), true);
      OUTREACH_CHECK(IsRequiredArea(p.division()), "certificate_expired.division");
      OUTREACH_CHECK(p.has_valid_until() && ValidTime(p.valid_until()),
                     "certificate_expired.valid_until");
      return std::nullopt;
    }
    case E::kEnrolmentWithdrawn:
      OUTREACH_NAME("enrolment_withdrawn.officer", e.enrolment_withdrawn().officer(), false);
      OUTREACH_NAME("enrolment_withdrawn.course", e.enrolment_withdrawn().course(), false);
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// Campaigns, activities and engagement.
std::optional<Rejection> ValidateCampaignPayload(const ev::OutreachEvent& e,
                                                 absl::string_view force) {
  using E = ev::OutreachEvent;
  switch (e.payload_case()) {
    case E::kCampaignStateChanged: {
      const auto& p = e.campaign_state_changed();
      OUTREACH_CHECK(p.state() != cv1::CAMPAIGN_STATE_UNSPECIFIED, "campaign_state_changed.state");
      OUTREACH_RETURN_REJECTION(CheckAreas("campaign_state_changed.areas", p.areas()));
      OUTREACH_CHECK(!p.has_start_date() || FromProtoDate("d", p.start_date()).ok(),
                     "campaign_state_changed.start_date");
      OUTREACH_CHECK(!p.has_end_date() || FromProtoDate("d", p.end_date()).ok(),
                     "campaign_state_changed.end_date");
      OUTREACH_CHECK(p.reach_target() >= 0 && p.reach_target() <= bounds::kMaxReachTarget,
                     "campaign_state_changed.reach_target");
      return std::nullopt;
    }
    case E::kActivityPublished: {
      const auto& p = e.activity_published();
      OUTREACH_NAME("activity_published.campaign", p.campaign(), true);
      OUTREACH_CHECK(p.channel() != cv1::CHANNEL_UNSPECIFIED, "activity_published.channel");
      OUTREACH_RETURN_REJECTION(CheckAreas("activity_published.areas", p.areas()));
      OUTREACH_CHECK(!p.has_publish_time() || ValidTime(p.publish_time()),
                     "activity_published.publish_time");
      return std::nullopt;
    }
    case E::kActivityWithdrawn:
      OUTREACH_NAME("activity_withdrawn.campaign", e.activity_withdrawn().campaign(), false);
      return std::nullopt;
    case E::kEngagementReported: {
      const auto& p = e.engagement_reported();
      OUTREACH_NAME("engagement_reported.campaign", p.campaign(), true);
      OUTREACH_CHECK(p.channel() != cv1::CHANNEL_UNSPECIFIED, "engagement_reported.channel");
      OUTREACH_RETURN_REJECTION(CheckAreas("engagement_reported.areas", p.areas()));
      OUTREACH_CHECK(p.has_day() && FromProtoDate("d", p.day()).ok(), "engagement_reported.day");
      OUTREACH_CHECK(p.revision() >= 1, "engagement_reported.revision");
      // Each number within campaigns' bound, so that no single report can wrap a total.
      for (const auto& [value, name] :
           {std::pair{p.impressions(), "impressions"}, std::pair{p.reach(), "reach"},
            std::pair{p.engagements(), "engagements"}, std::pair{p.clicks(), "clicks"},
            std::pair{p.shares(), "shares"}, std::pair{p.attendance(), "attendance"},
            std::pair{p.copies_distributed(), "copies_distributed"}}) {
        OUTREACH_CHECK(value >= 0 && value <= bounds::kMaxReportNumber,
                       absl::StrCat("engagement_reported.", name));
      }
      OUTREACH_CHECK(p.reach() <= p.impressions(), "engagement_reported.reach");
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

// Dispatches by the owning service (SourceOf); each validator passes the kinds it does not own.
std::optional<Rejection> ValidatePayload(const ev::OutreachEvent& e, absl::string_view force) {
  const absl::string_view source = SourceOf(e.payload_case());
  if (source == "workshops") {
    if (auto r = ValidateVenuePayload(e); r.has_value()) return r;
    return ValidateWorkshopPayload(e, force);
  }
  if (source == "training") return ValidateTrainingPayload(e, force);
  if (source == "campaigns") return ValidateCampaignPayload(e, force);
  return Rejection{"EVENT_PAYLOAD_MISSING", ""};
}

}  // namespace

DayRange IsoWeekOf(absl::CivilDay day) {
  const absl::CivilDay start = day - DaysFromMonday(day);
  return {start, start + 6};
}

DayRange MonthOf(absl::CivilDay day) {
  const absl::CivilMonth m(day);
  return {absl::CivilDay(m), absl::CivilDay(m + 1) - 1};
}

DayRange TermOf(absl::CivilDay day) {
  const auto y = day.year();
  if (day.month() >= 9) return {absl::CivilDay(y, 9, 1), absl::CivilDay(y, 12, 31)};
  if (day.month() <= 3) return {absl::CivilDay(y, 1, 1), absl::CivilDay(y, 3, 31)};
  return {absl::CivilDay(y, 4, 1), absl::CivilDay(y, 8, 31)};
}

DayRange AcademicYearOfDay(absl::CivilDay day) {
  const int y = AcademicYearOf(day);
  return {AcademicYearStart(y), AcademicYearEnd(y)};
}

DayRange FinancialYearOfDay(absl::CivilDay day) {
  const int y = FinancialYearOf(day);
  return {absl::CivilDay(y, 4, 1), absl::CivilDay(y + 1, 3, 31)};
}

absl::StatusOr<DayRange> ParseDateRange(absl::string_view field, const cv1::DateRange& range) {
  std::vector<FieldViolation> bad;
  if (!range.has_start_date()) bad.push_back({absl::StrCat(field, ".start_date"), "is required"});
  if (!range.has_end_date()) bad.push_back({absl::StrCat(field, ".end_date"), "is required"});
  if (!bad.empty()) return InvalidArguments(bad);
  auto start = FromProtoDate(absl::StrCat(field, ".start_date"), range.start_date());
  if (!start.ok()) return start.status();
  auto end = FromProtoDate(absl::StrCat(field, ".end_date"), range.end_date());
  if (!end.ok()) return end.status();
  if (*end < *start) {
    return InvalidArgument(absl::StrCat(field, ".end_date"), "must not be before start_date");
  }
  return DayRange{*start, *end};
}

absl::StatusOr<DayRange> ResolvePeriod(absl::string_view field, const v1::Period& period,
                                       absl::CivilDay today) {
  const std::string kind_field = absl::StrCat(field, ".kind");
  const std::string anchor_field = absl::StrCat(field, ".anchor_date");
  const std::string range_field = absl::StrCat(field, ".date_range");
  if (period.kind() == v1::PERIOD_KIND_DAY_RANGE) {
    if (period.has_anchor_date())
      return InvalidArgument(anchor_field, "must be unset for DAY_RANGE");
    if (!period.has_date_range()) return InvalidArgument(range_field, "is required for DAY_RANGE");
    auto range = ParseDateRange(range_field, period.date_range());
    if (!range.ok()) return range.status();
    if (range->end - range->start + 1 > kMaxPeriodDays) {
      return InvalidArgument(range_field,
                             absl::StrCat("must cover at most ", kMaxPeriodDays, " days"));
    }
    return *range;
  }
  if (period.kind() < v1::PERIOD_KIND_WEEK || period.kind() > v1::PERIOD_KIND_FINANCIAL_YEAR) {
    return InvalidArgument(kind_field,
                           "must be DAY_RANGE, WEEK, MONTH, TERM, ACADEMIC_YEAR or "
                           "FINANCIAL_YEAR");
  }
  if (period.has_date_range()) return InvalidArgument(range_field, "is only allowed for DAY_RANGE");
  absl::CivilDay anchor = today;
  if (period.has_anchor_date()) {
    auto a = FromProtoDate(anchor_field, period.anchor_date());
    if (!a.ok()) return a.status();
    anchor = *a;
  }
  switch (period.kind()) {
    case v1::PERIOD_KIND_WEEK:
      return IsoWeekOf(anchor);
    case v1::PERIOD_KIND_MONTH:
      return MonthOf(anchor);
    case v1::PERIOD_KIND_TERM:
      return TermOf(anchor);
    case v1::PERIOD_KIND_ACADEMIC_YEAR:
      return AcademicYearOfDay(anchor);
    default:
      return FinancialYearOfDay(anchor);
  }
}

std::string IsoWeekLabel(absl::CivilDay day) {
  // The ISO year is the year of the week's Thursday.
  const absl::CivilDay thursday = day - DaysFromMonday(day) + 3;
  const absl::CivilDay jan1(thursday.year(), 1, 1);
  const int week = static_cast<int>((thursday - jan1) / 7) + 1;
  return absl::StrFormat("%04d-W%02d", thursday.year(), week);
}

absl::StatusOr<std::vector<Bucket>> MakeBuckets(v1::Granularity granularity, DayRange range) {
  if (granularity < v1::GRANULARITY_DAY || granularity > v1::GRANULARITY_FINANCIAL_YEAR) {
    return InvalidArgument("granularity",
                           "must be DAY, WEEK, MONTH, TERM, ACADEMIC_YEAR or "
                           "FINANCIAL_YEAR");
  }
  std::vector<Bucket> out;
  absl::CivilDay day = range.start;
  while (day <= range.end) {
    if (out.size() >= static_cast<size_t>(kMaxBuckets)) {
      return InvalidArgument("date_range",
                             absl::StrCat("covers more than ", kMaxBuckets, " buckets"));
    }
    DayRange whole;
    std::string label;
    switch (granularity) {
      case v1::GRANULARITY_DAY:
        whole = {day, day};
        label = FormatDay(day);
        break;
      case v1::GRANULARITY_WEEK:
        whole = IsoWeekOf(day);
        label = IsoWeekLabel(day);
        break;
      case v1::GRANULARITY_MONTH:
        whole = MonthOf(day);
        label = absl::FormatCivilTime(absl::CivilMonth(day));
        break;
      case v1::GRANULARITY_TERM:
        whole = TermOf(day);
        label = absl::StrCat("AY", AcademicYearOf(day), "-", TermName(day));
        break;
      case v1::GRANULARITY_ACADEMIC_YEAR:
        whole = AcademicYearOfDay(day);
        label = absl::StrCat("AY", AcademicYearOf(day));
        break;
      default:
        whole = FinancialYearOfDay(day);
        label = absl::StrCat("FY", FinancialYearOf(day));
        break;
    }
    Bucket b{{std::max(whole.start, range.start), std::min(whole.end, range.end)}, label};
    out.push_back(b);
    day = whole.end + 1;
  }
  return out;
}

bool IsValidArea(absl::string_view area) {
  if (area.size() > 32) return false;
  for (char c : area) {
    if (!absl::ascii_isalnum(c) && c != '-') return false;
  }
  return true;
}

bool IsValidEventId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

std::optional<Rejection> ValidateEvent(const ev::OutreachEvent& e, absl::string_view force,
                                       absl::Time now) {
  if (!IsValidEventId(e.event_id())) return Rejection{"FIELD_INVALID", "event_id"};
  if (e.force() != force) return Rejection{"EVENT_FORCE_MISMATCH", "force"};
  if (e.payload_case() != ev::OutreachEvent::PAYLOAD_NOT_SET &&
      e.source() != SourceOf(e.payload_case())) {
    return Rejection{"FIELD_INVALID", "source"};
  }
  if (!e.has_occurred_time() || !ValidTime(e.occurred_time())) {
    return Rejection{"FIELD_INVALID", "occurred_time"};
  }
  if (*FromProtoTime("t", e.occurred_time()) > now + bounds::kMaxClockSkew) {
    return Rejection{"EVENT_TIME_IN_FUTURE", "occurred_time"};
  }
  if (auto r = CheckName("subject", e.subject(), force, true); r.has_value()) return r;
  if (auto r = ValidatePayload(e, force); r.has_value()) return r;
  const auto* payload = e.GetDescriptor()->FindFieldByNumber(e.payload_case());
  return CheckEnums(e.GetReflection()->GetMessage(e, payload), payload->name());
}

absl::Time EventTime(const ev::OutreachEvent& e) {
  using E = ev::OutreachEvent;
  const google::protobuf::Timestamp* ts = &e.occurred_time();
  switch (e.payload_case()) {
    case E::kWorkshopDelivered:
      ts = &e.workshop_delivered().delivered_time();
      break;
    case E::kEnrolmentCompleted:
      ts = &e.enrolment_completed().completed_time();
      break;
    case E::kModuleCompleted:
      if (e.module_completed().has_completed_time()) ts = &e.module_completed().completed_time();
      break;
    case E::kCertificateExpired:
      ts = &e.certificate_expired().valid_until();
      break;
    case E::kActivityPublished:
      if (e.activity_published().has_publish_time()) ts = &e.activity_published().publish_time();
      break;
    case E::kActivityWithdrawn:
      if (e.activity_withdrawn().has_withdraw_time()) {
        ts = &e.activity_withdrawn().withdraw_time();
      }
      break;
    default:
      break;
  }
  auto t = FromProtoTime("t", *ts);
  return t.ok() ? *t : *FromProtoTime("t", e.occurred_time());
}

bool IsSchoolKind(cv1::VenueKind kind) {
  return kind >= cv1::VENUE_KIND_PRIMARY && kind <= cv1::VENUE_KIND_COLLEGE;
}

absl::Status ValidateSettings(const v1::ForceSettings& s, absl::string_view force) {
  std::vector<FieldViolation> bad;
  CheckText(s.display_name(), 200, /*required=*/false, "force_settings.display_name", &bad,
            TextKind::kLine);
  if (!(s.school_coverage_target_percent() >= 0 && s.school_coverage_target_percent() <= 100)) {
    bad.push_back({"force_settings.school_coverage_target_percent", "must be 0-100"});
  }
  if (s.training_targets_size() > 20) {
    bad.push_back({"force_settings.training_targets", "at most 20 targets"});
  }
  std::set<std::string> courses;
  for (int i = 0; i < s.training_targets_size() && i < 20; ++i) {
    const auto& t = s.training_targets(i);
    const std::string f = absl::StrCat("force_settings.training_targets[", i, "]");
    auto r = CheckName("course", t.course(), force, true);
    std::vector<absl::string_view> parts = absl::StrSplit(t.course(), '/');
    if (r.has_value() || parts.size() != 4 || parts[2] != "courses") {
      bad.push_back({f + ".course", "must be forces/{force}/courses/{course} of this force"});
    } else if (!courses.insert(t.course()).second) {
      bad.push_back({f + ".course", "each course may have one target only"});
    }
    CheckText(t.display_name(), 200, /*required=*/false, f + ".display_name", &bad,
              TextKind::kLine);
    std::set<int> roles;
    if (t.roles_size() > 20) bad.push_back({f + ".roles", "at most 20 roles"});
    for (int r2 : t.roles()) {
      if (r2 == cv1::OFFICER_ROLE_UNSPECIFIED || !cv1::OfficerRole_IsValid(r2) ||
          !roles.insert(r2).second) {
        bad.push_back({f + ".roles", "roles must be set and distinct"});
        break;
      }
    }
    switch (t.target_case()) {
      case v1::TrainingTarget::kOfficers:
        if (t.officers() < 1 || t.officers() > 1000000) {
          bad.push_back({f + ".officers", "must be 1-1000000"});
        }
        break;
      case v1::TrainingTarget::kPercent:
        if (!(t.percent() > 0 && t.percent() <= 100)) {
          bad.push_back({f + ".percent", "must be more than 0 and at most 100"});
        }
        break;
      default:
        bad.push_back({f + ".target", "officers or percent is required"});
    }
  }
  if (!bad.empty()) return InvalidArguments(bad);
  return absl::OkStatus();
}

void FinishTargetStatus(v1::TrainingTargetStatus* s) {
  const int64_t scope = s->officers_in_scope();
  s->set_compliance_percent(scope == 0 ? 0.0
                                       : 100.0 * static_cast<double>(s->officers_current()) /
                                             static_cast<double>(scope));
  int64_t required = 0;
  if (s->target().target_case() == v1::TrainingTarget::kOfficers) {
    required = s->target().officers();
  } else if (s->target().target_case() == v1::TrainingTarget::kPercent) {
    // Rounded up, with a little slack so that 10% of 50 is 5, not 6.
    required = static_cast<int64_t>(
        std::ceil(s->target().percent() * static_cast<double>(scope) / 100.0 - 1e-9));
  }
  s->set_target_officers_required(required);
  s->set_target_met(s->officers_current() >= required);
  s->set_shortfall(std::max<int64_t>(0, required - s->officers_current()));
}

absl::StatusOr<std::string> DashboardJson(const v1::Dashboard& dashboard) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.add_whitespace = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(dashboard, &json, options).ok()) {
    return absl::InternalError("dashboard JSON encoding failed");
  }
  // Outside strings JSON has no <, > or &, so escaping every one keeps the JSON equal and
  // makes it safe inside HTML (a display name of "</script>" stays text); U+2028/U+2029 end a
  // line in older JavaScript.
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xE2' && json.compare(i + 1, 2, "\x80\xA8") == 0) {
      out += "\\u2028";
      i += 2;
    } else if (c == '\xE2' && json.compare(i + 1, 2, "\x80\xA9") == 0) {
      out += "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string LastSegment(absl::string_view name) {
  const size_t slash = name.rfind('/');
  return std::string(slash == absl::string_view::npos ? name : name.substr(slash + 1));
}

}  // namespace outreach::metrics
