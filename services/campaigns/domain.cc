#include "services/campaigns/domain.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/calendar.h"
#include "common/field_mask.h"
#include "common/status_macros.h"
#include "google/protobuf/util/message_differencer.h"

namespace outreach::campaigns {
namespace {

bool Wants(const std::set<std::string>* fields, const char* name) {
  return fields == nullptr || fields->count(name) > 0;
}

template <typename Repeated>
void CheckAudiences(const Repeated& audiences, size_t min, const std::string& field,
                    std::vector<FieldViolation>* out) {
  if (audiences.size() < static_cast<int>(min) || audiences.size() > 6) {
    out->push_back(
        {field, min == 0 ? "must hold at most 6 audiences" : "must hold 1-6 distinct audiences"});
    return;
  }
  std::set<int> seen;
  for (int i = 0; i < audiences.size(); ++i) {
    const int a = audiences.Get(i);
    if (a == cpb::CAMPAIGN_AUDIENCE_UNSPECIFIED || !cpb::CampaignAudience_IsValid(a)) {
      out->push_back({absl::StrCat(field, "[", i, "]"), "must be a known audience"});
    } else if (!seen.insert(a).second) {
      out->push_back({absl::StrCat(field, "[", i, "]"), "is a duplicate"});
    }
  }
}

bool IsAreaCode(absl::string_view code) {
  if (code.empty() || code.size() > 32) return false;
  return std::all_of(code.begin(), code.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '-'; });
}

bool IsMedium(absl::string_view medium) {
  if (medium.empty() || medium.size() > 32) return false;
  return std::all_of(medium.begin(), medium.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '-';
  });
}

absl::Status StateError(absl::string_view reason, absl::string_view message,
                        cpb::CampaignState state) {
  return WithMetadata(FailedPrecondition(reason, message),
                      {{"state", cpb::CampaignState_Name(state)}});
}

double Ratio(int64_t numerator, int64_t denominator) {
  if (denominator <= 0) return 0.0;
  return static_cast<double>(numerator) / static_cast<double>(denominator);
}

}  // namespace

bool IsValidLink(absl::string_view uri, bool https_only) {
  if (uri.empty()) return true;
  if (uri.size() > 2000) return false;
  absl::string_view rest = uri;
  if (!absl::ConsumePrefix(&rest, "https://") &&
      (https_only || !absl::ConsumePrefix(&rest, "http://"))) {
    return false;
  }
  for (char c : uri) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || u >= 0x80 || c == '"' || c == '<' || c == '>' || c == '\\' ||
        c == '^' || c == '`' || c == '{' || c == '|' || c == '}') {
      return false;
    }
  }
  const size_t host_end = rest.find_first_of("/?#");
  absl::string_view authority = rest.substr(0, host_end);
  if (authority.empty() || authority.find('@') != absl::string_view::npos) return false;
  absl::string_view host = authority.substr(0, authority.find(':'));
  return !host.empty() && host.front() != '.' && host.back() != '.';
}

