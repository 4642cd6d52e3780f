// The campaign operations (services/campaigns/operations.h) against an in-memory fake of
// CampaignRecords and a FakeClock: the state machine, stamped etags, follow_dates, activity
// rules and engagement revisions, with no database.
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/clock.h"
#include "common/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/campaigns/operations.h"

namespace outreach::campaigns {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Rows in maps, events in a list. `fail_reads` makes every Find fail as a corrupt row would.
class FakeRecords final : public CampaignRecords {
 public:
  absl::StatusOr<std::optional<pb::Campaign>> FindCampaign(const CampaignKey& key) override {
    if (fail_reads) return absl::InternalError("corrupt row");
    auto it = campaigns.find({key.force, key.campaign});
    if (it == campaigns.end()) return std::optional<pb::Campaign>();
    return std::optional<pb::Campaign>(it->second);
  }
  absl::Status PutCampaign(const CampaignKey& key, const pb::Campaign& c) override {
    campaigns[{key.force, key.campaign}] = c;
    return absl::OkStatus();
  }
  absl::Status DeleteCampaign(const CampaignKey& key) override {
    campaigns.erase({key.force, key.campaign});
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> MaybeDueCampaigns(const std::string& force,
                                                             absl::CivilDay) override {
    std::vector<std::string> ids;  // every campaign of the force: DueTransitions decides
    for (const auto& [k, c] : campaigns) {
      if (k.first == force) ids.push_back(k.second);
    }
    return ids;
  }
  absl::StatusOr<std::optional<pb::Activity>> FindActivity(const ActivityKey& key) override {
    if (fail_reads) return absl::InternalError("corrupt row");
    auto it = activities.find({key.force, key.campaign, key.activity});
    if (it == activities.end()) return std::optional<pb::Activity>();
    return std::optional<pb::Activity>(it->second);
  }
  absl::StatusOr<std::vector<pb::Activity>> ActivitiesOf(const CampaignKey& key) override {
    std::vector<pb::Activity> out;
    for (const auto& [k, a] : activities) {
      if (std::get<0>(k) == key.force && std::get<1>(k) == key.campaign) out.push_back(a);
    }
    return out;
  }
  absl::Status PutActivity(const ActivityKey& key, const pb::Activity& a) override {
    activities[{key.force, key.campaign, key.activity}] = a;
    return absl::OkStatus();
  }
  absl::Status DeleteActivity(const ActivityKey& key) override {
    activities.erase({key.force, key.campaign, key.activity});
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<pb::EngagementReport>> FindReport(const ActivityKey& key,
                                                                 absl::CivilDay day) override {
    auto it = reports.find({key.activity, FormatDay(day)});
    if (it == reports.end()) return std::optional<pb::EngagementReport>();
    return std::optional<pb::EngagementReport>(it->second);
  }
  absl::Status PutReport(const ActivityKey& key, absl::CivilDay day,
                         const pb::EngagementReport& r) override {
    reports[{key.activity, FormatDay(day)}] = r;
    return absl::OkStatus();
  }
  absl::Status Emit(epb::OutreachEvent event, absl::Time) override {
    events.push_back(std::move(event));
    return absl::OkStatus();
  }

  std::map<std::pair<std::string, std::string>, pb::Campaign> campaigns;
  std::map<std::tuple<std::string, std::string, std::string>, pb::Activity> activities;
  std::map<std::pair<std::string, std::string>, pb::EngagementReport> reports;
  std::vector<epb::OutreachEvent> events;
  bool fail_reads = false;
};

absl::Time London(int y, int m, int d, int hh = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, 0, 0), ForceTimeZone());
}

const CampaignKey kKey{"derbyshire", "safe-online"};
const ActivityKey kFb{"derbyshire", "safe-online", "fb"};

pb::Campaign Input(bool follow_dates = false) {
  pb::Campaign c;
  c.set_title("Protect yourself online");
  c.add_audiences(cpb::CAMPAIGN_AUDIENCE_RESIDENTS);
  *c.mutable_start_date() = ToProtoDate(absl::CivilDay(2026, 3, 1));
  *c.mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 3, 31));
  c.set_landing_page_uri("https://example.org/safe");
  c.set_follow_dates(follow_dates);
  return c;
}

