#include "services/metrics/projection.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/calendar.h"
#include "services/metrics/catalogue.h"
#include "services/metrics/domain.h"

namespace outreach::metrics {
namespace {

using E = ev::OutreachEvent;

std::string Day(absl::Time t) { return FormatDay(LocalDay(t)); }
std::string Day(const google::protobuf::Timestamp& ts) { return Day(TimeFromProto(ts)); }
// Validated on ingest, so the date converts.
std::string DayOf(const cv1::Date& d) { return FormatDay(*FromProtoDate("d", d)); }

std::optional<int64_t> OptionalMicros(bool has, const google::protobuf::Timestamp& ts) {
  return has ? std::optional<int64_t>(MicrosFromProto(ts)) : std::nullopt;
}

std::vector<std::string> SortedAreas(const google::protobuf::RepeatedPtrField<std::string>& areas) {
  std::set<std::string> s(areas.begin(), areas.end());
  return {s.begin(), s.end()};
}

template <typename Repeated>
std::vector<std::string> CampaignAudienceNames(const Repeated& audiences) {
  std::set<std::string> out;
  for (int a : audiences) {
    out.insert(cv1::CampaignAudience_Name(static_cast<cv1::CampaignAudience>(a)));
  }
  return {out.begin(), out.end()};
}

constexpr const char* kEngagementKeys[] = {
    rollup::kImpressions, rollup::kReach,      rollup::kEngagements, rollup::kClicks,
    rollup::kShares,      rollup::kAttendance, rollup::kCopies};

// The payload field each rollup of a payload counts (besides the events themselves).
constexpr std::pair<const char*, const char*> kCountedFields[] = {
    {rollup::kImpressions, "impressions"},
    {rollup::kReach, "reach"},
    {rollup::kEngagements, "engagements"},
    {rollup::kClicks, "clicks"},
    {rollup::kShares, "shares"},
    {rollup::kAttendance, "attendance"},
    {rollup::kCopies, "copies_distributed"},
    {rollup::kPupils, "headcount.pupils"},
    {rollup::kParents, "headcount.parents"},
    {rollup::kStaff, "headcount.staff"},
    {rollup::kCommunity, "headcount.community_members"},
    {rollup::kPeople, "headcount"},
    {rollup::kDisclosures, "safeguarding_disclosures"},
    {rollup::kResponses, "feedback.responses"},
    {rollup::kRatingsCount, "feedback.ratings_count"},
    {rollup::kRatingsSum, "feedback.ratings_sum"},
    {rollup::kWhatBefore, "feedback.know_what_to_do"},
    {rollup::kWhatAfter, "feedback.know_what_to_do"},
    {rollup::kWhoBefore, "feedback.know_who_to_tell"},
    {rollup::kWhoAfter, "feedback.know_who_to_tell"},
};

void AddEngagementNumbers(const EngagementReport& r, int sign, RollupDeltas* deltas) {
  std::vector<std::pair<const char*, int64_t>> values;
  for (size_t i = 0; i < r.values.size(); ++i) {
    values.push_back({kEngagementKeys[i], sign * r.values[i]});
  }
  AddCampaignNumbers(r.dims, r.day, values, deltas);
}

int64_t Pupils(const ev::WorkshopDelivered& p) {
  int64_t pupils = 0;
  for (const auto& y : p.headcount().pupils()) pupils += y.pupils();
  return pupils;
}

// Headcounts and feedback of a delivered workshop, by area, force and topic.
void AddDeliveredNumbers(const ev::WorkshopDelivered& p, const std::string& day,
                         RollupDeltas* deltas) {
  const std::string& area = p.area();
  const int64_t pupils = Pupils(p);
  const auto& h = p.headcount();
  const auto& f = p.feedback();
  const std::set<std::string> topics(p.topics().begin(), p.topics().end());
  struct Item {
    const char* metric;
    int64_t value;
    bool by_topic;
  };
  const Item items[] = {
      {rollup::kDelivered, 1, true},
      {rollup::kPupils, pupils, true},
      {rollup::kParents, h.parents(), true},
      {rollup::kStaff, h.staff(), true},
      {rollup::kCommunity, h.community_members(), true},
      {rollup::kPeople, pupils + h.parents() + h.staff() + h.community_members(), true},
      {rollup::kDisclosures, p.safeguarding_disclosures(), true},
      {rollup::kResponses, f.responses(), false},
      {rollup::kRatingsCount, f.ratings_count(), true},
      {rollup::kRatingsSum, f.ratings_sum(), true},
      {rollup::kWhatBefore, f.know_what_to_do().before(), false},
      {rollup::kWhatAfter, f.know_what_to_do().after(), false},
      {rollup::kWhoBefore, f.know_who_to_tell().before(), false},
      {rollup::kWhoAfter, f.know_who_to_tell().after(), false},
  };
  for (const Item& item : items) {
    deltas->Add(item.metric, {"", "A", area, "", day}, item.value);
    deltas->Add(item.metric, {"", "F", "", "", day}, item.value);
    if (!item.by_topic) continue;
    for (const auto& t : topics) deltas->Add(item.metric, {"topic", "A", area, t, day}, item.value);
  }
}

// Workshops by audience, and the people of each audience.
void AddAudienceNumbers(const ev::WorkshopDelivered& p, const std::string& day,
                        RollupDeltas* deltas) {
  const std::string& area = p.area();
  std::set<std::string> audiences;
  for (int a : p.audiences()) {
    audiences.insert(cv1::WorkshopAudience_Name(static_cast<cv1::WorkshopAudience>(a)));
  }
  for (const auto& a : audiences) {
    deltas->Add(rollup::kDelivered, {"audience", "A", area, a, day}, 1);
  }
  const auto& h = p.headcount();
  const std::pair<const char*, int64_t> by_audience[] = {
      {"WORKSHOP_AUDIENCE_PUPILS", Pupils(p)},
      {"WORKSHOP_AUDIENCE_PARENTS", h.parents()},
      {"WORKSHOP_AUDIENCE_STAFF", h.staff()},
      {"WORKSHOP_AUDIENCE_COMMUNITY", h.community_members()}};
  for (const auto& [name, v] : by_audience) {
    deltas->Add(rollup::kPeople, {"audience", "A", area, name, day}, v);
  }
}

std::vector<ProjectedRow> ProjectDelivered(const E& e, RollupDeltas* deltas) {
  const auto& p = e.workshop_delivered();
  const std::string day = Day(p.delivered_time());
  AddDeliveredNumbers(p, day, deltas);
  AddAudienceNumbers(p, day, deltas);
  std::vector<ProjectedRow> rows;
  if (IsSchoolKind(p.venue_kind()) && Pupils(p) > 0) {
    rows.push_back(SchoolVisitRow{e.subject(), p.venue(), p.area(), day});
  }
  rows.push_back(WorkshopRow{e.subject(), "DELIVERED", p.area(),
                             OptionalMicros(p.has_start_time(), p.start_time()),
                             MicrosFromProto(e.occurred_time())});
  return rows;
}

std::vector<ProjectedRow> ProjectWorkshop(const E& e, RollupDeltas* deltas) {
  const int64_t occurred = MicrosFromProto(e.occurred_time());
  switch (e.payload_case()) {
    case E::kWorkshopScheduled: {
      const auto& p = e.workshop_scheduled();
      return {WorkshopRow{e.subject(), "SCHEDULED", p.area(), MicrosFromProto(p.start_time()),
                          occurred}};
    }
    case E::kWorkshopPostponed: {
      const auto& p = e.workshop_postponed();
      return {WorkshopRow{e.subject(), "POSTPONED", p.area(),
                          OptionalMicros(p.has_start_time(), p.start_time()), occurred}};
    }
    case E::kWorkshopCancelled: {
      const auto& p = e.workshop_cancelled();
      const std::string day = Day(e.occurred_time());
      deltas->Add(rollup::kCancelled, {"", "F", "", "", day}, 1);
      deltas->Add(rollup::kCancelled, {"", "A", p.area(), "", day}, 1);
      return {WorkshopRow{e.subject(), "CANCELLED", p.area(),
                          OptionalMicros(p.has_start_time(), p.start_time()), occurred}};
    }
    default:
      return ProjectDelivered(e, deltas);
  }
}

std::vector<ProjectedRow> ProjectTraining(const E& e) {
  const int64_t occurred = MicrosFromProto(e.occurred_time());
  switch (e.payload_case()) {
    case E::kEnrolmentCreated: {
      const auto& p = e.enrolment_created();
      std::optional<std::string> due;
      if (p.has_due_date()) due = DayOf(p.due_date());
      return {EnrolmentRow{e.subject(), p.officer(), p.course(), p.role(), p.division(), true, due,
                           true, Day(e.occurred_time()), occurred}};
    }
    case E::kEnrolmentDueDateChanged: {
      const auto& p = e.enrolment_due_date_changed();
      std::optional<std::string> due;
      if (p.has_due_date()) due = DayOf(p.due_date());
      return {DueDateRow{e.subject(), due}};
    }
    case E::kEnrolmentCompleted: {
      const auto& p = e.enrolment_completed();
      const absl::Time completed = TimeFromProto(p.completed_time());
      return {EnrolmentRow{e.subject(), p.officer(), p.course(), p.role(), p.division(), false,
                           std::nullopt, false, std::nullopt, occurred},
              CertificateRow{e.subject(), p.officer(), p.course(), static_cast<int>(p.role()),
                             p.division(), MicrosFromProto(p.completed_time()), Day(completed),
                             OptionalMicros(p.has_valid_until(), p.valid_until())}};
    }
    case E::kCertificateExpired: {
      const auto& p = e.certificate_expired();
      return {ExpiryRow{e.subject(), p.officer(), p.course(), static_cast<int>(p.role()),
                        p.division(), Day(p.valid_until())}};
    }
    case E::kEnrolmentWithdrawn: {
      const auto& p = e.enrolment_withdrawn();
      return {EnrolmentRow{e.subject(), p.officer(), p.course(), p.role(), p.division(), false,
                           std::nullopt, false, std::nullopt, occurred}};
    }
    default:
      return {};  // module results are stored with the event; no KPI counts them
  }
}

std::vector<ProjectedRow> ProjectCampaign(const E& e, RollupDeltas* deltas) {
  switch (e.payload_case()) {
    case E::kCampaignStateChanged: {
      const auto& p = e.campaign_state_changed();
      return {CampaignChange{e.subject(), static_cast<int>(p.state()),
                             p.state() == cv1::CAMPAIGN_STATE_ACTIVE,
                             p.previous_state() == cv1::CAMPAIGN_STATE_ACTIVE,
                             absl::StrJoin(SortedAreas(p.areas()), ","), p.reach_target(),
                             Day(e.occurred_time()), MicrosFromProto(e.occurred_time())}};
    }
    case E::kActivityPublished: {
      const auto& p = e.activity_published();
      CampaignDims dims{p.channel(), CampaignAudienceNames(p.audiences()), SortedAreas(p.areas())};
      AddCampaignNumbers(dims, Day(EventTime(e)), {{rollup::kPublished, 1}}, deltas);
      return {};
    }
    case E::kEngagementReported: {
      const auto& p = e.engagement_reported();
      return {EngagementReport{
          e.subject(),
          DayOf(p.day()),
          p.revision(),
          {p.channel(), CampaignAudienceNames(p.audiences()), SortedAreas(p.areas())},
          {p.impressions(), p.reach(), p.engagements(), p.clicks(), p.shares(), p.attendance(),
           p.copies_distributed()}}};
    }
    default:
      return {};  // a withdrawn activity's reported numbers stay counted
  }
}

}  // namespace

void RollupDeltas::Add(const char* figure, const RollupKey& cell, int64_t delta) {
  if (delta == 0) return;
  const int i = rollup::FigureIndex(figure);
  auto add = [&](const RollupKey& key) {
    auto it = cells_.find(key);
    if (it == cells_.end()) it = cells_.emplace(key, Figures{}).first;
    it->second[i] += delta;
  };
  add(cell);
  if (cell.scope == "F" && cell.dim_kind.empty()) add(TotalKey());
}

int64_t RollupDeltas::Get(const char* figure, const RollupKey& cell) const {
  auto it = cells_.find(cell);
  return it == cells_.end() ? 0 : it->second[rollup::FigureIndex(figure)];
}

Figures RollupDeltas::Totals() const {
  auto it = cells_.find(TotalKey());
  return it == cells_.end() ? Figures{} : it->second;
}

void RollupDeltas::Merge(const RollupDeltas& other) {
  for (const auto& [key, figures] : other.cells_) {
    Figures& mine = cells_[key];
    for (int i = 0; i < rollup::kFigureCount; ++i) mine[i] += figures[i];
  }
}

void AddCampaignNumbers(const CampaignDims& dims, const std::string& day,
                        const std::vector<std::pair<const char*, int64_t>>& values,
                        RollupDeltas* deltas) {
  std::vector<std::string> areas = dims.areas;
  if (areas.empty()) areas.push_back("*");
  const std::string channel = cv1::Channel_Name(static_cast<cv1::Channel>(dims.channel));
  for (const auto& value : values) {
    // Named copies: a lambda may not capture structured bindings before C++20's P1091 (clang 14).
    const char* metric = value.first;
    const int64_t v = value.second;
    if (v == 0) continue;
    auto all_dims = [&](const std::string& scope, const std::string& area) {
      deltas->Add(metric, {"", scope, area, "", day}, v);
      deltas->Add(metric, {"channel", scope, area, channel, day}, v);
      for (const auto& a : dims.audiences)
        deltas->Add(metric, {"audience", scope, area, a, day}, v);
    };
    all_dims("F", "");
    for (const auto& area : areas) all_dims("A", area);
  }
}

std::string FieldCounting(const ev::OutreachEvent& e, const std::string& metric) {
  const auto* payload = e.GetDescriptor()->FindFieldByNumber(e.payload_case());
  std::string name = payload == nullptr ? "" : payload->name();
  for (const auto& [key, field] : kCountedFields) {
    if (metric == key) return absl::StrCat(name, ".", field);
  }
  return name;
}

std::vector<ProjectedRow> Project(const ev::OutreachEvent& e, RollupDeltas* deltas) {
  const int64_t occurred = MicrosFromProto(e.occurred_time());
  switch (e.payload_case()) {
    case E::kVenueUpserted:
      return {VenueRow{e.subject(), e.venue_upserted().kind(), e.venue_upserted().area(), false,
                       occurred}};
    case E::kVenueDeleted:
      return {VenueRow{e.subject(), e.venue_deleted().kind(), e.venue_deleted().area(), true,
                       occurred}};
    case E::kPresenterAccreditationChanged: {
      const auto& p = e.presenter_accreditation_changed();
      return {PresenterRow{e.subject(), static_cast<int>(p.state()),
                           OptionalMicros(p.has_expire_time(), p.expire_time()), occurred}};
    }
    case E::kOfficerUpserted: {
      const auto& p = e.officer_upserted();
      return {OfficerRow{e.subject(), p.role(), p.division(), p.active(), false, occurred}};
    }
    case E::kOfficerDeleted: {
      const auto& p = e.officer_deleted();
      return {OfficerRow{e.subject(), p.role(), p.division(), false, true, occurred}};
    }
    case E::kWorkshopScheduled:
    case E::kWorkshopPostponed:
    case E::kWorkshopCancelled:
    case E::kWorkshopDelivered:
      return ProjectWorkshop(e, deltas);
    case E::kEnrolmentCreated:
    case E::kEnrolmentDueDateChanged:
    case E::kModuleCompleted:
    case E::kEnrolmentCompleted:
    case E::kCertificateExpired:
    case E::kEnrolmentWithdrawn:
      return ProjectTraining(e);
    case E::kCampaignStateChanged:
    case E::kActivityPublished:
    case E::kActivityWithdrawn:
    case E::kEngagementReported:
      return ProjectCampaign(e, deltas);
    case E::PAYLOAD_NOT_SET:
      break;
  }
  return {};  // ValidateEvent refuses events without a payload
}

CampaignSpan NextCampaignSpan(const CampaignSpan& stored, const CampaignChange& c) {
  CampaignSpan next = stored;
  auto& first = next.first_active_day;
  auto& last = next.last_active_day;
  if (c.active) {
    if (!first.has_value() || c.day < *first) first = c.day;
    if (c.occurred >= stored.occurred) last.reset();
  } else if (first.has_value() && (c.was_active || !last)) {
    if (!last.has_value() || c.day > *last) last = c.day;
  }
  next.occurred = std::max(stored.occurred, c.occurred);
  return next;
}

bool ReplaceEngagement(const std::optional<EngagementReport>& previous,
                       const EngagementReport& report, RollupDeltas* deltas) {
  if (previous.has_value()) {
    if (previous->revision >= report.revision) return false;  // older or equal: ignored
    AddEngagementNumbers(*previous, -1, deltas);
  }
  AddEngagementNumbers(report, 1, deltas);
  return true;
}

}  // namespace outreach::metrics