void ValidateCampaign(const pb::Campaign& c, absl::string_view prefix,
                      const std::set<std::string>* fields, std::vector<FieldViolation>* out) {
  if (Wants(fields, "title")) {
    CheckText(c.title(), 200, true, FieldPath(prefix, "title"), out, TextKind::kLine);
  }
  if (Wants(fields, "description")) {
    CheckText(c.description(), 2000, false, FieldPath(prefix, "description"), out);
  }
  if (Wants(fields, "key_messages")) {
    if (c.key_messages_size() > 10) {
      out->push_back({FieldPath(prefix, "key_messages"), "must hold at most 10 messages"});
    } else {
      for (int i = 0; i < c.key_messages_size(); ++i) {
        CheckText(c.key_messages(i), 500, true,
                  absl::StrCat(FieldPath(prefix, "key_messages"), "[", i, "]"), out,
                  TextKind::kLine);
      }
    }
  }
  if (Wants(fields, "audiences"))
    CheckAudiences(c.audiences(), 1, FieldPath(prefix, "audiences"), out);
  if (Wants(fields, "areas")) {
    if (c.areas_size() > 50) {
      out->push_back({FieldPath(prefix, "areas"), "must hold at most 50 area codes"});
    } else {
      std::set<std::string> seen;
      for (int i = 0; i < c.areas_size(); ++i) {
        const std::string field = absl::StrCat(FieldPath(prefix, "areas"), "[", i, "]");
        if (!IsAreaCode(c.areas(i))) {
          out->push_back({field, "must be 1-32 characters of [A-Za-z0-9-]"});
        } else if (!seen.insert(c.areas(i)).second) {
          out->push_back({field, "is a duplicate"});
        }
      }
    }
  }
  std::optional<absl::CivilDay> start, end;
  auto check_date = [&](const char* name, bool has, const cpb::Date& date,
                        std::optional<absl::CivilDay>* out_day) {
    if (!Wants(fields, name)) return;
    const std::string field = FieldPath(prefix, name);
    if (!has) {
      out->push_back({field, "is required"});
    } else if (auto d = FromProtoDate(field, date); d.ok()) {
      *out_day = *d;
    } else {
      out->push_back({field, "must be a valid date (years 2000-2100)"});
    }
  };
  check_date("start_date", c.has_start_date(), c.start_date(), &start);
  check_date("end_date", c.has_end_date(), c.end_date(), &end);
  // The range is checked when both dates are at hand (an update of one date is checked again
  // on the merged campaign).
  if (start && end) {
    const std::string end_field = FieldPath(prefix, "end_date");
    if (*end < *start) {
      out->push_back({end_field, "must be on or after start_date"});
    } else if (*end - *start > 731) {
      out->push_back({end_field, "must be at most 731 days after start_date"});
    }
  }
  if (Wants(fields, "reach_target") &&
      (c.reach_target() < 0 || c.reach_target() > kMaxReachTarget)) {
    out->push_back({FieldPath(prefix, "reach_target"), "must be 0-1000000000"});
  }
  if (Wants(fields, "landing_page_uri") && !IsValidLink(c.landing_page_uri(), true)) {
    out->push_back(
        {FieldPath(prefix, "landing_page_uri"), "must be an https URI of at most 2000 characters"});
  }
}

void ValidateActivity(const pb::Activity& a, absl::string_view prefix,
                      const std::set<std::string>* fields, std::vector<FieldViolation>* out) {
  if (Wants(fields, "title")) {
    CheckText(a.title(), 200, true, FieldPath(prefix, "title"), out, TextKind::kLine);
  }
  if (fields == nullptr &&
      (a.channel() == cpb::CHANNEL_UNSPECIFIED || !cpb::Channel_IsValid(a.channel()))) {
    out->push_back({FieldPath(prefix, "channel"), "is required: a known channel"});
  }
  if (Wants(fields, "message_text")) {
    CheckText(a.message_text(), 2000, false, FieldPath(prefix, "message_text"), out);
  }
  if (Wants(fields, "link_uri") && !IsValidLink(a.link_uri(), false)) {
    out->push_back(
        {FieldPath(prefix, "link_uri"), "must be an http(s) URI of at most 2000 characters"});
  }
  if (Wants(fields, "utm_medium") && !a.utm_medium().empty() && !IsMedium(a.utm_medium())) {
    out->push_back({FieldPath(prefix, "utm_medium"), "must be 1-32 characters of [a-z0-9_-]"});
  }
  if (Wants(fields, "scheduled_time")) {
    const std::string field = FieldPath(prefix, "scheduled_time");
    if (!a.has_scheduled_time()) {
      out->push_back({field, "is required"});
    } else if (!FromProtoTime(field, a.scheduled_time()).ok()) {
      out->push_back({field, "must be a valid timestamp"});
    }
  }
  if (Wants(fields, "audiences"))
    CheckAudiences(a.audiences(), 0, FieldPath(prefix, "audiences"), out);
  if (Wants(fields, "external_reference")) {
    CheckText(a.external_reference(), 200, false, FieldPath(prefix, "external_reference"), out,
              TextKind::kLine);
  }
}

bool IsClosed(cpb::CampaignState state) {
  return state == cpb::CAMPAIGN_STATE_COMPLETED || state == cpb::CAMPAIGN_STATE_CANCELLED;
}

absl::CivilDay StartDay(const pb::Campaign& c) {
  return absl::CivilDay(c.start_date().year(), c.start_date().month(), c.start_date().day());
}
absl::CivilDay EndDay(const pb::Campaign& c) {
  return absl::CivilDay(c.end_date().year(), c.end_date().month(), c.end_date().day());
}