pb::Activity ActivityInput(absl::Time scheduled) {
  pb::Activity a;
  a.set_title("Post");
  a.set_channel(cpb::CHANNEL_FACEBOOK);
  *a.mutable_scheduled_time() = ToProtoTime(scheduled);
  return a;
}

ReportInput Numbers(absl::CivilDay day, int64_t impressions, int64_t reach) {
  ReportInput in;
  in.activity_id = kFb.activity;
  in.day = day;
  in.numbers.set_impressions(impressions);
  in.numbers.set_reach(reach);
  return in;
}

class OperationsTest : public ::testing::Test {
 protected:
  pb::Campaign Created(bool follow_dates = false) {
    auto c = CreateCampaign(records_, kKey, Input(follow_dates), clock_.Now());
    EXPECT_TRUE(c.ok()) << c.status();
    return *c;
  }
  pb::Campaign Step(const pb::Campaign& c, CampaignAction action, const std::string& reason = "") {
    auto out = ChangeCampaignState(records_, kKey, c.etag(), action, reason, clock_.Now());
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : c;
  }
  // A SCHEDULED campaign with a PUBLISHED activity fb (published 2 March).
  pb::Activity Published() {
    pb::Campaign c = Step(Created(), CampaignAction::kSchedule);
    auto a = CreateActivity(records_, kFb, ActivityInput(London(2026, 3, 2)), clock_.Now());
    EXPECT_TRUE(a.ok()) << a.status();
    clock_.Set(London(2026, 2, 25));
    auto p = PublishActivity(records_, kFb, a->etag(), London(2026, 3, 2), "", clock_.Now());
    EXPECT_TRUE(p.ok()) << p.status();
    return *p;
  }

  FakeClock clock_{London(2026, 2, 20)};
  FakeRecords records_;
};

TEST_F(OperationsTest, CreateStampsADraftOnceAndRefusesTheSameId) {
  pb::Campaign c = Created();
  EXPECT_EQ(c.name(), "forces/derbyshire/campaigns/safe-online");
  EXPECT_EQ(c.state(), cpb::CAMPAIGN_STATE_DRAFT);
  EXPECT_EQ(TimeFromProto(c.create_time()), clock_.Now());
  EXPECT_FALSE(c.etag().empty());
  // The etag is stored with the row, not computed when read.
  EXPECT_EQ(records_.campaigns.at({kKey.force, kKey.campaign}).etag(), c.etag());
  auto again = CreateCampaign(records_, kKey, Input(), clock_.Now());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(OperationsTest, AnUnreadableRowIsAnErrorNotAbsent) {
  records_.fail_reads = true;
  auto c = CreateCampaign(records_, kKey, Input(), clock_.Now());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(records_.campaigns.empty());
}

TEST_F(OperationsTest, StateMachineWithEtagsAndEvents) {
  pb::Campaign draft = Created();
  auto stale =
      ChangeCampaignState(records_, kKey, "stale", CampaignAction::kSchedule, "", clock_.Now());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ErrorReason(stale.status()), "ETAG_MISMATCH");
  auto early = ChangeCampaignState(records_, kKey, draft.etag(), CampaignAction::kComplete, "",
                                   clock_.Now());
  EXPECT_EQ(ErrorReason(early.status()), kCampaignNotActive);

  pb::Campaign scheduled = Step(draft, CampaignAction::kSchedule);
  EXPECT_EQ(scheduled.state(), cpb::CAMPAIGN_STATE_SCHEDULED);
  EXPECT_NE(scheduled.etag(), draft.etag());
  // The old version's etag no longer works.
  auto replay = ChangeCampaignState(records_, kKey, draft.etag(), CampaignAction::kActivate, "",
                                    clock_.Now());
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kAborted);
  auto del = DeleteCampaign(records_, kKey, scheduled.etag(), clock_.Now());
  EXPECT_EQ(ErrorReason(del), kCampaignNotDraft);

  pb::Campaign active = Step(scheduled, CampaignAction::kActivate);
  pb::Campaign done = Step(active, CampaignAction::kComplete);
  EXPECT_EQ(done.state(), cpb::CAMPAIGN_STATE_COMPLETED);
  auto cancel = ChangeCampaignState(records_, kKey, done.etag(), CampaignAction::kCancel, "why",
                                    clock_.Now());
  EXPECT_EQ(ErrorReason(cancel.status()), kCampaignClosed);

  std::vector<cpb::CampaignState> changes;
  for (const auto& e : records_.events) changes.push_back(e.campaign_state_changed().state());
  EXPECT_THAT(changes, ElementsAre(cpb::CAMPAIGN_STATE_SCHEDULED, cpb::CAMPAIGN_STATE_ACTIVE,
                                   cpb::CAMPAIGN_STATE_COMPLETED));
}

