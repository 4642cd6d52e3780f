// Campaign rules without network: lifecycle, follow_dates, tracking links, report rules and the
// summary maths on known numbers.
#include <limits>

#include "common/bounds.h"
#include "common/calendar.h"
#include "common/errors.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/campaigns/domain.h"

namespace outreach::campaigns {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

pb::Campaign MakeCampaign(cpb::CampaignState state) {
  pb::Campaign c;
  c.set_name("forces/derbyshire/campaigns/safe-online");
  c.set_title("Protect yourself online");
  c.add_audiences(cpb::CAMPAIGN_AUDIENCE_RESIDENTS);
  *c.mutable_start_date() = ToProtoDate(absl::CivilDay(2026, 3, 1));
  *c.mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 3, 31));
  c.set_state(state);
  return c;
}

std::string MetadataOf(const absl::Status& s, const std::string& key) {
  auto payload = s.GetPayload("type.googleapis.com/google.rpc.ErrorInfo");
  if (!payload) return "";
  google::rpc::ErrorInfo info;
  info.ParseFromString(std::string(*payload));
  auto it = info.metadata().find(key);
  return it == info.metadata().end() ? "" : it->second;
}

absl::Time London(int y, int m, int d, int hh, int mm) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), ForceTimeZone());
}

// --- lifecycle -------------------------------------------------------------------------------

TEST(Lifecycle, ScheduleOnlyFromDraftAndNotAfterTheEnd) {
  const absl::CivilDay today(2026, 2, 20);
  EXPECT_TRUE(CheckCanSchedule(MakeCampaign(cpb::CAMPAIGN_STATE_DRAFT), today).ok());
  for (auto state : {cpb::CAMPAIGN_STATE_SCHEDULED, cpb::CAMPAIGN_STATE_ACTIVE,
                     cpb::CAMPAIGN_STATE_COMPLETED, cpb::CAMPAIGN_STATE_CANCELLED}) {
    auto s = CheckCanSchedule(MakeCampaign(state), today);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(ErrorReason(s), "CAMPAIGN_NOT_DRAFT");
    EXPECT_EQ(MetadataOf(s, "state"), cpb::CampaignState_Name(state));
  }
  // The last day itself is fine; the day after is too late.
  EXPECT_TRUE(
      CheckCanSchedule(MakeCampaign(cpb::CAMPAIGN_STATE_DRAFT), absl::CivilDay(2026, 3, 31)).ok());
  auto late = CheckCanSchedule(MakeCampaign(cpb::CAMPAIGN_STATE_DRAFT), absl::CivilDay(2026, 4, 1));
  EXPECT_EQ(ErrorReason(late), "CAMPAIGN_ENDED");
  EXPECT_EQ(MetadataOf(late, "end_date"), "2026-03-31");
}