absl::Status CheckCanSchedule(const pb::Campaign& c, absl::CivilDay today) {
  if (c.state() != cpb::CAMPAIGN_STATE_DRAFT) {
    return StateError(kCampaignNotDraft, "only a DRAFT campaign can be scheduled", c.state());
  }
  if (EndDay(c) < today) {
    return WithMetadata(
        FailedPrecondition(kCampaignEnded, "the campaign's end_date is before today"),
        {{"end_date", FormatDay(EndDay(c))}});
  }
  return absl::OkStatus();
}

absl::Status CheckCanActivate(const pb::Campaign& c, absl::CivilDay today) {
  if (c.state() != cpb::CAMPAIGN_STATE_SCHEDULED) {
    return StateError(kCampaignNotScheduled, "only a SCHEDULED campaign can be activated",
                      c.state());
  }
  if (EndDay(c) < today) {
    return WithMetadata(
        FailedPrecondition(kCampaignEnded, "the campaign's end_date is before today"),
        {{"end_date", FormatDay(EndDay(c))}});
  }
  return absl::OkStatus();
}

absl::Status CheckCanComplete(const pb::Campaign& c) {
  if (c.state() != cpb::CAMPAIGN_STATE_ACTIVE) {
    return StateError(kCampaignNotActive, "only an ACTIVE campaign can be completed", c.state());
  }
  return absl::OkStatus();
}

absl::Status CheckCanCancel(const pb::Campaign& c) {
  if (IsClosed(c.state())) {
    return StateError(kCampaignClosed, "the campaign is already completed or cancelled", c.state());
  }
  return absl::OkStatus();
}

absl::Status CheckCanDelete(const pb::Campaign& c) {
  if (c.state() != cpb::CAMPAIGN_STATE_DRAFT) {
    return StateError(kCampaignNotDraft, "only a DRAFT campaign can be deleted; cancel it instead",
                      c.state());
  }
  return absl::OkStatus();
}

absl::Status CheckOpen(const pb::Campaign& c) {
  if (IsClosed(c.state())) {
    return StateError(kCampaignClosed, "the campaign is completed or cancelled", c.state());
  }
  return absl::OkStatus();
}

absl::Status CheckLive(const pb::Campaign& c) {
  if (IsClosed(c.state())) return CheckOpen(c);
  if (c.state() != cpb::CAMPAIGN_STATE_SCHEDULED && c.state() != cpb::CAMPAIGN_STATE_ACTIVE) {
    return StateError(kCampaignNotLive,
                      "the campaign is still DRAFT: schedule it before publishing activities",
                      c.state());
  }
  return absl::OkStatus();
}

std::vector<Transition> DueTransitions(const pb::Campaign& c, absl::Time now) {
  std::vector<Transition> out;
  if (!c.follow_dates()) return out;
  const absl::Time start = StartOfLocalDay(StartDay(c));
  const absl::Time after_end = StartOfLocalDay(EndDay(c) + 1);
  // A transition happens when its date comes, but never before the current state began (a
  // campaign scheduled after its start date is activated when it is scheduled).
  absl::Time since =
      absl::FromUnixSeconds(c.state_time().seconds()) + absl::Nanoseconds(c.state_time().nanos());
  cpb::CampaignState state = c.state();
  if (state == cpb::CAMPAIGN_STATE_SCHEDULED && now >= start) {
    since = std::max(since, start);
    out.push_back({state, cpb::CAMPAIGN_STATE_ACTIVE, since});
    state = cpb::CAMPAIGN_STATE_ACTIVE;
  }
  if (state == cpb::CAMPAIGN_STATE_ACTIVE && now >= after_end) {
    out.push_back({state, cpb::CAMPAIGN_STATE_COMPLETED, std::max(since, after_end)});
  }
  return out;
}

absl::Status CheckInsideCampaign(const pb::Campaign& c, absl::CivilDay day,
                                 absl::string_view activity_name) {
  if (day < StartDay(c) || day > EndDay(c)) {
    return WithMetadata(
        FailedPrecondition(kActivityOutsideDates,
                           absl::StrCat("the activity's date ", FormatDay(day),
                                        " is outside the campaign's dates ", FormatDay(StartDay(c)),
                                        "..", FormatDay(EndDay(c)))),
        {{"activity", std::string(activity_name)}});
  }
  return absl::OkStatus();
}

absl::CivilDay ActivityDay(const pb::Activity& a) {
  const auto& t = a.has_publish_time() ? a.publish_time() : a.scheduled_time();
  return LocalDay(absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()));
}

std::string ChannelSource(cpb::Channel channel) {
  std::string name = cpb::Channel_Name(channel);
  absl::string_view view = name;
  absl::ConsumePrefix(&view, "CHANNEL_");
  return absl::AsciiStrToLower(view);
}