TEST_F(OperationsTest, CancelKeepsTheReasonAndDraftDeleteRemovesIt) {
  pb::Campaign cancelled = Step(Created(), CampaignAction::kCancel, "budget cut");
  EXPECT_EQ(cancelled.state(), cpb::CAMPAIGN_STATE_CANCELLED);
  EXPECT_EQ(cancelled.cancel_reason(), "budget cut");
  records_.campaigns.clear();
  pb::Campaign draft = Created();
  ASSERT_TRUE(DeleteCampaign(records_, kKey, draft.etag(), clock_.Now()).ok());
  EXPECT_TRUE(records_.campaigns.empty());
}

TEST_F(OperationsTest, FollowDatesActivatesAndCompletesAtTheDateBoundaries) {
  Step(Created(/*follow_dates=*/true), CampaignAction::kSchedule);
  records_.events.clear();
  clock_.Set(London(2026, 4, 3));  // nobody called during March
  ASSERT_TRUE(ApplyDue(records_, kKey.force, clock_.Now()).ok());
  const pb::Campaign& stored = records_.campaigns.at({kKey.force, kKey.campaign});
  EXPECT_EQ(stored.state(), cpb::CAMPAIGN_STATE_COMPLETED);
  ASSERT_EQ(records_.events.size(), 2u);
  EXPECT_EQ(TimeFromProto(records_.events[0].occurred_time()),
            StartOfLocalDay(absl::CivilDay(2026, 3, 1)));
  EXPECT_EQ(TimeFromProto(records_.events[1].occurred_time()),
            StartOfLocalDay(absl::CivilDay(2026, 4, 1)));
  // Nothing more is due.
  ASSERT_TRUE(ApplyDue(records_, kKey.force, clock_.Now()).ok());
  EXPECT_EQ(records_.events.size(), 2u);
}

TEST_F(OperationsTest, ActivitiesStayInsideTheCampaignAndFollowItsLandingPage) {
  pb::Campaign c = Created();
  auto outside = CreateActivity(records_, kFb, ActivityInput(London(2026, 4, 2)), clock_.Now());
  EXPECT_EQ(ErrorReason(outside.status()), kActivityOutsideDates);
  auto a = CreateActivity(records_, kFb, ActivityInput(London(2026, 3, 20)), clock_.Now());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->tracking_url(), ::testing::StartsWith("https://example.org/safe?utm_source="));

  pb::Campaign patch;
  patch.set_etag(c.etag());
  *patch.mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 3, 10));
  auto shorter = UpdateCampaign(records_, kKey, patch, {"end_date"}, clock_.Now());
  EXPECT_EQ(ErrorReason(shorter.status()), kActivityOutsideDates);

  patch.clear_end_date();
  patch.set_landing_page_uri("https://example.org/new");
  clock_.Advance(absl::Hours(1));
  auto moved = UpdateCampaign(records_, kKey, patch, {"landing_page_uri"}, clock_.Now());
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_NE(moved->etag(), c.etag());
  const pb::Activity& retracked = records_.activities.at({kFb.force, kFb.campaign, kFb.activity});
  EXPECT_THAT(retracked.tracking_url(), ::testing::StartsWith("https://example.org/new?"));
  EXPECT_NE(retracked.etag(), a->etag());
  EXPECT_EQ(TimeFromProto(retracked.update_time()), clock_.Now());
}