TEST(Lifecycle, ActivateCompleteCancelAndDelete) {
  const absl::CivilDay today(2026, 2, 20);
  EXPECT_TRUE(CheckCanActivate(MakeCampaign(cpb::CAMPAIGN_STATE_SCHEDULED), today).ok());
  EXPECT_EQ(ErrorReason(CheckCanActivate(MakeCampaign(cpb::CAMPAIGN_STATE_DRAFT), today)),
            "CAMPAIGN_NOT_SCHEDULED");
  EXPECT_EQ(ErrorReason(CheckCanActivate(MakeCampaign(cpb::CAMPAIGN_STATE_SCHEDULED),
                                         absl::CivilDay(2026, 4, 2))),
            "CAMPAIGN_ENDED");
  EXPECT_TRUE(CheckCanComplete(MakeCampaign(cpb::CAMPAIGN_STATE_ACTIVE)).ok());
  EXPECT_EQ(ErrorReason(CheckCanComplete(MakeCampaign(cpb::CAMPAIGN_STATE_SCHEDULED))),
            "CAMPAIGN_NOT_ACTIVE");
  for (auto state :
       {cpb::CAMPAIGN_STATE_DRAFT, cpb::CAMPAIGN_STATE_SCHEDULED, cpb::CAMPAIGN_STATE_ACTIVE}) {
    EXPECT_TRUE(CheckCanCancel(MakeCampaign(state)).ok());
    EXPECT_TRUE(CheckOpen(MakeCampaign(state)).ok());
  }
  for (auto state : {cpb::CAMPAIGN_STATE_COMPLETED, cpb::CAMPAIGN_STATE_CANCELLED}) {
    EXPECT_EQ(ErrorReason(CheckCanCancel(MakeCampaign(state))), "CAMPAIGN_CLOSED");
    EXPECT_EQ(ErrorReason(CheckOpen(MakeCampaign(state))), "CAMPAIGN_CLOSED");
    EXPECT_EQ(ErrorReason(CheckLive(MakeCampaign(state))), "CAMPAIGN_CLOSED");
  }
  EXPECT_EQ(ErrorReason(CheckLive(MakeCampaign(cpb::CAMPAIGN_STATE_DRAFT))), "CAMPAIGN_NOT_LIVE");
  EXPECT_TRUE(CheckLive(MakeCampaign(cpb::CAMPAIGN_STATE_SCHEDULED)).ok());
  EXPECT_TRUE(CheckCanDelete(MakeCampaign(cpb::CAMPAIGN_STATE_DRAFT)).ok());
  EXPECT_EQ(ErrorReason(CheckCanDelete(MakeCampaign(cpb::CAMPAIGN_STATE_SCHEDULED))),
            "CAMPAIGN_NOT_DRAFT");
}

TEST(FollowDates, ActivatesAtLocalMidnightOfStartAndCompletesAfterEnd) {
  pb::Campaign c = MakeCampaign(cpb::CAMPAIGN_STATE_SCHEDULED);
  c.set_follow_dates(true);
  EXPECT_THAT(DueTransitions(c, London(2026, 2, 28, 23, 59)), IsEmpty());
  auto due = DueTransitions(c, London(2026, 3, 1, 0, 0));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].to, cpb::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(due[0].at, London(2026, 3, 1, 0, 0));

  c.set_state(cpb::CAMPAIGN_STATE_ACTIVE);
  // 31 March is in British Summer Time: the day ends at 23:00 UTC.
  EXPECT_THAT(DueTransitions(c, London(2026, 3, 31, 23, 59)), IsEmpty());
  due = DueTransitions(c, London(2026, 4, 1, 0, 0));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].to, cpb::CAMPAIGN_STATE_COMPLETED);
  EXPECT_EQ(due[0].at,
            absl::FromCivil(absl::CivilSecond(2026, 3, 31, 23, 0, 0), absl::UTCTimeZone()));

  // A SCHEDULED campaign whose whole window passed goes through both transitions.
  c.set_state(cpb::CAMPAIGN_STATE_SCHEDULED);
  due = DueTransitions(c, London(2026, 5, 1, 12, 0));
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].to, cpb::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(due[1].to, cpb::CAMPAIGN_STATE_COMPLETED);

  // Scheduled after its start: activated at the scheduling instant, not before it.
  *c.mutable_state_time() = ToProtoTime(London(2026, 3, 5, 9, 0));
  due = DueTransitions(c, London(2026, 3, 5, 9, 0));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].at, London(2026, 3, 5, 9, 0));
  c.clear_state_time();

  // Without follow_dates, or for DRAFT and closed campaigns, nothing happens.
  c.set_follow_dates(false);
  EXPECT_THAT(DueTransitions(c, London(2026, 5, 1, 12, 0)), IsEmpty());
  c.set_follow_dates(true);
  for (auto state :
       {cpb::CAMPAIGN_STATE_DRAFT, cpb::CAMPAIGN_STATE_CANCELLED, cpb::CAMPAIGN_STATE_COMPLETED}) {
    c.set_state(state);
    EXPECT_THAT(DueTransitions(c, London(2026, 5, 1, 12, 0)), IsEmpty());
  }
}