std::string DefaultMedium(cpb::Channel channel) {
  switch (channel) {
    case cpb::CHANNEL_PRESS_RELEASE:
      return "press";
    case cpb::CHANNEL_WEBSITE:
      return "website";
    case cpb::CHANNEL_LEAFLET:
      return "print";
    case cpb::CHANNEL_RADIO:
      return "radio";
    case cpb::CHANNEL_COMMUNITY_EVENT:
      return "event";
    default:
      return "social";
  }
}

std::string PercentEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

std::string BuildTrackingUrl(absl::string_view link, absl::string_view source,
                             absl::string_view medium, absl::string_view campaign_id,
                             absl::string_view activity_id) {
  if (link.empty()) return "";
  absl::string_view rest = link;
  absl::string_view fragment;
  if (size_t hash = rest.find('#'); hash != absl::string_view::npos) {
    fragment = rest.substr(hash);
    rest = rest.substr(0, hash);
  }
  absl::string_view base = rest;
  std::vector<std::string> params;
  if (size_t q = rest.find('?'); q != absl::string_view::npos) {
    base = rest.substr(0, q);
    for (absl::string_view param : absl::StrSplit(rest.substr(q + 1), '&', absl::SkipEmpty())) {
      absl::string_view key = param.substr(0, param.find('='));
      const std::string lower = absl::AsciiStrToLower(key);
      if (lower == "utm_source" || lower == "utm_medium" || lower == "utm_campaign" ||
          lower == "utm_content") {
        continue;
      }
      params.emplace_back(param);
    }
  }
  params.push_back(absl::StrCat("utm_source=", PercentEncode(source)));
  params.push_back(absl::StrCat("utm_medium=", PercentEncode(medium)));
  params.push_back(absl::StrCat("utm_campaign=", PercentEncode(campaign_id)));
  params.push_back(absl::StrCat("utm_content=", PercentEncode(activity_id)));
  return absl::StrCat(base, "?", absl::StrJoin(params, "&"), fragment);
}

bool SameNumbers(const pb::EngagementReport& a, const pb::EngagementReport& b) {
  return a.impressions() == b.impressions() && a.reach() == b.reach() &&
         a.engagements() == b.engagements() && a.clicks() == b.clicks() &&
         a.shares() == b.shares() && a.attendance() == b.attendance() &&
         a.copies_distributed() == b.copies_distributed();
}

void ValidateReportNumbers(const pb::EngagementReport& r, absl::string_view prefix,
                           std::vector<FieldViolation>* out) {
  const std::pair<const char*, int64_t> numbers[] = {
      {"impressions", r.impressions()},
      {"reach", r.reach()},
      {"engagements", r.engagements()},
      {"clicks", r.clicks()},
      {"shares", r.shares()},
      {"attendance", r.attendance()},
      {"copies_distributed", r.copies_distributed()}};
  for (const auto& [name, value] : numbers) {
    if (value < 0 || value > kMaxReportNumber) {
      out->push_back({FieldPath(prefix, name), "must be 0-1000000000000"});
    }
  }
  if (r.reach() > r.impressions()) {
    out->push_back({FieldPath(prefix, "reach"), "must not exceed impressions"});
  }
  CheckText(r.source(), 64, false, FieldPath(prefix, "source"), out, TextKind::kLine);
}

absl::Status CheckReportable(const pb::Activity& a, absl::CivilDay day, int index) {
  const std::string idx = absl::StrCat(index);
  if (!a.has_publish_time()) {
    return WithMetadata(FailedPrecondition(kActivityNotPublished,
                                           "engagement can only be reported for a published "
                                           "activity"),
                        {{"activity", a.name()}, {"index", idx}});
  }
  const absl::CivilDay published = ActivityDay(a);
  if (day < published) {
    return WithMetadata(
        FailedPrecondition(
            kReportBeforePublication,
            absl::StrCat("day ", FormatDay(day), " is before the activity's publication date ",
                         FormatDay(published))),
        {{"activity", a.name()}, {"index", idx}, {"publish_date", FormatDay(published)}});
  }
  if (a.state() == pb::ACTIVITY_STATE_WITHDRAWN && a.has_withdraw_time()) {
    const absl::CivilDay withdrawn = LocalDay(absl::FromUnixSeconds(a.withdraw_time().seconds()) +
                                              absl::Nanoseconds(a.withdraw_time().nanos()));
    if (day > withdrawn) {
      return WithMetadata(
          FailedPrecondition(
              kReportAfterWithdrawal,
              absl::StrCat("day ", FormatDay(day), " is after the activity's withdrawal date ",
                           FormatDay(withdrawn))),
          {{"activity", a.name()}, {"index", idx}, {"withdraw_date", FormatDay(withdrawn)}});
    }
  }
  return absl::OkStatus();
}