TEST_F(OperationsTest, PublishNeedsALiveCampaignAndWithdrawEmitsOnlyWhenPublished) {
  Created();
  auto a = CreateActivity(records_, kFb, ActivityInput(London(2026, 3, 2)), clock_.Now());
  ASSERT_TRUE(a.ok());
  auto draft = PublishActivity(records_, kFb, a->etag(), London(2026, 3, 2), "", clock_.Now());
  EXPECT_EQ(ErrorReason(draft.status()), kCampaignNotLive);
  auto withdrawn = WithdrawActivity(records_, kFb, a->etag(), "not needed", clock_.Now());
  ASSERT_TRUE(withdrawn.ok());
  EXPECT_EQ(withdrawn->state(), pb::ACTIVITY_STATE_WITHDRAWN);
  EXPECT_THAT(records_.events, IsEmpty());
  auto twice = WithdrawActivity(records_, kFb, withdrawn->etag(), "again", clock_.Now());
  EXPECT_EQ(ErrorReason(twice.status()), kActivityWithdrawn);
}

TEST_F(OperationsTest, EngagementRevisionsCountOnlyChangedNumbers) {
  Published();
  records_.events.clear();
  clock_.Set(London(2026, 3, 5));
  const absl::CivilDay day(2026, 3, 3);
  auto first = ReportEngagement(records_, kKey, {Numbers(day, 100, 40)}, clock_.Now());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->created(), 1);
  EXPECT_EQ(first->reports(0).revision(), 1);
  const absl::Time created = clock_.Now();

  clock_.Advance(absl::Hours(1));
  ReportInput same = Numbers(day, 100, 40);
  same.numbers.set_source("another tool");  // a different source alone is no change
  auto again = ReportEngagement(records_, kKey, {same}, clock_.Now());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->unchanged(), 1);
  EXPECT_EQ(records_.events.size(), 1u);

  auto changed = ReportEngagement(records_, kKey, {Numbers(day, 150, 60)}, clock_.Now());
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->updated(), 1);
  EXPECT_EQ(changed->reports(0).revision(), 2);
  EXPECT_EQ(TimeFromProto(changed->reports(0).create_time()), created);
  ASSERT_EQ(records_.events.size(), 2u);
  // Events carry the absolute numbers and the revision.
  EXPECT_EQ(records_.events[1].engagement_reported().impressions(), 150);
  EXPECT_EQ(records_.events[1].engagement_reported().revision(), 2);
}

TEST_F(OperationsTest, ARefusedReportFailsTheBatchWithItsIndex) {
  Published();
  clock_.Set(London(2026, 3, 5));
  ReportInput unknown = Numbers(absl::CivilDay(2026, 3, 3), 1, 1);
  unknown.activity_id = "missing";
  auto s = ReportEngagement(records_, kKey, {Numbers(absl::CivilDay(2026, 3, 3), 1, 1), unknown},
                            clock_.Now());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  auto before =
      ReportEngagement(records_, kKey, {Numbers(absl::CivilDay(2026, 3, 1), 1, 1)}, clock_.Now());
  EXPECT_EQ(ErrorReason(before.status()), kReportBeforePublication);
}

}  // namespace
}  // namespace outreach::campaigns