TEST(ActivityDates, MustLieInsideTheCampaign) {
  const auto c = MakeCampaign(cpb::CAMPAIGN_STATE_SCHEDULED);
  EXPECT_TRUE(CheckInsideCampaign(c, absl::CivilDay(2026, 3, 1), "a").ok());
  EXPECT_TRUE(CheckInsideCampaign(c, absl::CivilDay(2026, 3, 31), "a").ok());
  auto s = CheckInsideCampaign(c, absl::CivilDay(2026, 4, 1), "forces/x/campaigns/y/activities/a");
  EXPECT_EQ(ErrorReason(s), "ACTIVITY_OUTSIDE_CAMPAIGN_DATES");
  EXPECT_EQ(MetadataOf(s, "activity"), "forces/x/campaigns/y/activities/a");
  EXPECT_EQ(ErrorReason(CheckInsideCampaign(c, absl::CivilDay(2026, 2, 28), "a")),
            "ACTIVITY_OUTSIDE_CAMPAIGN_DATES");
  // 00:30 BST on 1 April is still 31 March in UTC but 1 April locally: outside.
  pb::Activity a;
  *a.mutable_scheduled_time() = ToProtoTime(London(2026, 4, 1, 0, 30));
  EXPECT_EQ(ActivityDay(a), absl::CivilDay(2026, 4, 1));
}

// --- tracking links ----------------------------------------------------------------------------

TEST(TrackingUrl, ChannelSourcesAndDefaultMedia) {
  EXPECT_EQ(ChannelSource(cpb::CHANNEL_SNAPCHAT), "snapchat");
  EXPECT_EQ(ChannelSource(cpb::CHANNEL_PRESS_RELEASE), "press_release");
  EXPECT_EQ(ChannelSource(cpb::CHANNEL_COMMUNITY_EVENT), "community_event");
  EXPECT_EQ(ChannelSource(cpb::CHANNEL_X), "x");
  EXPECT_EQ(DefaultMedium(cpb::CHANNEL_KIK), "social");
  EXPECT_EQ(DefaultMedium(cpb::CHANNEL_PRESS_RELEASE), "press");
  EXPECT_EQ(DefaultMedium(cpb::CHANNEL_WEBSITE), "website");
  EXPECT_EQ(DefaultMedium(cpb::CHANNEL_LEAFLET), "print");
  EXPECT_EQ(DefaultMedium(cpb::CHANNEL_RADIO), "radio");
  EXPECT_EQ(DefaultMedium(cpb::CHANNEL_COMMUNITY_EVENT), "event");
}

TEST(TrackingUrl, AddsUtmParametersToAPlainLink) {
  EXPECT_EQ(BuildTrackingUrl("https://www.derbyshire.police.uk/safe-online", "facebook", "social",
                             "safe-online", "fb-1"),
            "https://www.derbyshire.police.uk/safe-online?utm_source=facebook&utm_medium=social&"
            "utm_campaign=safe-online&utm_content=fb-1");
}

TEST(TrackingUrl, KeepsOtherParametersAndFragmentAndReplacesOldUtm) {
  EXPECT_EQ(BuildTrackingUrl("https://example.org/p?lang=en&utm_source=old&UTM_Medium=x&"
                             "utm_term=keep&&ref=a%20b#top",
                             "instagram", "social", "safe-online", "ig-2"),
            "https://example.org/p?lang=en&utm_term=keep&ref=a%20b&utm_source=instagram&"
            "utm_medium=social&utm_campaign=safe-online&utm_content=ig-2#top");
  EXPECT_EQ(BuildTrackingUrl("https://example.org/?", "x", "social", "c", "a"),
            "https://example.org/?utm_source=x&utm_medium=social&utm_campaign=c&utm_content=a");
}