pb::EngagementTotals MakeTotals(const Counts& c) {
  pb::EngagementTotals t;
  t.set_impressions(c.impressions);
  t.set_reach(c.reach);
  t.set_engagements(c.engagements);
  t.set_clicks(c.clicks);
  t.set_shares(c.shares);
  t.set_attendance(c.attendance);
  t.set_copies_distributed(c.copies_distributed);
  t.set_engagement_rate(Ratio(c.engagements, c.impressions));
  t.set_click_through_rate(Ratio(c.clicks, c.impressions));
  return t;
}

void FillSummary(const std::vector<ChannelFigures>& channels, int64_t reach_target,
                 pb::CampaignSummary* summary) {
  Counts all;
  std::vector<pb::ChannelSummary> rows;
  for (const auto& ch : channels) {
    all.impressions += ch.counts.impressions;
    all.reach += ch.counts.reach;
    all.engagements += ch.counts.engagements;
    all.clicks += ch.counts.clicks;
    all.shares += ch.counts.shares;
    all.attendance += ch.counts.attendance;
    all.copies_distributed += ch.counts.copies_distributed;
    pb::ChannelSummary row;
    row.set_channel(ch.channel);
    row.set_activities(ch.activities);
    row.set_activities_published(ch.activities_published);
    *row.mutable_totals() = MakeTotals(ch.counts);
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const pb::ChannelSummary& a, const pb::ChannelSummary& b) {
    if (a.totals().engagement_rate() != b.totals().engagement_rate()) {
      return a.totals().engagement_rate() > b.totals().engagement_rate();
    }
    return a.channel() < b.channel();
  });
  *summary->mutable_totals() = MakeTotals(all);
  summary->set_reach_target(reach_target);
  summary->set_reach_target_progress_percent(
      reach_target > 0 ? static_cast<double>(all.reach) * 100.0 / static_cast<double>(reach_target)
                       : 0.0);
  summary->clear_channels();
  const pb::ChannelSummary* best = nullptr;
  const pb::ChannelSummary* worst = nullptr;
  for (const auto& row : rows) {
    *summary->add_channels() = row;
    if (row.totals().impressions() <= 0) continue;
    // Rows are in rate order desc, channel asc: the first with impressions is the best; the
    // worst is the lowest rate, ties going to the lower channel number.
    if (best == nullptr) best = &row;
    if (worst == nullptr || row.totals().engagement_rate() < worst->totals().engagement_rate()) {
      worst = &row;
    }
  }
  summary->set_best_channel(best != nullptr ? best->channel() : cpb::CHANNEL_UNSPECIFIED);
  summary->set_worst_channel(worst != nullptr ? worst->channel() : cpb::CHANNEL_UNSPECIFIED);
}

std::string CampaignName(const std::string& force, const std::string& campaign) {
  return absl::StrCat("forces/", force, "/campaigns/", campaign);
}

std::string ActivityName(const std::string& force, const std::string& campaign,
                         const std::string& activity) {
  return absl::StrCat("forces/", force, "/campaigns/", campaign, "/activities/", activity);
}

// --- the state machine ------------------------------------------------------------------------

namespace {

// campaigns_service.cc checks the length of a cancel or withdraw reason and of a published
// external_reference; their content is checked here, before it is stored.
absl::Status CheckStoredText(absl::string_view text, size_t max, const char* field, TextKind kind) {
  std::vector<FieldViolation> v;
  CheckText(text, max, /*required=*/false, field, &v, kind);
  return ViolationsToStatus(std::move(v));
}

}  // namespace

