#include "services/campaigns/domain.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/calendar.h"

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
  if (Wants(fields, "title")) CheckText(c.title(), 200, true, FieldPath(prefix, "title"), out);
  if (Wants(fields, "description")) {
    CheckText(c.description(), 2000, false, FieldPath(prefix, "description"), out);
  }
  if (Wants(fields, "key_messages")) {
    if (c.key_messages_size() > 10) {
      out->push_back({FieldPath(prefix, "key_messages"), "must hold at most 10 messages"});
    } else {
      for (int i = 0; i < c.key_messages_size(); ++i) {
        CheckText(c.key_messages(i), 500, true,
                  absl::StrCat(FieldPath(prefix, "key_messages"), "[", i, "]"), out);
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
  if (Wants(fields, "title")) CheckText(a.title(), 200, true, FieldPath(prefix, "title"), out);
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
    CheckText(a.external_reference(), 200, false, FieldPath(prefix, "external_reference"), out);
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
  CheckText(r.source(), 64, false, FieldPath(prefix, "source"), out);
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

}  // namespace outreach::campaigns