TEST(TrackingUrl, EncodesReservedCharactersAndEmptyLinkStaysEmpty) {
  EXPECT_EQ(PercentEncode("a b&c=d/é~._-"), "a%20b%26c%3Dd%2F%C3%A9~._-");
  EXPECT_EQ(BuildTrackingUrl("https://e.org", "press_release", "pr&tv", "c", "a"),
            "https://e.org?utm_source=press_release&utm_medium=pr%26tv&utm_campaign=c&"
            "utm_content=a");
  EXPECT_EQ(BuildTrackingUrl("", "facebook", "social", "c", "a"), "");
}

TEST(Links, OnlyAbsoluteHttpOrHttpsWithAHost) {
  EXPECT_TRUE(IsValidLink("https://www.derbyshire.police.uk/x?y=1#z", true));
  EXPECT_TRUE(IsValidLink("http://example.org", false));
  EXPECT_FALSE(IsValidLink("http://example.org", true));
  EXPECT_FALSE(IsValidLink("ftp://example.org", false));
  EXPECT_FALSE(IsValidLink("https://", false));
  EXPECT_FALSE(IsValidLink("https://exa mple.org", false));
  EXPECT_FALSE(IsValidLink("https://user@example.org", false));
  EXPECT_FALSE(IsValidLink("javascript:alert(1)", false));
  EXPECT_FALSE(IsValidLink("https://e.org/" + std::string(2000, 'a'), false));
}

// --- validation --------------------------------------------------------------------------------

std::vector<std::string> Fields(const std::vector<FieldViolation>& v) {
  std::vector<std::string> out;
  for (const auto& f : v) out.push_back(f.field);
  return out;
}

// The reach target is bounded by common/bounds.h (which metrics checks events against too), on
// create and on a masked update alike.
TEST(Validation, ReachTargetHasADocumentedMaximum) {
  const std::set<std::string> only_target = {"reach_target"};
  for (const std::set<std::string>* fields :
       {static_cast<decltype(&only_target)>(nullptr), &only_target}) {
    pb::Campaign c = MakeCampaign(cpb::CAMPAIGN_STATE_DRAFT);
    std::vector<FieldViolation> v;
    c.set_reach_target(bounds::kMaxReachTarget);
    ValidateCampaign(c, "campaign", fields, &v);
    EXPECT_THAT(v, IsEmpty());
    c.set_reach_target(std::numeric_limits<int64_t>::max());
    ValidateCampaign(c, "campaign", fields, &v);
    EXPECT_THAT(Fields(v), ElementsAre("campaign.reach_target"));
  }
}

TEST(Validation, CampaignFieldsAreNamed) {
  pb::Campaign c = MakeCampaign(cpb::CAMPAIGN_STATE_UNSPECIFIED);
  std::vector<FieldViolation> v;
  ValidateCampaign(c, "campaign", nullptr, &v);
  EXPECT_THAT(v, IsEmpty());

  c.set_title("");
  c.add_audiences(cpb::CAMPAIGN_AUDIENCE_RESIDENTS);
  c.add_areas("bad area");
  *c.mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 2, 1));
  c.set_reach_target(-1);
  c.set_landing_page_uri("http://insecure.example");
  c.add_key_messages("");
  ValidateCampaign(c, "campaign", nullptr, &v);
  EXPECT_THAT(Fields(v),
              ElementsAre("campaign.title", "campaign.key_messages[0]", "campaign.audiences[1]",
                          "campaign.areas[0]", "campaign.end_date", "campaign.reach_target",
                          "campaign.landing_page_uri"));
  // Only the masked fields are checked on update.
  v.clear();
  std::set<std::string> only_title = {"title"};
  ValidateCampaign(c, "campaign", &only_title, &v);
  EXPECT_THAT(Fields(v), ElementsAre("campaign.title"));
  // 731 days is the longest campaign.
  pb::Campaign longest = MakeCampaign(cpb::CAMPAIGN_STATE_DRAFT);
  *longest.mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 3, 1) + 731);
  v.clear();
  ValidateCampaign(longest, "campaign", nullptr, &v);
  EXPECT_THAT(v, IsEmpty());
  *longest.mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 3, 1) + 732);
  ValidateCampaign(longest, "campaign", nullptr, &v);
  EXPECT_THAT(Fields(v), ElementsAre("campaign.end_date"));
}