absl::StatusOr<cpb::CampaignState> ApplyAction(pb::Campaign* campaign, CampaignAction action,
                                               absl::string_view reason, absl::Time now) {
  if (action == CampaignAction::kCancel) {
    OUTREACH_RETURN_IF_ERROR(CheckStoredText(reason, 2000, "reason", TextKind::kFreeText));
  }
  const absl::CivilDay today = LocalDay(now);
  cpb::CampaignState to = cpb::CAMPAIGN_STATE_UNSPECIFIED;
  switch (action) {
    case CampaignAction::kSchedule:
      OUTREACH_RETURN_IF_ERROR(CheckCanSchedule(*campaign, today));
      to = cpb::CAMPAIGN_STATE_SCHEDULED;
      break;
    case CampaignAction::kActivate:
      OUTREACH_RETURN_IF_ERROR(CheckCanActivate(*campaign, today));
      to = cpb::CAMPAIGN_STATE_ACTIVE;
      break;
    case CampaignAction::kComplete:
      OUTREACH_RETURN_IF_ERROR(CheckCanComplete(*campaign));
      to = cpb::CAMPAIGN_STATE_COMPLETED;
      break;
    case CampaignAction::kCancel:
      OUTREACH_RETURN_IF_ERROR(CheckCanCancel(*campaign));
      to = cpb::CAMPAIGN_STATE_CANCELLED;
      campaign->set_cancel_reason(std::string(reason));
      break;
  }
  const cpb::CampaignState from = campaign->state();
  campaign->set_state(to);
  *campaign->mutable_state_time() = ToProtoTime(now);
  return from;
}

pb::Campaign NewCampaign(const pb::Campaign& input, const std::string& name, absl::Time now) {
  pb::Campaign campaign = input;
  campaign.set_name(name);
  campaign.set_state(cpb::CAMPAIGN_STATE_DRAFT);
  *campaign.mutable_state_time() = ToProtoTime(now);
  campaign.clear_cancel_reason();
  campaign.clear_etag();
  return campaign;
}

absl::Status MergeCampaignPatch(const pb::Campaign& patch, const std::set<std::string>& paths,
                                pb::Campaign* campaign) {
  OUTREACH_RETURN_IF_ERROR(CheckOpen(*campaign));
  if (paths.count("start_date") > 0 && campaign->state() == cpb::CAMPAIGN_STATE_ACTIVE &&
      !google::protobuf::util::MessageDifferencer::Equals(campaign->start_date(),
                                                          patch.start_date())) {
    return StateError(kCampaignNotDraft, "start_date of an ACTIVE campaign cannot change",
                      campaign->state());
  }
  MergeMasked(patch, paths, campaign);
  // A change of one date is checked against the other on the merged campaign.
  std::vector<FieldViolation> violations;
  ValidateCampaign(*campaign, "campaign", nullptr, &violations);
  return ViolationsToStatus(std::move(violations));
}

// --- activities -------------------------------------------------------------------------------

std::string TrackingUrl(const pb::Activity& a, const pb::Campaign& campaign,
                        absl::string_view campaign_id, absl::string_view activity_id) {
  const std::string& link = a.link_uri().empty() ? campaign.landing_page_uri() : a.link_uri();
  const std::string medium = a.utm_medium().empty() ? DefaultMedium(a.channel()) : a.utm_medium();
  return BuildTrackingUrl(link, ChannelSource(a.channel()), medium, campaign_id, activity_id);
}

absl::StatusOr<pb::Activity> NewActivity(const pb::Campaign& campaign, const pb::Activity& input,
                                         const ActivityKey& key) {
  const std::string name = ActivityName(key.force, key.campaign, key.activity);
  OUTREACH_RETURN_IF_ERROR(CheckOpen(campaign));
  OUTREACH_RETURN_IF_ERROR(
      CheckInsideCampaign(campaign, LocalDay(TimeFromProto(input.scheduled_time())), name));
  pb::Activity activity = input;
  activity.set_name(name);
  activity.set_state(pb::ACTIVITY_STATE_PLANNED);
  activity.clear_publish_time();
  activity.clear_withdraw_time();
  activity.clear_withdraw_reason();
  activity.clear_etag();
  activity.set_tracking_url(TrackingUrl(activity, campaign, key.campaign, key.activity));
  return activity;
}