TEST(Validation, TextLimitsCountCodePoints) {
  EXPECT_EQ(CodePoints("é"), 1u);
  pb::Campaign c = MakeCampaign(cpb::CAMPAIGN_STATE_DRAFT);
  std::string title;
  for (int i = 0; i < 200; ++i) title += "é";
  c.set_title(title);
  std::vector<FieldViolation> v;
  ValidateCampaign(c, "campaign", nullptr, &v);
  EXPECT_THAT(v, IsEmpty());
}

TEST(Validation, ReportNumbers) {
  pb::EngagementReport r;
  r.set_impressions(100);
  r.set_reach(100);
  std::vector<FieldViolation> v;
  ValidateReportNumbers(r, "reports[0]", &v);
  EXPECT_THAT(v, IsEmpty());
  r.set_reach(101);
  r.set_clicks(-1);
  r.set_shares(kMaxReportNumber + 1);
  ValidateReportNumbers(r, "reports[0]", &v);
  EXPECT_THAT(Fields(v), ElementsAre("reports[0].clicks", "reports[0].shares", "reports[0].reach"));
}

TEST(Reports, OnlyForPublishedActivitiesFromPublicationToWithdrawal) {
  pb::Activity a;
  a.set_name("forces/derbyshire/campaigns/c/activities/fb");
  a.set_state(pb::ACTIVITY_STATE_PLANNED);
  auto s = CheckReportable(a, absl::CivilDay(2026, 3, 5), 3);
  EXPECT_EQ(ErrorReason(s), "ACTIVITY_NOT_PUBLISHED");
  EXPECT_EQ(MetadataOf(s, "index"), "3");
  EXPECT_EQ(MetadataOf(s, "activity"), a.name());

  a.set_state(pb::ACTIVITY_STATE_PUBLISHED);
  *a.mutable_publish_time() = ToProtoTime(London(2026, 3, 5, 0, 10));
  EXPECT_TRUE(CheckReportable(a, absl::CivilDay(2026, 3, 5), 0).ok());
  s = CheckReportable(a, absl::CivilDay(2026, 3, 4), 1);
  EXPECT_EQ(ErrorReason(s), "REPORT_BEFORE_PUBLICATION");
  EXPECT_EQ(MetadataOf(s, "publish_date"), "2026-03-05");

  a.set_state(pb::ACTIVITY_STATE_WITHDRAWN);
  *a.mutable_withdraw_time() = ToProtoTime(London(2026, 3, 9, 18, 0));
  EXPECT_TRUE(CheckReportable(a, absl::CivilDay(2026, 3, 9), 0).ok());
  s = CheckReportable(a, absl::CivilDay(2026, 3, 10), 2);
  EXPECT_EQ(ErrorReason(s), "REPORT_AFTER_WITHDRAWAL");
  EXPECT_EQ(MetadataOf(s, "withdraw_date"), "2026-03-09");
}

// --- summary maths -----------------------------------------------------------------------------

ChannelFigures Figures(cpb::Channel ch, int64_t impressions, int64_t reach, int64_t engagements,
                       int64_t clicks) {
  ChannelFigures f;
  f.channel = ch;
  f.activities = 1;
  f.activities_published = 1;
  f.counts.impressions = impressions;
  f.counts.reach = reach;
  f.counts.engagements = engagements;
  f.counts.clicks = clicks;
  return f;
}