absl::Status MergeActivityPatch(const pb::Campaign& campaign, const pb::Activity& patch,
                                const std::set<std::string>& paths, const ActivityKey& key,
                                pb::Activity* activity) {
  OUTREACH_RETURN_IF_ERROR(CheckOpen(campaign));
  const bool only_reference = paths.size() == 1 && paths.count("external_reference") == 1;
  if (activity->state() != pb::ACTIVITY_STATE_PLANNED &&
      !(only_reference && activity->state() == pb::ACTIVITY_STATE_PUBLISHED)) {
    return WithMetadata(FailedPrecondition(kActivityNotPlanned,
                                           "only a PLANNED activity can change; a PUBLISHED one "
                                           "only its external_reference"),
                        {{"state", pb::ActivityState_Name(activity->state())}});
  }
  MergeMasked(patch, paths, activity);
  std::vector<FieldViolation> violations;
  const std::set<std::string> all = {
      "title",          "message_text", "link_uri",          "utm_medium",
      "scheduled_time", "audiences",    "external_reference"};
  ValidateActivity(*activity, "activity", &all, &violations);
  OUTREACH_RETURN_IF_ERROR(ViolationsToStatus(std::move(violations)));
  if (paths.count("scheduled_time") > 0) {
    OUTREACH_RETURN_IF_ERROR(
        CheckInsideCampaign(campaign, ActivityDay(*activity), activity->name()));
  }
  activity->set_tracking_url(TrackingUrl(*activity, campaign, key.campaign, key.activity));
  return absl::OkStatus();
}

absl::Status CheckCanDeleteActivity(const pb::Activity& activity) {
  if (activity.state() != pb::ACTIVITY_STATE_PLANNED) {
    return WithMetadata(
        FailedPrecondition(kActivityNotPlanned,
                           "only a PLANNED activity can be deleted; withdraw it instead"),
        {{"state", pb::ActivityState_Name(activity.state())}});
  }
  return absl::OkStatus();
}