TEST(Summary, RatesProgressAndChannelRankingOnKnownNumbers) {
  // Facebook 40/1000 = 4%, Instagram 90/1500 = 6%, X 10/500 = 2%, leaflet has no impressions.
  std::vector<ChannelFigures> channels = {
      Figures(cpb::CHANNEL_FACEBOOK, 1000, 800, 40, 20),
      Figures(cpb::CHANNEL_X, 500, 400, 10, 5),
      Figures(cpb::CHANNEL_INSTAGRAM, 1500, 1000, 90, 30),
  };
  ChannelFigures leaflet;
  leaflet.channel = cpb::CHANNEL_LEAFLET;
  leaflet.activities = 2;
  leaflet.counts.copies_distributed = 5000;
  channels.push_back(leaflet);

  pb::CampaignSummary s;
  FillSummary(channels, 10000, &s);
  EXPECT_EQ(s.totals().impressions(), 3000);
  EXPECT_EQ(s.totals().reach(), 2200);
  EXPECT_EQ(s.totals().engagements(), 140);
  EXPECT_EQ(s.totals().clicks(), 55);
  EXPECT_EQ(s.totals().copies_distributed(), 5000);
  EXPECT_DOUBLE_EQ(s.totals().engagement_rate(), 140.0 / 3000.0);
  EXPECT_DOUBLE_EQ(s.totals().click_through_rate(), 55.0 / 3000.0);
  EXPECT_DOUBLE_EQ(s.reach_target_progress_percent(), 22.0);
  EXPECT_EQ(s.reach_target(), 10000);
  ASSERT_EQ(s.channels_size(), 4);
  EXPECT_EQ(s.channels(0).channel(), cpb::CHANNEL_INSTAGRAM);
  EXPECT_DOUBLE_EQ(s.channels(0).totals().engagement_rate(), 0.06);
  EXPECT_EQ(s.channels(1).channel(), cpb::CHANNEL_FACEBOOK);
  EXPECT_DOUBLE_EQ(s.channels(1).totals().engagement_rate(), 0.04);
  EXPECT_DOUBLE_EQ(s.channels(1).totals().click_through_rate(), 0.02);
  EXPECT_EQ(s.channels(2).channel(), cpb::CHANNEL_X);
  EXPECT_EQ(s.channels(3).channel(), cpb::CHANNEL_LEAFLET);
  EXPECT_EQ(s.channels(3).activities(), 2);
  EXPECT_DOUBLE_EQ(s.channels(3).totals().engagement_rate(), 0.0);
  EXPECT_EQ(s.best_channel(), cpb::CHANNEL_INSTAGRAM);
  EXPECT_EQ(s.worst_channel(), cpb::CHANNEL_X);  // the leaflet has no impressions
}

TEST(Summary, NothingToDivideByGivesZeros) {
  pb::CampaignSummary s;
  FillSummary({}, 0, &s);
  EXPECT_EQ(s.totals().impressions(), 0);
  EXPECT_EQ(s.totals().engagement_rate(), 0.0);
  EXPECT_EQ(s.totals().click_through_rate(), 0.0);
  EXPECT_EQ(s.reach_target_progress_percent(), 0.0);
  EXPECT_EQ(s.best_channel(), cpb::CHANNEL_UNSPECIFIED);
  EXPECT_EQ(s.worst_channel(), cpb::CHANNEL_UNSPECIFIED);

  ChannelFigures event;
  event.channel = cpb::CHANNEL_COMMUNITY_EVENT;
  event.counts.attendance = 120;
  FillSummary({event}, 0, &s);  // reach target 0 = none: progress stays 0
  EXPECT_EQ(s.totals().attendance(), 120);
  EXPECT_EQ(s.reach_target_progress_percent(), 0.0);
  EXPECT_EQ(s.best_channel(), cpb::CHANNEL_UNSPECIFIED);
}