absl::Status Publish(const pb::Campaign& campaign, absl::Time publish_time,
                     absl::string_view external_reference, pb::Activity* activity) {
  OUTREACH_RETURN_IF_ERROR(
      CheckStoredText(external_reference, 200, "external_reference", TextKind::kLine));
  if (activity->state() != pb::ACTIVITY_STATE_PLANNED) {
    return WithMetadata(
        FailedPrecondition(kActivityNotPlanned, "only a PLANNED activity can be published"),
        {{"state", pb::ActivityState_Name(activity->state())}});
  }
  OUTREACH_RETURN_IF_ERROR(CheckLive(campaign));
  OUTREACH_RETURN_IF_ERROR(CheckInsideCampaign(campaign, LocalDay(publish_time), activity->name()));
  activity->set_state(pb::ACTIVITY_STATE_PUBLISHED);
  *activity->mutable_publish_time() = ToProtoTime(publish_time);
  if (!external_reference.empty()) {
    activity->set_external_reference(std::string(external_reference));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Withdraw(absl::string_view reason, absl::Time now, pb::Activity* activity) {
  OUTREACH_RETURN_IF_ERROR(CheckStoredText(reason, 2000, "reason", TextKind::kFreeText));
  if (activity->state() == pb::ACTIVITY_STATE_WITHDRAWN) {
    return WithMetadata(FailedPrecondition(kActivityWithdrawn, "the activity is already withdrawn"),
                        {{"state", pb::ActivityState_Name(activity->state())}});
  }
  const bool was_published = activity->state() == pb::ACTIVITY_STATE_PUBLISHED;
  activity->set_state(pb::ACTIVITY_STATE_WITHDRAWN);
  *activity->mutable_withdraw_time() = ToProtoTime(now);
  activity->set_withdraw_reason(std::string(reason));
  return was_published;
}

namespace {
bool DatesChanged(const pb::Campaign& before, const pb::Campaign& after) {
  return StartDay(after) != StartDay(before) || EndDay(after) != EndDay(before);
}
bool LinkChanged(const pb::Campaign& before, const pb::Campaign& after) {
  return after.landing_page_uri() != before.landing_page_uri();
}
}  // namespace

bool AffectsActivities(const pb::Campaign& before, const pb::Campaign& after) {
  return DatesChanged(before, after) || LinkChanged(before, after);
}

absl::StatusOr<std::vector<pb::Activity>> FollowCampaignChange(
    const pb::Campaign& before, const pb::Campaign& after, const std::string& campaign_id,
    const std::vector<pb::Activity>& activities) {
  const bool dates_changed = DatesChanged(before, after);
  const bool link_changed = LinkChanged(before, after);
  std::vector<pb::Activity> retracked;
  for (const pb::Activity& a : activities) {
    if (dates_changed && (a.has_publish_time() || a.state() == pb::ACTIVITY_STATE_PLANNED)) {
      OUTREACH_RETURN_IF_ERROR(CheckInsideCampaign(after, ActivityDay(a), a.name()));
    }
    if (link_changed && a.state() == pb::ACTIVITY_STATE_PLANNED && a.link_uri().empty()) {
      pb::Activity changed = a;
      const std::string activity_id = a.name().substr(a.name().rfind('/') + 1);
      changed.set_tracking_url(TrackingUrl(a, after, campaign_id, activity_id));
      retracked.push_back(std::move(changed));
    }
  }
  return retracked;
}

// --- engagement decisions ---------------------------------------------------------------------

ReportDecision DecideReport(const std::optional<pb::EngagementReport>& stored,
                            const ReportInput& input, const pb::Activity& activity,
                            absl::Time now) {
  if (stored.has_value() && SameNumbers(*stored, input.numbers)) {
    return {ReportOutcome::kUnchanged, *stored};
  }
  pb::EngagementReport r = input.numbers;
  r.set_activity(activity.name());
  r.set_channel(activity.channel());
  *r.mutable_day() = ToProtoDate(input.day);
  r.set_revision(stored.has_value() ? stored->revision() + 1 : 1);
  *r.mutable_create_time() = stored.has_value() ? stored->create_time() : ToProtoTime(now);
  *r.mutable_update_time() = ToProtoTime(now);
  return {stored.has_value() ? ReportOutcome::kUpdated : ReportOutcome::kCreated, std::move(r)};
}

// --- events -----------------------------------------------------------------------------------

namespace {
epb::OutreachEvent NewEvent(const std::string& force, const std::string& subject,
                            absl::Time occurred) {
  epb::OutreachEvent event;
  event.set_force(force);
  event.set_source("campaigns");
  *event.mutable_occurred_time() = ToProtoTime(occurred);
  event.set_subject(subject);
  return event;
}
}  // namespace

google::protobuf::RepeatedField<int> EffectiveAudiences(const pb::Activity& a,
                                                        const pb::Campaign& campaign) {
  return a.audiences().empty() ? campaign.audiences() : a.audiences();
}

epb::OutreachEvent StateChangedEvent(const std::string& force, const pb::Campaign& campaign,
                                     cpb::CampaignState previous, absl::Time occurred) {
  epb::OutreachEvent e = NewEvent(force, campaign.name(), occurred);
  auto* p = e.mutable_campaign_state_changed();
  p->set_state(campaign.state());
  p->set_previous_state(previous);
  *p->mutable_audiences() = campaign.audiences();
  *p->mutable_areas() = campaign.areas();
  *p->mutable_start_date() = campaign.start_date();
  *p->mutable_end_date() = campaign.end_date();
  p->set_reach_target(campaign.reach_target());
  return e;
}

epb::OutreachEvent PublishedEvent(const std::string& force, const pb::Campaign& campaign,
                                  const pb::Activity& activity, absl::Time now) {
  epb::OutreachEvent e = NewEvent(force, activity.name(), now);
  auto* p = e.mutable_activity_published();
  p->set_campaign(campaign.name());
  p->set_channel(activity.channel());
  *p->mutable_audiences() = EffectiveAudiences(activity, campaign);
  *p->mutable_areas() = campaign.areas();
  *p->mutable_publish_time() = activity.publish_time();
  return e;
}

epb::OutreachEvent WithdrawnEvent(const std::string& force, const std::string& campaign_name,
                                  const pb::Activity& activity, absl::Time now) {
  epb::OutreachEvent e = NewEvent(force, activity.name(), now);
  auto* p = e.mutable_activity_withdrawn();
  p->set_campaign(campaign_name);
  p->set_channel(activity.channel());
  *p->mutable_withdraw_time() = activity.withdraw_time();
  return e;
}

epb::OutreachEvent ReportedEvent(const std::string& force, const pb::Campaign& campaign,
                                 const pb::Activity& activity, const pb::EngagementReport& r,
                                 absl::Time now) {
  epb::OutreachEvent e = NewEvent(force, activity.name(), now);
  auto* p = e.mutable_engagement_reported();
  p->set_campaign(campaign.name());
  p->set_channel(activity.channel());
  *p->mutable_audiences() = EffectiveAudiences(activity, campaign);
  *p->mutable_areas() = campaign.areas();
  *p->mutable_day() = r.day();
  p->set_revision(r.revision());
  p->set_impressions(r.impressions());
  p->set_reach(r.reach());
  p->set_engagements(r.engagements());
  p->set_clicks(r.clicks());
  p->set_shares(r.shares());
  p->set_attendance(r.attendance());
  p->set_copies_distributed(r.copies_distributed());
  return e;
}

}  // namespace outreach::campaigns