TEST(Summary, ProgressMayExceedAHundredAndTiesGoToTheLowerChannel) {
  pb::CampaignSummary s;
  FillSummary({Figures(cpb::CHANNEL_SNAPCHAT, 200, 150, 10, 1),
               Figures(cpb::CHANNEL_FACEBOOK, 400, 150, 20, 2)},
              200, &s);
  EXPECT_DOUBLE_EQ(s.reach_target_progress_percent(), 150.0);
  // Both 5%: Facebook (1) ranks before Snapchat (4) and is both best and worst.
  EXPECT_EQ(s.channels(0).channel(), cpb::CHANNEL_FACEBOOK);
  EXPECT_EQ(s.best_channel(), cpb::CHANNEL_FACEBOOK);
  EXPECT_EQ(s.worst_channel(), cpb::CHANNEL_FACEBOOK);
}

TEST(Validation, TextThatMustNeverBeStoredIsRefused) {
  pb::Campaign c = MakeCampaign(cpb::CAMPAIGN_STATE_DRAFT);
  c.set_title("Protect\nyourself");
  c.set_description("Thanks to Sam (d.o.b 01/02/2013) for the idea");
  c.add_key_messages(std::string("Stop\0Think", 10));
  std::vector<FieldViolation> v;
  ValidateCampaign(c, "campaign", nullptr, &v);
  std::vector<std::string> reasons;
  for (const auto& f : v) reasons.push_back(f.reason);
  EXPECT_THAT(Fields(v),
              ElementsAre("campaign.title", "campaign.description", "campaign.key_messages[0]"));
  EXPECT_THAT(reasons, ElementsAre(kControlCharacter, kPersonalDataRefused, kControlCharacter));

  pb::Activity a;
  a.set_title("Post");
  a.set_channel(cpb::CHANNEL_FACEBOOK);
  *a.mutable_scheduled_time() = ToProtoTime(London(2026, 3, 2, 9, 0));
  a.set_message_text("Stay safe online. Year 6 assembly 2026-03-12 & <b>more</b>.\nShare it!");
  v.clear();
  ValidateActivity(a, "activity", nullptr, &v);
  EXPECT_THAT(v, IsEmpty());
  a.set_message_text("DM me on 07700 900 123");
  ValidateActivity(a, "activity", nullptr, &v);
  EXPECT_THAT(Fields(v), ElementsAre("activity.message_text"));

  pb::EngagementReport r;
  r.set_source(" ");
  v.clear();
  ValidateReportNumbers(r, "report", &v);
  EXPECT_THAT(Fields(v), ElementsAre("report.source"));
}

TEST(Lifecycle, ReasonsAndReferencesAreCheckedBeforeTheyAreStored) {
  pb::Campaign c = MakeCampaign(cpb::CAMPAIGN_STATE_DRAFT);
  auto cancelled = ApplyAction(&c, CampaignAction::kCancel, "parent asked: jo@example.com",
                               London(2026, 2, 1, 9, 0));
  EXPECT_EQ(ErrorReason(cancelled.status()), kPersonalDataRefused);
  EXPECT_EQ(c.state(), cpb::CAMPAIGN_STATE_DRAFT);  // nothing changed
  pb::Activity a;
  a.set_state(pb::ACTIVITY_STATE_PLANNED);
  EXPECT_EQ(ErrorReason(Withdraw("line\x01", London(2026, 3, 2, 9, 0), &a).status()),
            kControlCharacter);
  EXPECT_EQ(a.state(), pb::ACTIVITY_STATE_PLANNED);
  pb::Campaign live = MakeCampaign(cpb::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(ErrorReason(Publish(live, London(2026, 3, 2, 9, 0), "   ", &a)), kBlankText);
  EXPECT_TRUE(Withdraw("Campaign paused\nby the comms team", London(2026, 3, 2, 9, 0), &a).ok());
}

}  // namespace
}  // namespace outreach::campaigns
