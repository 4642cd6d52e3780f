// The campaigns service over a real gRPC server and SQLite file (ServiceHarness, FakeClock):
// every method, every rule with its code and reason, report re-sends, outbox events,
// pagination, filters, idempotent retries, stale etags, cross-force isolation and races.
#include "services/campaigns/campaigns_service.h"

#include <atomic>
#include <functional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/store_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "outreach/campaigns/v1/campaigns.grpc.pb.h"
#include "tests/support/service_harness.h"

namespace outreach::campaigns {
namespace {

using ::outreach::testing::Ctx;
using ::outreach::testing::ReasonOf;
using ::outreach::testing::ServiceHarness;
using ::outreach::testing::ViolatedFields;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
namespace epb = ::outreach::events::v1;
using Stub = pb::CampaignsService::Stub;

constexpr char kForce[] = "forces/derbyshire";
constexpr char kOther[] = "forces/nottinghamshire";

// ErrorInfo metadata of a failed call ("" when absent).
std::string MetadataOf(const grpc::Status& status, const std::string& key) {
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details())) return "";
  for (const auto& d : rich.details()) {
    google::rpc::ErrorInfo info;
    if (d.UnpackTo(&info)) {
      auto it = info.metadata().find(key);
      return it == info.metadata().end() ? "" : it->second;
    }
  }
  return "";
}

absl::Time London(int y, int m, int d, int hh = 12, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), ForceTimeZone());
}

class CampaignsServiceTest : public ::testing::Test {
 protected:
  // Mid-February; campaigns run in March and April 2026.
  CampaignsServiceTest()
      : h_(CampaignsServiceSpec(), London(2026, 2, 20, 9)),
        stub_(pb::CampaignsService::NewStub(h_.channel())) {}

  static pb::Campaign NewCampaign() {
    pb::Campaign c;
    c.set_title("Protect yourself online");
    c.set_description("Residents' cyber-safety campaign");
    c.add_key_messages("Think before you share");
    c.add_audiences(cpb::CAMPAIGN_AUDIENCE_RESIDENTS);
    c.add_audiences(cpb::CAMPAIGN_AUDIENCE_PARENTS);
    c.add_areas("DE1");
    *c.mutable_start_date() = ToProtoDate(absl::CivilDay(2026, 3, 1));
    *c.mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 4, 30));
    c.set_reach_target(10000);
    c.set_landing_page_uri("https://www.derbyshire.police.uk/safe-online");
    return c;
  }

  grpc::Status Create(const std::string& id, pb::Campaign* out, const std::string& parent = kForce,
                      const std::string& request_id = "", pb::Campaign campaign = NewCampaign()) {
    pb::CreateCampaignRequest req;
    req.set_parent(parent);
    req.set_campaign_id(id);
    *req.mutable_campaign() = std::move(campaign);
    req.set_request_id(request_id);
    return stub_->CreateCampaign(Ctx().get(), req, out);
  }

  pb::Campaign MustCreate(const std::string& id, pb::Campaign campaign = NewCampaign()) {
    pb::Campaign out;
    auto s = Create(id, &out, kForce, "", std::move(campaign));
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  pb::Campaign Get(const std::string& name, grpc::Status* status = nullptr) {
    pb::GetCampaignRequest req;
    req.set_name(name);
    pb::Campaign out;
    auto s = stub_->GetCampaign(Ctx().get(), req, &out);
    if (status != nullptr) *status = s;
    return out;
  }

  template <typename Req>
  grpc::Status StateCall(grpc::Status (Stub::*fn)(grpc::ClientContext*, const Req&, pb::Campaign*),
                         const pb::Campaign& c, pb::Campaign* out, const std::string& reason = "") {
    Req req;
    req.set_name(c.name());
    req.set_etag(c.etag());
    if constexpr (std::is_same_v<Req, pb::CancelCampaignRequest>) req.set_reason(reason);
    return (stub_.get()->*fn)(Ctx().get(), req, out);
  }
  grpc::Status Schedule(const pb::Campaign& c, pb::Campaign* out) {
    return StateCall(&Stub::ScheduleCampaign, c, out);
  }
  grpc::Status Activate(const pb::Campaign& c, pb::Campaign* out) {
    return StateCall(&Stub::ActivateCampaign, c, out);
  }
  grpc::Status Complete(const pb::Campaign& c, pb::Campaign* out) {
    return StateCall(&Stub::CompleteCampaign, c, out);
  }
  grpc::Status Cancel(const pb::Campaign& c, pb::Campaign* out, const std::string& reason) {
    return StateCall(&Stub::CancelCampaign, c, out, reason);
  }

  // A SCHEDULED campaign ready for publication.
  pb::Campaign LiveCampaign(const std::string& id) {
    pb::Campaign c = MustCreate(id);
    pb::Campaign scheduled;
    EXPECT_TRUE(Schedule(c, &scheduled).ok());
    return scheduled;
  }

  static pb::Activity NewActivity(cpb::Channel channel, absl::Time when) {
    pb::Activity a;
    a.set_title(absl::StrCat("Post on ", cpb::Channel_Name(channel)));
    a.set_channel(channel);
    a.set_message_text("Think before you share: images can't be unsent.");
    *a.mutable_scheduled_time() = ToProtoTime(when);
    return a;
  }

  grpc::Status CreateActivity(const pb::Campaign& c, const std::string& id, const pb::Activity& a,
                              pb::Activity* out, const std::string& request_id = "") {
    pb::CreateActivityRequest req;
    req.set_parent(c.name());
    req.set_activity_id(id);
    *req.mutable_activity() = a;
    req.set_request_id(request_id);
    return stub_->CreateActivity(Ctx().get(), req, out);
  }

  grpc::Status Publish(const pb::Activity& a, absl::Time when, pb::Activity* out) {
    pb::PublishActivityRequest req;
    req.set_name(a.name());
    req.set_etag(a.etag());
    *req.mutable_publish_time() = ToProtoTime(when);
    return stub_->PublishActivity(Ctx().get(), req, out);
  }

  grpc::Status Withdraw(const pb::Activity& a, pb::Activity* out,
                        const std::string& reason = "taken down") {
    pb::WithdrawActivityRequest req;
    req.set_name(a.name());
    req.set_etag(a.etag());
    req.set_reason(reason);
    return stub_->WithdrawActivity(Ctx().get(), req, out);
  }

  // A published activity of a live campaign: published on 2 March 2026 (clock moved there).
  pb::Activity PublishedActivity(const pb::Campaign& c, const std::string& id,
                                 cpb::Channel channel = cpb::CHANNEL_FACEBOOK) {
    pb::Activity planned, published;
    EXPECT_TRUE(CreateActivity(c, id, NewActivity(channel, London(2026, 3, 2, 10)), &planned).ok());
    if (h_.clock().Now() < London(2026, 3, 2, 11)) h_.clock().Set(London(2026, 3, 2, 11));
    auto s = Publish(planned, London(2026, 3, 2, 10), &published);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return published;
  }

  static pb::EngagementReport Report(const pb::Activity& a, absl::CivilDay day, int64_t impressions,
                                     int64_t reach, int64_t engagements, int64_t clicks = 0) {
    pb::EngagementReport r;
    r.set_activity(a.name());
    *r.mutable_day() = ToProtoDate(day);
    r.set_impressions(impressions);
    r.set_reach(reach);
    r.set_engagements(engagements);
    r.set_clicks(clicks);
    return r;
  }

  grpc::Status ReportAll(const pb::Campaign& c, const std::vector<pb::EngagementReport>& reports,
                         pb::ReportEngagementResponse* out) {
    pb::ReportEngagementRequest req;
    req.set_parent(c.name());
    for (const auto& r : reports) *req.add_reports() = r;
    return stub_->ReportEngagement(Ctx().get(), req, out);
  }

  pb::CampaignSummary Summary(const pb::Campaign& c, grpc::Status* status = nullptr,
                              const pb::GetCampaignSummaryRequest* custom = nullptr) {
    pb::GetCampaignSummaryRequest req;
    if (custom != nullptr) req = *custom;
    if (req.name().empty()) req.set_name(c.name() + "/summary");
    pb::CampaignSummary out;
    auto s = stub_->GetCampaignSummary(Ctx().get(), req, &out);
    if (status != nullptr) *status = s;
    EXPECT_TRUE(status != nullptr || s.ok()) << s.error_message();
    return out;
  }

  std::vector<epb::OutreachEvent> Events() { return h_.OutboxEvents(); }
  std::vector<epb::OutreachEvent> EventsOf(epb::OutreachEvent::PayloadCase kind) {
    return h_.OutboxEventsOf(kind);
  }

  ServiceHarness h_;
  std::unique_ptr<Stub> stub_;
};

// --- campaigns ---------------------------------------------------------------------------------

TEST_F(CampaignsServiceTest, CreateGetAndDraftHasNoEvent) {
  pb::Campaign c = MustCreate("safe-online");
  EXPECT_EQ(c.name(), "forces/derbyshire/campaigns/safe-online");
  EXPECT_EQ(c.state(), cpb::CAMPAIGN_STATE_DRAFT);
  EXPECT_EQ(c.title(), "Protect yourself online");
  EXPECT_EQ(c.create_time().seconds(), absl::ToUnixSeconds(London(2026, 2, 20, 9)));
  EXPECT_EQ(c.state_time().seconds(), c.create_time().seconds());
  EXPECT_FALSE(c.etag().empty());
  grpc::Status s;
  pb::Campaign got = Get(c.name(), &s);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(got.SerializeAsString(), c.SerializeAsString());
  EXPECT_THAT(Events(), SizeIs(0));

  // Generated ids.
  pb::Campaign generated;
  ASSERT_TRUE(Create("", &generated).ok());
  EXPECT_THAT(generated.name(), HasSubstr("forces/derbyshire/campaigns/campaign-"));

  // The same id again.
  pb::Campaign dup;
  s = Create("safe-online", &dup);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_ALREADY_EXISTS");
  EXPECT_EQ(MetadataOf(s, "resource"), c.name());
  Get("forces/derbyshire/campaigns/missing", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_NOT_FOUND");
  EXPECT_EQ(MetadataOf(s, "resource"), "forces/derbyshire/campaigns/missing");
}

TEST_F(CampaignsServiceTest, CreateRetryWithRequestIdReturnsTheFirstResult) {
  pb::Campaign first, again, other;
  ASSERT_TRUE(Create("", &first, kForce, "req-1").ok());
  ASSERT_TRUE(Create("", &again, kForce, "req-1").ok());
  EXPECT_EQ(again.name(), first.name());
  EXPECT_EQ(again.etag(), first.etag());
  pb::ListCampaignsRequest list;
  list.set_parent(kForce);
  pb::ListCampaignsResponse resp;
  ASSERT_TRUE(stub_->ListCampaigns(Ctx().get(), list, &resp).ok());
  EXPECT_EQ(resp.total_size(), 1);

  pb::Campaign changed = NewCampaign();
  changed.set_title("Something else");
  auto s = Create("", &other, kForce, "req-1", changed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "REQUEST_ID_REUSED");

  // Same request_id in another force is another request.
  ASSERT_TRUE(Create("", &other, kOther, "req-1").ok());
  EXPECT_THAT(other.name(), HasSubstr("forces/nottinghamshire/"));
}

TEST_F(CampaignsServiceTest, ConcurrentRetriesOfOneCreateMakeOneCampaign) {
  constexpr int kThreads = 8;
  std::vector<std::string> names(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      pb::Campaign out;
      auto s = Create("", &out, kForce, "same-request");
      if (s.ok()) names[i] = out.name();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& n : names) EXPECT_EQ(n, names[0]);
  pb::ListCampaignsRequest list;
  list.set_parent(kForce);
  pb::ListCampaignsResponse resp;
  ASSERT_TRUE(stub_->ListCampaigns(Ctx().get(), list, &resp).ok());
  EXPECT_EQ(resp.total_size(), 1);
}

struct BadCampaign {
  const char* label;
  std::function<void(pb::CreateCampaignRequest*)> mutate;
  const char* field;
};

TEST_F(CampaignsServiceTest, BadCreateInputNamesTheField) {
  const std::vector<BadCampaign> cases = {
      {"bad parent", [](auto* r) { r->set_parent("derbyshire"); }, "parent"},
      {"bad id", [](auto* r) { r->set_campaign_id("Safe_Online"); }, "campaign_id"},
      {"request id with space", [](auto* r) { r->set_request_id("a b"); }, "request_id"},
      {"no campaign", [](auto* r) { r->clear_campaign(); }, "campaign"},
      {"empty title", [](auto* r) { r->mutable_campaign()->set_title(""); }, "campaign.title"},
      {"long title", [](auto* r) { r->mutable_campaign()->set_title(std::string(201, 'x')); },
       "campaign.title"},
      {"long description",
       [](auto* r) { r->mutable_campaign()->set_description(std::string(2001, 'x')); },
       "campaign.description"},
      {"11 key messages",
       [](auto* r) {
         for (int i = 0; i < 10; ++i) r->mutable_campaign()->add_key_messages("m");
       },
       "campaign.key_messages"},
      {"no audiences", [](auto* r) { r->mutable_campaign()->clear_audiences(); },
       "campaign.audiences"},
      {"unspecified audience",
       [](auto* r) { r->mutable_campaign()->add_audiences(cpb::CAMPAIGN_AUDIENCE_UNSPECIFIED); },
       "campaign.audiences[2]"},
      {"unknown audience",
       [](auto* r) {
         r->mutable_campaign()->add_audiences(static_cast<cpb::CampaignAudience>(99));
       },
       "campaign.audiences[2]"},
      {"duplicate area", [](auto* r) { r->mutable_campaign()->add_areas("DE1"); },
       "campaign.areas[1]"},
      {"bad area", [](auto* r) { r->mutable_campaign()->add_areas("DE 1"); }, "campaign.areas[1]"},
      {"no start", [](auto* r) { r->mutable_campaign()->clear_start_date(); },
       "campaign.start_date"},
      {"impossible date",
       [](auto* r) {
         r->mutable_campaign()->mutable_end_date()->set_month(2);
         r->mutable_campaign()->mutable_end_date()->set_day(30);
       },
       "campaign.end_date"},
      {"end before start",
       [](auto* r) {
         *r->mutable_campaign()->mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 2, 1));
       },
       "campaign.end_date"},
      {"too long",
       [](auto* r) {
         *r->mutable_campaign()->mutable_end_date() = ToProtoDate(absl::CivilDay(2028, 3, 2));
       },
       "campaign.end_date"},
      {"negative target", [](auto* r) { r->mutable_campaign()->set_reach_target(-5); },
       "campaign.reach_target"},
      {"huge target", [](auto* r) { r->mutable_campaign()->set_reach_target(1000000001); },
       "campaign.reach_target"},
      {"http landing page",
       [](auto* r) { r->mutable_campaign()->set_landing_page_uri("http://example.org"); },
       "campaign.landing_page_uri"},
      {"not a uri", [](auto* r) { r->mutable_campaign()->set_landing_page_uri("safe online"); },
       "campaign.landing_page_uri"},
  };
  for (const auto& c : cases) {
    pb::CreateCampaignRequest req;
    req.set_parent(kForce);
    *req.mutable_campaign() = NewCampaign();
    c.mutate(&req);
    pb::Campaign out;
    auto s = stub_->CreateCampaign(Ctx().get(), req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.label;
    EXPECT_THAT(ViolatedFields(s), Contains(c.field)) << c.label;
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("SQL"))) << c.label;
  }
}

TEST_F(CampaignsServiceTest, BadNamesAndListArgumentsAreInvalidArgument) {
  grpc::Status s;
  Get("forces/derbyshire/campaign/x", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("name"));
  Get("", &s);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("name"));

  pb::ListCampaignsRequest list;
  list.set_parent(kForce);
  list.set_page_size(-1);
  pb::ListCampaignsResponse resp;
  s = stub_->ListCampaigns(Ctx().get(), list, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("page_size"));
  list.set_page_size(0);
  list.set_filter("colour = \"blue\"");
  s = stub_->ListCampaigns(Ctx().get(), list, &resp);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("filter"));
  list.clear_filter();
  list.set_order_by("reach_target");
  s = stub_->ListCampaigns(Ctx().get(), list, &resp);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("order_by"));
  list.clear_order_by();
  list.set_page_token("garbage");
  s = stub_->ListCampaigns(Ctx().get(), list, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(s), "INVALID_PAGE_TOKEN");

  pb::GetActivityRequest ga;
  ga.set_name("forces/derbyshire/campaigns/c/activities/Bad");
  pb::Activity a;
  s = stub_->GetActivity(Ctx().get(), ga, &a);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("name"));
  pb::GetCampaignSummaryRequest sr;
  sr.set_name("forces/derbyshire/campaigns/c");
  pb::CampaignSummary summary;
  s = stub_->GetCampaignSummary(Ctx().get(), sr, &summary);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("name"));
}

TEST_F(CampaignsServiceTest, LifecycleThroughItsMethodsEmitsStateChanges) {
  pb::Campaign c = MustCreate("safe-online");
  pb::Campaign scheduled, active, completed, out;

  auto s = Activate(c, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_NOT_SCHEDULED");
  s = Complete(c, &out);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_NOT_ACTIVE");

  ASSERT_TRUE(Schedule(c, &scheduled).ok());
  EXPECT_EQ(scheduled.state(), cpb::CAMPAIGN_STATE_SCHEDULED);
  s = Schedule(scheduled, &out);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_NOT_DRAFT");
  EXPECT_EQ(MetadataOf(s, "state"), "CAMPAIGN_STATE_SCHEDULED");
  s = Complete(scheduled, &out);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_NOT_ACTIVE");

  h_.clock().Set(London(2026, 2, 25));  // early launch before start_date is allowed
  ASSERT_TRUE(Activate(scheduled, &active).ok());
  EXPECT_EQ(active.state(), cpb::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(active.state_time().seconds(), absl::ToUnixSeconds(London(2026, 2, 25)));
  ASSERT_TRUE(Complete(active, &completed).ok());
  EXPECT_EQ(completed.state(), cpb::CAMPAIGN_STATE_COMPLETED);
  s = Cancel(completed, &out, "too late");
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_CLOSED");

  auto events = EventsOf(epb::OutreachEvent::kCampaignStateChanged);
  ASSERT_THAT(events, SizeIs(3));
  const auto& e = events[0];
  EXPECT_EQ(e.force(), "derbyshire");
  EXPECT_EQ(e.source(), "campaigns");
  EXPECT_EQ(e.subject(), c.name());
  EXPECT_FALSE(e.event_id().empty());
  EXPECT_EQ(e.occurred_time().seconds(), absl::ToUnixSeconds(London(2026, 2, 20, 9)));
  EXPECT_EQ(e.campaign_state_changed().previous_state(), cpb::CAMPAIGN_STATE_DRAFT);
  EXPECT_EQ(e.campaign_state_changed().state(), cpb::CAMPAIGN_STATE_SCHEDULED);
  EXPECT_THAT(e.campaign_state_changed().audiences(),
              ElementsAre(cpb::CAMPAIGN_AUDIENCE_RESIDENTS, cpb::CAMPAIGN_AUDIENCE_PARENTS));
  EXPECT_THAT(e.campaign_state_changed().areas(), ElementsAre("DE1"));
  EXPECT_EQ(e.campaign_state_changed().start_date().month(), 3);
  EXPECT_EQ(e.campaign_state_changed().end_date().month(), 4);
  EXPECT_EQ(e.campaign_state_changed().reach_target(), 10000);
  EXPECT_EQ(events[1].campaign_state_changed().state(), cpb::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(events[2].campaign_state_changed().previous_state(), cpb::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(events[2].campaign_state_changed().state(), cpb::CAMPAIGN_STATE_COMPLETED);
}

TEST_F(CampaignsServiceTest, CancelNeedsAReasonAndClosesTheCampaign) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity planned;
  ASSERT_TRUE(
      CreateActivity(c, "ig", NewActivity(cpb::CHANNEL_INSTAGRAM, London(2026, 3, 2)), &planned)
          .ok());
  // Moving a planned activity outside the dates is refused while the campaign is open.
  pb::UpdateActivityRequest move;
  *move.mutable_activity() = planned;
  *move.mutable_activity()->mutable_scheduled_time() = ToProtoTime(London(2026, 5, 2));
  move.mutable_update_mask()->add_paths("scheduled_time");
  pb::Activity moved;
  auto moved_status = stub_->UpdateActivity(Ctx().get(), move, &moved);
  EXPECT_EQ(ReasonOf(moved_status), "ACTIVITY_OUTSIDE_CAMPAIGN_DATES");
  pb::Campaign out;
  auto s = Cancel(c, &out, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("reason"));
  ASSERT_TRUE(Cancel(c, &out, "Replaced by a regional campaign").ok());
  EXPECT_EQ(out.state(), cpb::CAMPAIGN_STATE_CANCELLED);
  EXPECT_EQ(out.cancel_reason(), "Replaced by a regional campaign");
  s = Activate(out, &out);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_NOT_SCHEDULED");
  pb::Activity a;
  s = CreateActivity(out, "fb", NewActivity(cpb::CHANNEL_FACEBOOK, London(2026, 3, 2)), &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_CLOSED");
  // Its activities can no longer change or go out.
  *move.mutable_activity()->mutable_scheduled_time() = ToProtoTime(London(2026, 3, 3));
  s = stub_->UpdateActivity(Ctx().get(), move, &moved);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_CLOSED");
  h_.clock().Set(London(2026, 3, 2, 12));
  s = Publish(planned, London(2026, 3, 2, 11), &a);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_CLOSED");
  auto events = EventsOf(epb::OutreachEvent::kCampaignStateChanged);
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[1].campaign_state_changed().state(), cpb::CAMPAIGN_STATE_CANCELLED);
}

TEST_F(CampaignsServiceTest, ScheduleOrActivateAfterTheEndIsCampaignEnded) {
  pb::Campaign c = MustCreate("late");
  pb::Campaign scheduled, out;
  ASSERT_TRUE(Schedule(c, &scheduled).ok());
  h_.clock().Set(London(2026, 5, 1));
  auto s = Activate(scheduled, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_ENDED");
  pb::Campaign draft = MustCreate("late-draft");
  s = Schedule(draft, &out);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_ENDED");
}

TEST_F(CampaignsServiceTest, StaleOrMissingEtagsAreRefused) {
  pb::Campaign c = MustCreate("safe-online");
  pb::Campaign stale = c;
  pb::UpdateCampaignRequest up;
  *up.mutable_campaign() = c;
  up.mutable_campaign()->set_title("New title");
  up.mutable_update_mask()->add_paths("title");
  pb::Campaign updated, out;
  ASSERT_TRUE(stub_->UpdateCampaign(Ctx().get(), up, &updated).ok());
  EXPECT_EQ(updated.title(), "New title");
  EXPECT_NE(updated.etag(), c.etag());

  auto s = stub_->UpdateCampaign(Ctx().get(), up, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  s = Schedule(stale, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  s = Cancel(stale, &out, "why");
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  pb::DeleteCampaignRequest del;
  del.set_name(c.name());
  del.set_etag(c.etag());
  google::protobuf::Empty empty;
  s = stub_->DeleteCampaign(Ctx().get(), del, &empty);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");

  del.clear_etag();
  s = stub_->DeleteCampaign(Ctx().get(), del, &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("etag"));
  up.mutable_campaign()->clear_etag();
  s = stub_->UpdateCampaign(Ctx().get(), up, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("campaign.etag"));
  stale.clear_etag();
  s = Activate(stale, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("etag"));
}

TEST_F(CampaignsServiceTest, UpdateAppliesTheMaskAndEmitsForNonDraft) {
  pb::Campaign c = MustCreate("safe-online");
  pb::UpdateCampaignRequest up;
  *up.mutable_campaign() = c;
  up.mutable_campaign()->set_title("Ignored: not in the mask");
  up.mutable_campaign()->set_reach_target(50000);
  up.mutable_campaign()->clear_areas();
  up.mutable_update_mask()->add_paths("reach_target");
  up.mutable_update_mask()->add_paths("areas");
  pb::Campaign out;
  ASSERT_TRUE(stub_->UpdateCampaign(Ctx().get(), up, &out).ok());
  EXPECT_EQ(out.title(), c.title());
  EXPECT_EQ(out.reach_target(), 50000);
  EXPECT_EQ(out.areas_size(), 0);
  EXPECT_THAT(Events(), SizeIs(0));  // DRAFT: nothing public yet

  // Unknown, output-only and immutable paths.
  for (const char* path : {"state", "name", "colour", "etag"}) {
    pb::UpdateCampaignRequest bad = up;
    *bad.mutable_campaign() = out;
    bad.mutable_update_mask()->clear_paths();
    bad.mutable_update_mask()->add_paths(path);
    auto s = stub_->UpdateCampaign(Ctx().get(), bad, &c);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << path;
    EXPECT_THAT(ViolatedFields(s), ElementsAre("update_mask")) << path;
  }
  // A masked field is validated.
  pb::UpdateCampaignRequest bad;
  *bad.mutable_campaign() = out;
  bad.mutable_campaign()->set_title("");
  bad.mutable_update_mask()->add_paths("title");
  auto s = stub_->UpdateCampaign(Ctx().get(), bad, &c);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("campaign.title"));

  pb::Campaign scheduled;
  ASSERT_TRUE(Schedule(out, &scheduled).ok());
  up.Clear();
  *up.mutable_campaign() = scheduled;
  up.mutable_campaign()->add_areas("DE22");
  up.mutable_update_mask()->add_paths("areas");
  ASSERT_TRUE(stub_->UpdateCampaign(Ctx().get(), up, &out).ok());
  auto events = EventsOf(epb::OutreachEvent::kCampaignStateChanged);
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[1].campaign_state_changed().state(), cpb::CAMPAIGN_STATE_SCHEDULED);
  EXPECT_EQ(events[1].campaign_state_changed().previous_state(), cpb::CAMPAIGN_STATE_SCHEDULED);
  EXPECT_THAT(events[1].campaign_state_changed().areas(), ElementsAre("DE22"));
  EXPECT_EQ(events[1].campaign_state_changed().reach_target(), 50000);
}

TEST_F(CampaignsServiceTest, DateChangesMustKeepActivitiesInsideAndStartIsFixedOnceActive) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity a;
  ASSERT_TRUE(
      CreateActivity(c, "fb", NewActivity(cpb::CHANNEL_FACEBOOK, London(2026, 4, 20)), &a).ok());
  pb::UpdateCampaignRequest up;
  *up.mutable_campaign() = c;
  *up.mutable_campaign()->mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 4, 10));
  up.mutable_update_mask()->add_paths("end_date");
  pb::Campaign out;
  auto s = stub_->UpdateCampaign(Ctx().get(), up, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "ACTIVITY_OUTSIDE_CAMPAIGN_DATES");
  // A sparse update carrying only the masked date is checked against the stored start.
  pb::UpdateCampaignRequest sparse;
  sparse.mutable_campaign()->set_name(c.name());
  sparse.mutable_campaign()->set_etag(c.etag());
  *sparse.mutable_campaign()->mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 2, 27));
  sparse.mutable_update_mask()->add_paths("end_date");
  s = stub_->UpdateCampaign(Ctx().get(), sparse, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("campaign.end_date"));
  *sparse.mutable_campaign()->mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 4, 25));
  ASSERT_TRUE(stub_->UpdateCampaign(Ctx().get(), sparse, &out).ok());
  EXPECT_EQ(out.end_date().day(), 25);
  EXPECT_EQ(out.title(), c.title());
  up.mutable_campaign()->set_etag(out.etag());

  // The end may move later, and start may change while SCHEDULED.
  *up.mutable_campaign()->mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 5, 10));
  *up.mutable_campaign()->mutable_start_date() = ToProtoDate(absl::CivilDay(2026, 3, 5));
  up.mutable_update_mask()->add_paths("start_date");
  ASSERT_TRUE(stub_->UpdateCampaign(Ctx().get(), up, &out).ok());
  EXPECT_EQ(out.end_date().day(), 10);
  EXPECT_EQ(out.start_date().day(), 5);

  pb::Campaign active;
  ASSERT_TRUE(Activate(out, &active).ok());
  up.Clear();
  *up.mutable_campaign() = active;
  *up.mutable_campaign()->mutable_start_date() = ToProtoDate(absl::CivilDay(2026, 3, 2));
  up.mutable_update_mask()->add_paths("start_date");
  s = stub_->UpdateCampaign(Ctx().get(), up, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_NOT_DRAFT");

  pb::Campaign completed;
  ASSERT_TRUE(Complete(active, &completed).ok());
  up.Clear();
  *up.mutable_campaign() = completed;
  up.mutable_campaign()->set_title("After the end");
  up.mutable_update_mask()->add_paths("title");
  s = stub_->UpdateCampaign(Ctx().get(), up, &out);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_CLOSED");
}

TEST_F(CampaignsServiceTest, DeleteOnlyDraftsWithTheirActivities) {
  pb::Campaign c = MustCreate("draft");
  pb::Activity a;
  ASSERT_TRUE(
      CreateActivity(c, "fb", NewActivity(cpb::CHANNEL_FACEBOOK, London(2026, 3, 3)), &a).ok());
  pb::Campaign scheduled = LiveCampaign("live");
  google::protobuf::Empty empty;
  pb::DeleteCampaignRequest del;
  del.set_name(scheduled.name());
  del.set_etag(scheduled.etag());
  auto s = stub_->DeleteCampaign(Ctx().get(), del, &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_NOT_DRAFT");

  c = Get(c.name());
  del.set_name(c.name());
  del.set_etag(c.etag());
  ASSERT_TRUE(stub_->DeleteCampaign(Ctx().get(), del, &empty).ok());
  Get(c.name(), &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  pb::GetActivityRequest ga;
  ga.set_name(a.name());
  s = stub_->GetActivity(Ctx().get(), ga, &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  // Re-creating the id starts afresh (no leftover activity).
  pb::Campaign again = MustCreate("draft");
  pb::ListActivitiesRequest la;
  la.set_parent(again.name());
  pb::ListActivitiesResponse lr;
  ASSERT_TRUE(stub_->ListActivities(Ctx().get(), la, &lr).ok());
  EXPECT_EQ(lr.total_size(), 0);
}

TEST_F(CampaignsServiceTest, FollowDatesActivatesAndCompletesFromTheClock) {
  pb::Campaign draft = NewCampaign();
  draft.set_follow_dates(true);
  pb::Campaign c = MustCreate("auto", draft);
  pb::Campaign scheduled;
  ASSERT_TRUE(Schedule(c, &scheduled).ok());
  EXPECT_EQ(scheduled.state(), cpb::CAMPAIGN_STATE_SCHEDULED);

  h_.clock().Set(London(2026, 2, 28, 23, 59));
  EXPECT_EQ(Get(c.name()).state(), cpb::CAMPAIGN_STATE_SCHEDULED);
  h_.clock().Set(London(2026, 3, 1, 0, 1));
  pb::Campaign active = Get(c.name());
  EXPECT_EQ(active.state(), cpb::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(active.state_time().seconds(), absl::ToUnixSeconds(London(2026, 3, 1, 0, 0)));
  // The stale etag of the SCHEDULED version no longer works.
  pb::Campaign out;
  auto s = Activate(scheduled, &out);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");

  h_.clock().Set(London(2026, 5, 1, 0, 30));
  pb::ListCampaignsRequest list;
  list.set_parent(kForce);
  list.set_filter("state = CAMPAIGN_STATE_COMPLETED");
  pb::ListCampaignsResponse resp;
  ASSERT_TRUE(stub_->ListCampaigns(Ctx().get(), list, &resp).ok());
  ASSERT_EQ(resp.campaigns_size(), 1);
  EXPECT_EQ(resp.campaigns(0).state_time().seconds(),
            absl::ToUnixSeconds(London(2026, 5, 1, 0, 0)));

  auto events = EventsOf(epb::OutreachEvent::kCampaignStateChanged);
  ASSERT_THAT(events, SizeIs(3));
  EXPECT_EQ(events[1].campaign_state_changed().state(), cpb::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(events[1].occurred_time().seconds(), absl::ToUnixSeconds(London(2026, 3, 1, 0, 0)));
  EXPECT_EQ(events[2].campaign_state_changed().state(), cpb::CAMPAIGN_STATE_COMPLETED);
  // Nothing more is due: reading again emits nothing.
  Get(c.name());
  EXPECT_THAT(EventsOf(epb::OutreachEvent::kCampaignStateChanged), SizeIs(3));
}

TEST_F(CampaignsServiceTest, SchedulingAFollowDatesCampaignAfterItsStartActivatesIt) {
  pb::Campaign draft = NewCampaign();
  draft.set_follow_dates(true);
  pb::Campaign c = MustCreate("late-start", draft);
  h_.clock().Set(London(2026, 3, 5));
  pb::Campaign out;
  ASSERT_TRUE(Schedule(c, &out).ok());
  EXPECT_EQ(out.state(), cpb::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(out.state_time().seconds(), absl::ToUnixSeconds(London(2026, 3, 5)));
  auto events = EventsOf(epb::OutreachEvent::kCampaignStateChanged);
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[1].occurred_time().seconds(), absl::ToUnixSeconds(London(2026, 3, 5)));
  EXPECT_EQ(events[0].campaign_state_changed().state(), cpb::CAMPAIGN_STATE_SCHEDULED);
  EXPECT_EQ(events[1].campaign_state_changed().previous_state(), cpb::CAMPAIGN_STATE_SCHEDULED);
  EXPECT_EQ(events[1].campaign_state_changed().state(), cpb::CAMPAIGN_STATE_ACTIVE);
}

// --- activities --------------------------------------------------------------------------------

TEST_F(CampaignsServiceTest, ActivityGetsATrackingUrlAndLivesInsideTheDates) {
  pb::Campaign c = MustCreate("safe-online");
  pb::Activity a;
  ASSERT_TRUE(
      CreateActivity(c, "snap-1", NewActivity(cpb::CHANNEL_SNAPCHAT, London(2026, 3, 3)), &a).ok());
  EXPECT_EQ(a.name(), "forces/derbyshire/campaigns/safe-online/activities/snap-1");
  EXPECT_EQ(a.state(), pb::ACTIVITY_STATE_PLANNED);
  EXPECT_EQ(a.tracking_url(),
            "https://www.derbyshire.police.uk/safe-online?utm_source=snapchat&utm_medium=social&"
            "utm_campaign=safe-online&utm_content=snap-1");

  pb::Activity own = NewActivity(cpb::CHANNEL_PRESS_RELEASE, London(2026, 3, 4));
  own.set_link_uri("https://news.example.org/story?id=42&utm_source=old#top");
  own.set_utm_medium("press-office");
  ASSERT_TRUE(CreateActivity(c, "press", own, &a).ok());
  EXPECT_EQ(a.tracking_url(),
            "https://news.example.org/story?id=42&utm_source=press_release&utm_medium=press-office&"
            "utm_campaign=safe-online&utm_content=press#top");

  grpc::Status s = CreateActivity(c, "late", NewActivity(cpb::CHANNEL_X, London(2026, 5, 1)), &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "ACTIVITY_OUTSIDE_CAMPAIGN_DATES");
  s = CreateActivity(c, "early", NewActivity(cpb::CHANNEL_X, London(2026, 2, 28, 23, 30)), &a);
  EXPECT_EQ(ReasonOf(s), "ACTIVITY_OUTSIDE_CAMPAIGN_DATES");
  s = CreateActivity(c, "snap-1", NewActivity(cpb::CHANNEL_X, London(2026, 3, 3)), &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  pb::Campaign missing;
  missing.set_name("forces/derbyshire/campaigns/missing");
  s = CreateActivity(missing, "x", NewActivity(cpb::CHANNEL_X, London(2026, 3, 3)), &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  // Changing the landing page re-tags activities that use it.
  pb::UpdateCampaignRequest up;
  *up.mutable_campaign() = Get(c.name());
  up.mutable_campaign()->set_landing_page_uri("https://www.derbyshire.police.uk/cyber?x=1");
  up.mutable_update_mask()->add_paths("landing_page_uri");
  pb::Campaign updated;
  ASSERT_TRUE(stub_->UpdateCampaign(Ctx().get(), up, &updated).ok());
  pb::GetActivityRequest ga;
  ga.set_name("forces/derbyshire/campaigns/safe-online/activities/snap-1");
  ASSERT_TRUE(stub_->GetActivity(Ctx().get(), ga, &a).ok());
  EXPECT_EQ(a.tracking_url(),
            "https://www.derbyshire.police.uk/cyber?x=1&utm_source=snapchat&utm_medium=social&"
            "utm_campaign=safe-online&utm_content=snap-1");
}

TEST_F(CampaignsServiceTest, BadActivityInputNamesTheField) {
  pb::Campaign c = MustCreate("safe-online");
  struct Case {
    const char* label;
    std::function<void(pb::CreateActivityRequest*)> mutate;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"bad parent", [](auto* r) { r->set_parent("forces/derbyshire"); }, "parent"},
      {"bad id", [](auto* r) { r->set_activity_id("1abc"); }, "activity_id"},
      {"no title", [](auto* r) { r->mutable_activity()->clear_title(); }, "activity.title"},
      {"no channel", [](auto* r) { r->mutable_activity()->clear_channel(); }, "activity.channel"},
      {"long text",
       [](auto* r) { r->mutable_activity()->set_message_text(std::string(2001, 'a')); },
       "activity.message_text"},
      {"bad link", [](auto* r) { r->mutable_activity()->set_link_uri("mailto:x@y.z"); },
       "activity.link_uri"},
      {"bad medium", [](auto* r) { r->mutable_activity()->set_utm_medium("Social Media"); },
       "activity.utm_medium"},
      {"no time", [](auto* r) { r->mutable_activity()->clear_scheduled_time(); },
       "activity.scheduled_time"},
      {"bad time", [](auto* r) { r->mutable_activity()->mutable_scheduled_time()->set_nanos(-1); },
       "activity.scheduled_time"},
      {"dup audience",
       [](auto* r) {
         r->mutable_activity()->add_audiences(cpb::CAMPAIGN_AUDIENCE_PARENTS);
         r->mutable_activity()->add_audiences(cpb::CAMPAIGN_AUDIENCE_PARENTS);
       },
       "activity.audiences[1]"},
      {"long reference",
       [](auto* r) { r->mutable_activity()->set_external_reference(std::string(201, 'r')); },
       "activity.external_reference"},
  };
  for (const auto& k : cases) {
    pb::CreateActivityRequest req;
    req.set_parent(c.name());
    *req.mutable_activity() = NewActivity(cpb::CHANNEL_KIK, London(2026, 3, 3));
    k.mutate(&req);
    pb::Activity out;
    auto s = stub_->CreateActivity(Ctx().get(), req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << k.label;
    EXPECT_THAT(ViolatedFields(s), Contains(k.field)) << k.label;
  }
}

TEST_F(CampaignsServiceTest, CreateActivityRetryReturnsTheFirstResult) {
  pb::Campaign c = MustCreate("safe-online");
  pb::Activity first, again;
  auto a = NewActivity(cpb::CHANNEL_INSTAGRAM, London(2026, 3, 3));
  ASSERT_TRUE(CreateActivity(c, "", a, &first, "act-req").ok());
  ASSERT_TRUE(CreateActivity(c, "", a, &again, "act-req").ok());
  EXPECT_EQ(first.name(), again.name());
  a.set_title("Different");
  auto s = CreateActivity(c, "", a, &again, "act-req");
  EXPECT_EQ(ReasonOf(s), "REQUEST_ID_REUSED");
  pb::ListActivitiesRequest la;
  la.set_parent(c.name());
  pb::ListActivitiesResponse lr;
  ASSERT_TRUE(stub_->ListActivities(Ctx().get(), la, &lr).ok());
  EXPECT_EQ(lr.total_size(), 1);
}

TEST_F(CampaignsServiceTest, PublishWithdrawUpdateAndDeleteFollowTheActivityState) {
  pb::Campaign draft = MustCreate("safe-online");
  pb::Activity planned, out;
  ASSERT_TRUE(
      CreateActivity(draft, "ig", NewActivity(cpb::CHANNEL_INSTAGRAM, London(2026, 3, 2)), &planned)
          .ok());
  h_.clock().Set(London(2026, 3, 2, 12));
  auto s = Publish(planned, London(2026, 3, 2, 10), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "CAMPAIGN_NOT_LIVE");

  pb::Campaign live;
  ASSERT_TRUE(Schedule(draft, &live).ok());
  s = Publish(planned, London(2026, 3, 2, 13), &out);  // an hour in the future
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("publish_time"));
  s = Publish(planned, London(2026, 2, 27), &out);
  EXPECT_EQ(ReasonOf(s), "ACTIVITY_OUTSIDE_CAMPAIGN_DATES");

  // Updating a planned activity works and re-tags; channel is immutable.
  pb::UpdateActivityRequest up;
  *up.mutable_activity() = planned;
  up.mutable_activity()->set_utm_medium("paid-social");
  up.mutable_update_mask()->add_paths("utm_medium");
  pb::Activity updated;
  ASSERT_TRUE(stub_->UpdateActivity(Ctx().get(), up, &updated).ok());
  EXPECT_THAT(updated.tracking_url(), HasSubstr("utm_medium=paid-social"));
  up.mutable_update_mask()->add_paths("channel");
  s = stub_->UpdateActivity(Ctx().get(), up, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("update_mask"));

  pb::PublishActivityRequest pub;
  pub.set_name(updated.name());
  pub.set_etag(updated.etag());
  pub.set_external_reference("ig-post-123");  // publish_time defaults to now
  pb::Activity published;
  ASSERT_TRUE(stub_->PublishActivity(Ctx().get(), pub, &published).ok());
  EXPECT_EQ(published.state(), pb::ACTIVITY_STATE_PUBLISHED);
  EXPECT_EQ(published.publish_time().seconds(), absl::ToUnixSeconds(London(2026, 3, 2, 12)));
  EXPECT_EQ(published.external_reference(), "ig-post-123");
  s = Publish(published, London(2026, 3, 2, 10), &out);
  EXPECT_EQ(ReasonOf(s), "ACTIVITY_NOT_PLANNED");

  // Once published only external_reference may change.
  up.Clear();
  *up.mutable_activity() = published;
  up.mutable_activity()->set_title("Changed");
  up.mutable_update_mask()->add_paths("title");
  s = stub_->UpdateActivity(Ctx().get(), up, &out);
  EXPECT_EQ(ReasonOf(s), "ACTIVITY_NOT_PLANNED");
  up.mutable_update_mask()->clear_paths();
  up.mutable_update_mask()->add_paths("external_reference");
  up.mutable_activity()->set_external_reference("ig-post-124");
  ASSERT_TRUE(stub_->UpdateActivity(Ctx().get(), up, &published).ok());
  EXPECT_EQ(published.external_reference(), "ig-post-124");
  EXPECT_EQ(published.title(), updated.title());

  pb::DeleteActivityRequest del;
  del.set_name(published.name());
  del.set_etag(published.etag());
  google::protobuf::Empty empty;
  s = stub_->DeleteActivity(Ctx().get(), del, &empty);
  EXPECT_EQ(ReasonOf(s), "ACTIVITY_NOT_PLANNED");

  pb::Activity withdrawn;
  s = Withdraw(published, &withdrawn, "");
  EXPECT_THAT(ViolatedFields(s), ElementsAre("reason"));
  ASSERT_TRUE(Withdraw(published, &withdrawn, "Post removed after complaint").ok());
  EXPECT_EQ(withdrawn.state(), pb::ACTIVITY_STATE_WITHDRAWN);
  EXPECT_EQ(withdrawn.withdraw_reason(), "Post removed after complaint");
  s = Withdraw(withdrawn, &out);
  EXPECT_EQ(ReasonOf(s), "ACTIVITY_WITHDRAWN");

  // A planned activity can be withdrawn (no event) or deleted.
  pb::Activity p2, p3;
  ASSERT_TRUE(
      CreateActivity(live, "x1", NewActivity(cpb::CHANNEL_X, London(2026, 3, 5)), &p2).ok());
  ASSERT_TRUE(
      CreateActivity(live, "x2", NewActivity(cpb::CHANNEL_X, London(2026, 3, 5)), &p3).ok());
  ASSERT_TRUE(Withdraw(p2, &out).ok());
  del.set_name(p3.name());
  del.set_etag("stale");
  s = stub_->DeleteActivity(Ctx().get(), del, &empty);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  del.set_etag(p3.etag());
  ASSERT_TRUE(stub_->DeleteActivity(Ctx().get(), del, &empty).ok());

  auto pubs = EventsOf(epb::OutreachEvent::kActivityPublished);
  ASSERT_THAT(pubs, SizeIs(1));
  EXPECT_EQ(pubs[0].subject(), published.name());
  EXPECT_EQ(pubs[0].activity_published().campaign(), live.name());
  EXPECT_EQ(pubs[0].activity_published().channel(), cpb::CHANNEL_INSTAGRAM);
  EXPECT_THAT(pubs[0].activity_published().audiences(),
              ElementsAre(cpb::CAMPAIGN_AUDIENCE_RESIDENTS, cpb::CAMPAIGN_AUDIENCE_PARENTS));
  EXPECT_THAT(pubs[0].activity_published().areas(), ElementsAre("DE1"));
  EXPECT_EQ(pubs[0].activity_published().publish_time().seconds(),
            absl::ToUnixSeconds(London(2026, 3, 2, 12)));
  auto withdrawals = EventsOf(epb::OutreachEvent::kActivityWithdrawn);
  ASSERT_THAT(withdrawals, SizeIs(1));
  EXPECT_EQ(withdrawals[0].subject(), published.name());
  EXPECT_EQ(withdrawals[0].activity_withdrawn().channel(), cpb::CHANNEL_INSTAGRAM);
}

TEST_F(CampaignsServiceTest, ActivityChangesNeedTheCurrentEtagAndAValidName) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity a, out;
  ASSERT_TRUE(
      CreateActivity(c, "fb", NewActivity(cpb::CHANNEL_FACEBOOK, London(2026, 3, 2)), &a).ok());
  pb::UpdateActivityRequest up;
  *up.mutable_activity() = a;
  up.mutable_activity()->set_title("First change");
  up.mutable_update_mask()->add_paths("title");
  pb::Activity changed;
  ASSERT_TRUE(stub_->UpdateActivity(Ctx().get(), up, &changed).ok());
  EXPECT_NE(changed.etag(), a.etag());

  // `a` is now stale for every change.
  auto s = stub_->UpdateActivity(Ctx().get(), up, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  EXPECT_EQ(MetadataOf(s, "resource"), a.name());
  h_.clock().Set(London(2026, 3, 2, 12));
  s = Publish(a, London(2026, 3, 2, 10), &out);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  s = Withdraw(a, &out);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
  pb::DeleteActivityRequest del;
  del.set_name(a.name());
  del.set_etag(a.etag());
  google::protobuf::Empty empty;
  s = stub_->DeleteActivity(Ctx().get(), del, &empty);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");

  // Missing etags and malformed names name their field.
  up.mutable_activity()->clear_etag();
  s = stub_->UpdateActivity(Ctx().get(), up, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("activity.etag"));
  up.mutable_activity()->set_etag(changed.etag());
  up.mutable_activity()->set_name("forces/derbyshire/activities/fb");
  s = stub_->UpdateActivity(Ctx().get(), up, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("activity.name"));
  up.mutable_activity()->set_name(a.name());
  up.clear_update_mask();
  s = stub_->UpdateActivity(Ctx().get(), up, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("update_mask"));
  pb::Activity no_etag = changed;
  no_etag.clear_etag();
  s = Publish(no_etag, London(2026, 3, 2, 10), &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("etag"));
  s = Withdraw(no_etag, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("etag"));
  del.clear_etag();
  s = stub_->DeleteActivity(Ctx().get(), del, &empty);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("etag"));
  pb::PublishActivityRequest pub;
  pub.set_name("forces/derbyshire/campaigns/safe-online/activities/");
  pub.set_etag("x");
  s = stub_->PublishActivity(Ctx().get(), pub, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("name"));
  pub.set_name(changed.name());
  pub.set_external_reference(std::string(201, 'r'));
  s = stub_->PublishActivity(Ctx().get(), pub, &out);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("external_reference"));
  EXPECT_THAT(EventsOf(epb::OutreachEvent::kActivityPublished), SizeIs(0));
}

TEST_F(CampaignsServiceTest, RacingPublicationsOfOneActivityPublishItOnce) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity a;
  ASSERT_TRUE(
      CreateActivity(c, "fb", NewActivity(cpb::CHANNEL_FACEBOOK, London(2026, 3, 2)), &a).ok());
  h_.clock().Set(London(2026, 3, 2, 12));
  constexpr int kThreads = 8;
  std::vector<grpc::Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      pb::Activity out;
      results[i] = Publish(a, London(2026, 3, 2, 10) + absl::Minutes(i), &out);
    });
  }
  for (auto& t : threads) t.join();
  int published = 0;
  for (const auto& r : results) {
    if (r.ok()) {
      ++published;
    } else {
      EXPECT_EQ(r.error_code(), grpc::StatusCode::ABORTED);
      EXPECT_EQ(ReasonOf(r), "ETAG_MISMATCH");
    }
  }
  EXPECT_EQ(published, 1);
  EXPECT_THAT(EventsOf(epb::OutreachEvent::kActivityPublished), SizeIs(1));
}

TEST_F(CampaignsServiceTest, ListActivitiesFiltersOrdersAndPages) {
  pb::Campaign c = LiveCampaign("safe-online");
  const cpb::Channel channels[] = {cpb::CHANNEL_FACEBOOK, cpb::CHANNEL_SNAPCHAT, cpb::CHANNEL_KIK,
                                   cpb::CHANNEL_SNAPCHAT, cpb::CHANNEL_LEAFLET};
  for (int i = 0; i < 5; ++i) {
    pb::Activity a = NewActivity(channels[i], London(2026, 3, 10 - i));
    if (i == 2) a.add_audiences(cpb::CAMPAIGN_AUDIENCE_PARENTS);
    pb::Activity out;
    ASSERT_TRUE(CreateActivity(c, absl::StrCat("a", i), a, &out).ok());
  }
  pb::ListActivitiesRequest req;
  req.set_parent(c.name());
  req.set_page_size(2);
  std::vector<std::string> names;
  for (int page = 0; page < 5; ++page) {
    pb::ListActivitiesResponse resp;
    ASSERT_TRUE(stub_->ListActivities(Ctx().get(), req, &resp).ok());
    EXPECT_EQ(resp.total_size(), 5);
    for (const auto& a : resp.activities()) names.push_back(a.name());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  // Default order: scheduled_time ascending.
  ASSERT_THAT(names, SizeIs(5));
  EXPECT_THAT(names[0], HasSubstr("/a4"));
  EXPECT_THAT(names[4], HasSubstr("/a0"));

  req.clear_page_token();
  req.set_page_size(0);
  req.set_filter("channel = CHANNEL_SNAPCHAT AND state = ACTIVITY_STATE_PLANNED");
  pb::ListActivitiesResponse resp;
  ASSERT_TRUE(stub_->ListActivities(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.total_size(), 2);
  req.set_filter("audiences = CAMPAIGN_AUDIENCE_PARENTS");
  ASSERT_TRUE(stub_->ListActivities(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.activities_size(), 1);
  EXPECT_THAT(resp.activities(0).name(), HasSubstr("/a2"));
  req.clear_filter();
  req.set_order_by("channel desc");
  ASSERT_TRUE(stub_->ListActivities(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.activities(0).channel(), cpb::CHANNEL_LEAFLET);
  req.set_parent("forces/derbyshire/campaigns/missing");
  auto s = stub_->ListActivities(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

// --- engagement --------------------------------------------------------------------------------

TEST_F(CampaignsServiceTest, ResendingADayReplacesItsNumbersWithANewRevision) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity fb = PublishedActivity(c, "fb");
  h_.clock().Set(London(2026, 3, 5, 9));
  const absl::CivilDay d2(2026, 3, 2), d3(2026, 3, 3);

  pb::ReportEngagementResponse resp;
  auto first = Report(fb, d2, 1000, 800, 40, 12);
  first.set_source("meta-insights");
  ASSERT_TRUE(ReportAll(c, {first, Report(fb, d3, 500, 450, 10)}, &resp).ok());
  EXPECT_EQ(resp.created(), 2);
  EXPECT_EQ(resp.updated(), 0);
  EXPECT_EQ(resp.unchanged(), 0);
  ASSERT_EQ(resp.reports_size(), 2);
  EXPECT_EQ(resp.reports(0).revision(), 1);
  EXPECT_EQ(resp.reports(0).channel(), cpb::CHANNEL_FACEBOOK);
  EXPECT_EQ(resp.reports(0).source(), "meta-insights");

  // The platform revised day 2: the numbers are replaced, not added.
  h_.clock().Advance(absl::Hours(1));
  ASSERT_TRUE(
      ReportAll(c, {Report(fb, d2, 1200, 900, 60, 15), Report(fb, d3, 500, 450, 10)}, &resp).ok());
  EXPECT_EQ(resp.created(), 0);
  EXPECT_EQ(resp.updated(), 1);
  EXPECT_EQ(resp.unchanged(), 1);
  EXPECT_EQ(resp.reports(0).revision(), 2);
  EXPECT_EQ(resp.reports(0).impressions(), 1200);
  EXPECT_EQ(resp.reports(1).revision(), 1);

  // An identical re-import changes nothing and emits nothing.
  ASSERT_TRUE(ReportAll(c, {Report(fb, d2, 1200, 900, 60, 15)}, &resp).ok());
  EXPECT_EQ(resp.unchanged(), 1);
  EXPECT_EQ(resp.reports(0).revision(), 2);

  auto summary = Summary(c);
  EXPECT_EQ(summary.totals().impressions(), 1700);
  EXPECT_EQ(summary.totals().reach(), 1350);
  EXPECT_EQ(summary.totals().engagements(), 70);
  EXPECT_EQ(summary.days_reported(), 2);

  auto events = EventsOf(epb::OutreachEvent::kEngagementReported);
  ASSERT_THAT(events, SizeIs(3));  // d2 rev 1, d3 rev 1, d2 rev 2
  const auto& e = events[2];
  EXPECT_EQ(e.subject(), fb.name());
  EXPECT_EQ(e.force(), "derbyshire");
  EXPECT_EQ(e.source(), "campaigns");
  const auto& p = e.engagement_reported();
  EXPECT_EQ(p.campaign(), c.name());
  EXPECT_EQ(p.channel(), cpb::CHANNEL_FACEBOOK);
  EXPECT_THAT(p.audiences(),
              ElementsAre(cpb::CAMPAIGN_AUDIENCE_RESIDENTS, cpb::CAMPAIGN_AUDIENCE_PARENTS));
  EXPECT_THAT(p.areas(), ElementsAre("DE1"));
  EXPECT_EQ(p.day().day(), 2);
  EXPECT_EQ(p.revision(), 2);
  EXPECT_EQ(p.impressions(), 1200);  // absolute, not the delta 200
  EXPECT_EQ(p.reach(), 900);
  EXPECT_EQ(p.engagements(), 60);
  EXPECT_EQ(p.clicks(), 15);
  EXPECT_EQ(e.occurred_time().seconds(), absl::ToUnixSeconds(London(2026, 3, 5, 10)));
}

TEST_F(CampaignsServiceTest, ReportRulesWithReasonsAndIndexes) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity fb = PublishedActivity(c, "fb");
  pb::Activity planned;
  ASSERT_TRUE(
      CreateActivity(c, "kik", NewActivity(cpb::CHANNEL_KIK, London(2026, 3, 20)), &planned).ok());
  h_.clock().Set(London(2026, 3, 10));
  pb::ReportEngagementResponse resp;

  auto s = ReportAll(c,
                     {Report(fb, absl::CivilDay(2026, 3, 3), 10, 5, 1),
                      Report(planned, absl::CivilDay(2026, 3, 3), 1, 1, 0)},
                     &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "ACTIVITY_NOT_PUBLISHED");
  EXPECT_EQ(MetadataOf(s, "index"), "1");
  EXPECT_EQ(MetadataOf(s, "activity"), planned.name());
  s = ReportAll(c, {Report(fb, absl::CivilDay(2026, 3, 1), 10, 5, 1)}, &resp);
  EXPECT_EQ(ReasonOf(s), "REPORT_BEFORE_PUBLICATION");
  EXPECT_EQ(MetadataOf(s, "index"), "0");
  EXPECT_EQ(MetadataOf(s, "publish_date"), "2026-03-02");

  pb::Activity withdrawn;
  h_.clock().Set(London(2026, 3, 6, 15));
  ASSERT_TRUE(Withdraw(fb, &withdrawn).ok());
  h_.clock().Set(London(2026, 3, 10));
  s = ReportAll(c, {Report(fb, absl::CivilDay(2026, 3, 7), 10, 5, 1)}, &resp);
  EXPECT_EQ(ReasonOf(s), "REPORT_AFTER_WITHDRAWAL");
  // Days up to the withdrawal stay accepted.
  ASSERT_TRUE(ReportAll(c, {Report(fb, absl::CivilDay(2026, 3, 6), 10, 5, 1)}, &resp).ok());

  pb::EngagementReport missing = Report(fb, absl::CivilDay(2026, 3, 6), 1, 1, 1);
  missing.set_activity(c.name() + "/activities/nope");
  s = ReportAll(c, {Report(fb, absl::CivilDay(2026, 3, 6), 10, 5, 1), missing}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ReasonOf(s), "RESOURCE_NOT_FOUND");
  EXPECT_EQ(MetadataOf(s, "index"), "1");
}

TEST_F(CampaignsServiceTest, ABatchIsAllOrNothing) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity fb = PublishedActivity(c, "fb");
  pb::Activity planned;
  ASSERT_TRUE(
      CreateActivity(c, "kik", NewActivity(cpb::CHANNEL_KIK, London(2026, 3, 20)), &planned).ok());
  h_.clock().Set(London(2026, 3, 10));
  pb::ReportEngagementResponse resp;
  auto s = ReportAll(c,
                     {Report(fb, absl::CivilDay(2026, 3, 2), 100, 50, 5),
                      Report(fb, absl::CivilDay(2026, 3, 3), 100, 50, 5),
                      Report(planned, absl::CivilDay(2026, 3, 3), 1, 1, 0)},
                     &resp);
  EXPECT_EQ(ReasonOf(s), "ACTIVITY_NOT_PUBLISHED");
  pb::ListEngagementReportsRequest list;
  list.set_parent(c.name());
  pb::ListEngagementReportsResponse reports;
  ASSERT_TRUE(stub_->ListEngagementReports(Ctx().get(), list, &reports).ok());
  EXPECT_EQ(reports.total_size(), 0);
  EXPECT_THAT(EventsOf(epb::OutreachEvent::kEngagementReported), SizeIs(0));
}

TEST_F(CampaignsServiceTest, BadReportInputNamesTheField) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Campaign other = LiveCampaign("other");
  pb::Activity fb = PublishedActivity(c, "fb");
  h_.clock().Set(London(2026, 3, 10, 12));
  struct Case {
    const char* label;
    std::function<void(pb::ReportEngagementRequest*)> mutate;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"bad parent", [](auto* r) { r->set_parent("forces/derbyshire"); }, "parent"},
      {"no reports", [](auto* r) { r->clear_reports(); }, "reports"},
      {"too many",
       [](auto* r) {
         for (int i = 0; i < 500; ++i) *r->add_reports() = r->reports(0);
       },
       "reports"},
      {"negative", [](auto* r) { r->mutable_reports(0)->set_clicks(-1); }, "reports[0].clicks"},
      {"reach above impressions", [](auto* r) { r->mutable_reports(0)->set_reach(101); },
       "reports[0].reach"},
      {"future day",
       [](auto* r) {
         *r->mutable_reports(0)->mutable_day() = ToProtoDate(absl::CivilDay(2026, 3, 11));
       },
       "reports[0].day"},
      {"no day", [](auto* r) { r->mutable_reports(0)->clear_day(); }, "reports[0].day"},
      {"impossible day", [](auto* r) { r->mutable_reports(0)->mutable_day()->set_day(32); },
       "reports[0].day"},
      {"duplicate", [](auto* r) { *r->add_reports() = r->reports(0); }, "reports[1]"},
      {"bad activity", [](auto* r) { r->mutable_reports(0)->set_activity("fb"); },
       "reports[0].activity"},
      {"activity of another campaign",
       [](auto* r) {
         r->mutable_reports(0)->set_activity("forces/derbyshire/campaigns/other/activities/fb");
       },
       "reports[0].activity"},
      {"long source", [](auto* r) { r->mutable_reports(0)->set_source(std::string(65, 's')); },
       "reports[0].source"},
  };
  for (const auto& k : cases) {
    pb::ReportEngagementRequest req;
    req.set_parent(c.name());
    *req.add_reports() = Report(fb, absl::CivilDay(2026, 3, 4), 100, 80, 5);
    k.mutate(&req);
    pb::ReportEngagementResponse resp;
    auto s = stub_->ReportEngagement(Ctx().get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << k.label;
    EXPECT_THAT(ViolatedFields(s), Contains(k.field)) << k.label;
  }
  (void)other;
}

TEST_F(CampaignsServiceTest, AFullBatchOf500IsAcceptedAndAFullBadBatchStaysReadable) {
  pb::Campaign long_campaign = NewCampaign();
  *long_campaign.mutable_end_date() = ToProtoDate(absl::CivilDay(2028, 2, 28));
  pb::Campaign c = MustCreate("long", long_campaign);
  pb::Campaign live;
  ASSERT_TRUE(Schedule(c, &live).ok());
  pb::Activity fb = PublishedActivity(live, "fb");
  h_.clock().Set(London(2027, 8, 1));
  std::vector<pb::EngagementReport> batch;
  for (int i = 0; i < 500; ++i) {
    batch.push_back(Report(fb, absl::CivilDay(2026, 3, 2) + i, 100, 50, 2));
  }
  pb::ReportEngagementResponse resp;
  auto s = ReportAll(live, batch, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.created(), 500);
  EXPECT_EQ(Summary(live).totals().impressions(), 50000);
  EXPECT_THAT(EventsOf(epb::OutreachEvent::kEngagementReported), SizeIs(500));

  // 500 bad reports: one INVALID_ARGUMENT whose violations are capped (not a trailer overflow).
  for (auto& r : batch) r.set_reach(r.impressions() + 1);
  s = ReportAll(live, batch, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), Contains("reports[0].reach"));
  EXPECT_LE(ViolatedFields(s).size(), 21u);
}

TEST_F(CampaignsServiceTest, CompletedCampaignsKeepTakingReports) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity fb = PublishedActivity(c, "fb");
  pb::Campaign active, completed;
  ASSERT_TRUE(Activate(Get(c.name()), &active).ok());
  ASSERT_TRUE(Complete(active, &completed).ok());
  h_.clock().Set(London(2026, 5, 3));
  pb::ReportEngagementResponse resp;
  ASSERT_TRUE(ReportAll(c, {Report(fb, absl::CivilDay(2026, 5, 2), 10, 9, 1)}, &resp).ok());
  EXPECT_EQ(resp.created(), 1);
  // The default summary covers the campaign's dates; a range can reach past them.
  EXPECT_EQ(Summary(c).totals().impressions(), 0);
  pb::GetCampaignSummaryRequest req;
  *req.mutable_date_range()->mutable_start_date() = ToProtoDate(absl::CivilDay(2026, 5, 1));
  *req.mutable_date_range()->mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 5, 31));
  auto s = Summary(c, nullptr, &req);
  EXPECT_EQ(s.totals().impressions(), 10);
  EXPECT_EQ(s.date_range().start_date().month(), 5);
}

TEST_F(CampaignsServiceTest, ConcurrentReportsOfOneDayNeverDoubleCount) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity fb = PublishedActivity(c, "fb");
  h_.clock().Set(London(2026, 3, 10));
  constexpr int kThreads = 8;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      pb::ReportEngagementResponse resp;
      // Half the threads send the same numbers, half their own.
      const int64_t impressions = i % 2 == 0 ? 1000 : 1000 + i;
      if (ReportAll(c, {Report(fb, absl::CivilDay(2026, 3, 3), impressions, 500, 20)}, &resp).ok())
        ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads);
  pb::ListEngagementReportsRequest list;
  list.set_parent(c.name());
  pb::ListEngagementReportsResponse reports;
  ASSERT_TRUE(stub_->ListEngagementReports(Ctx().get(), list, &reports).ok());
  ASSERT_EQ(reports.total_size(), 1);
  const auto& stored = reports.engagement_reports(0);
  const auto events = EventsOf(epb::OutreachEvent::kEngagementReported);
  // One event per revision, the last one carrying the stored numbers.
  EXPECT_EQ(static_cast<int64_t>(events.size()), stored.revision());
  EXPECT_EQ(events.back().engagement_reported().impressions(), stored.impressions());
  EXPECT_EQ(Summary(c).totals().impressions(), stored.impressions());
}

TEST_F(CampaignsServiceTest, ListEngagementReportsFiltersOrdersAndPages) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity fb = PublishedActivity(c, "fb");
  pb::Activity snap = PublishedActivity(c, "snap", cpb::CHANNEL_SNAPCHAT);
  h_.clock().Set(London(2026, 3, 20));
  std::vector<pb::EngagementReport> batch;
  for (int64_t d = 2; d <= 11; ++d) {
    batch.push_back(Report(fb, absl::CivilDay(2026, 3, d), 100 * d, 50 * d, 5 * d));
    batch.push_back(Report(snap, absl::CivilDay(2026, 3, d), 10 * d, 5 * d, d));
  }
  pb::ReportEngagementResponse resp;
  ASSERT_TRUE(ReportAll(c, batch, &resp).ok());
  EXPECT_EQ(resp.created(), 20);

  pb::ListEngagementReportsRequest req;
  req.set_parent(c.name());
  req.set_page_size(7);
  std::set<std::string> seen;
  std::vector<std::string> order;
  int pages = 0;
  while (true) {
    pb::ListEngagementReportsResponse page;
    ASSERT_TRUE(stub_->ListEngagementReports(Ctx().get(), req, &page).ok());
    ++pages;
    EXPECT_EQ(page.total_size(), 20);
    for (const auto& r : page.engagement_reports()) {
      const std::string key = absl::StrCat(r.activity(), "@", r.day().day());
      EXPECT_TRUE(seen.insert(key).second) << key;
      order.push_back(key);
    }
    if (page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 20u);
  EXPECT_EQ(order[0], fb.name() + "@2");  // default order: day, activity
  EXPECT_EQ(order[1], snap.name() + "@2");

  // A token only works with the query it came from.
  pb::ListEngagementReportsRequest first;
  first.set_parent(c.name());
  first.set_page_size(7);
  pb::ListEngagementReportsResponse page;
  ASSERT_TRUE(stub_->ListEngagementReports(Ctx().get(), first, &page).ok());
  first.set_page_token(page.next_page_token());
  first.set_filter("channel = CHANNEL_SNAPCHAT");
  auto s = stub_->ListEngagementReports(Ctx().get(), first, &page);
  EXPECT_EQ(ReasonOf(s), "INVALID_PAGE_TOKEN");

  req.Clear();
  req.set_parent(c.name());
  req.set_filter(absl::StrCat("activity = \"", snap.name(), "\" AND day >= \"2026-03-10\""));
  req.set_order_by("day desc");
  ASSERT_TRUE(stub_->ListEngagementReports(Ctx().get(), req, &page).ok());
  ASSERT_EQ(page.total_size(), 2);
  EXPECT_EQ(page.engagement_reports(0).day().day(), 11);
  EXPECT_EQ(page.engagement_reports(0).channel(), cpb::CHANNEL_SNAPCHAT);
  req.set_filter("revision > 1");
  ASSERT_TRUE(stub_->ListEngagementReports(Ctx().get(), req, &page).ok());
  EXPECT_EQ(page.total_size(), 0);
}

// --- summary -----------------------------------------------------------------------------------

TEST_F(CampaignsServiceTest, SummaryOnKnownNumbers) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity fb = PublishedActivity(c, "fb", cpb::CHANNEL_FACEBOOK);
  pb::Activity ig = PublishedActivity(c, "ig", cpb::CHANNEL_INSTAGRAM);
  pb::Activity ev = PublishedActivity(c, "event", cpb::CHANNEL_COMMUNITY_EVENT);
  pb::Activity planned;
  ASSERT_TRUE(
      CreateActivity(c, "x", NewActivity(cpb::CHANNEL_X, London(2026, 3, 25)), &planned).ok());
  h_.clock().Set(London(2026, 3, 10));
  pb::EngagementReport event_report = Report(ev, absl::CivilDay(2026, 3, 3), 0, 0, 0);
  event_report.set_attendance(85);
  pb::ReportEngagementResponse resp;
  ASSERT_TRUE(ReportAll(c,
                        {Report(fb, absl::CivilDay(2026, 3, 2), 2000, 1500, 60, 30),
                         Report(fb, absl::CivilDay(2026, 3, 3), 2000, 1500, 100, 10),
                         Report(ig, absl::CivilDay(2026, 3, 3), 1000, 1000, 80, 20), event_report},
                        &resp)
                  .ok());
  pb::CampaignSummary s = Summary(c);
  EXPECT_EQ(s.name(), c.name() + "/summary");
  EXPECT_EQ(s.campaign(), c.name());
  EXPECT_EQ(s.state(), cpb::CAMPAIGN_STATE_SCHEDULED);
  EXPECT_EQ(s.totals().impressions(), 5000);
  EXPECT_EQ(s.totals().reach(), 4000);
  EXPECT_EQ(s.totals().engagements(), 240);
  EXPECT_EQ(s.totals().clicks(), 60);
  EXPECT_EQ(s.totals().attendance(), 85);
  EXPECT_DOUBLE_EQ(s.totals().engagement_rate(), 0.048);
  EXPECT_DOUBLE_EQ(s.totals().click_through_rate(), 0.012);
  EXPECT_DOUBLE_EQ(s.reach_target_progress_percent(), 40.0);
  EXPECT_EQ(s.days_reported(), 2);
  EXPECT_EQ(s.last_report_time().seconds(), absl::ToUnixSeconds(London(2026, 3, 10)));
  EXPECT_EQ(s.compute_time().seconds(), absl::ToUnixSeconds(London(2026, 3, 10)));
  EXPECT_EQ(s.date_range().start_date().day(), 1);
  EXPECT_EQ(s.date_range().end_date().month(), 4);
  // Instagram 8% > Facebook 4%; event and X have no impressions.
  ASSERT_EQ(s.channels_size(), 4);
  EXPECT_EQ(s.channels(0).channel(), cpb::CHANNEL_INSTAGRAM);
  EXPECT_DOUBLE_EQ(s.channels(0).totals().engagement_rate(), 0.08);
  EXPECT_EQ(s.channels(1).channel(), cpb::CHANNEL_FACEBOOK);
  EXPECT_DOUBLE_EQ(s.channels(1).totals().engagement_rate(), 0.04);
  EXPECT_DOUBLE_EQ(s.channels(1).totals().click_through_rate(), 0.01);
  EXPECT_EQ(s.channels(2).channel(), cpb::CHANNEL_X);
  EXPECT_EQ(s.channels(2).activities(), 1);
  EXPECT_EQ(s.channels(2).activities_published(), 0);
  EXPECT_EQ(s.channels(3).channel(), cpb::CHANNEL_COMMUNITY_EVENT);
  EXPECT_EQ(s.channels(3).totals().attendance(), 85);
  EXPECT_EQ(s.best_channel(), cpb::CHANNEL_INSTAGRAM);
  EXPECT_EQ(s.worst_channel(), cpb::CHANNEL_FACEBOOK);

  // One day only.
  pb::GetCampaignSummaryRequest req;
  *req.mutable_date_range()->mutable_start_date() = ToProtoDate(absl::CivilDay(2026, 3, 2));
  *req.mutable_date_range()->mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 3, 2));
  s = Summary(c, nullptr, &req);
  EXPECT_EQ(s.totals().impressions(), 2000);
  EXPECT_EQ(s.days_reported(), 1);
  EXPECT_EQ(s.best_channel(), cpb::CHANNEL_FACEBOOK);

  // Bad ranges.
  *req.mutable_date_range()->mutable_end_date() = ToProtoDate(absl::CivilDay(2026, 3, 1));
  grpc::Status status;
  Summary(c, &status, &req);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("date_range.end_date"));
  req.mutable_date_range()->clear_start_date();
  Summary(c, &status, &req);
  EXPECT_THAT(ViolatedFields(status), Contains("date_range.start_date"));
  req.Clear();
  req.set_name("forces/derbyshire/campaigns/missing/summary");
  Summary(c, &status, &req);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  // An empty campaign divides by nothing.
  pb::Campaign empty = MustCreate("empty");
  s = Summary(empty);
  EXPECT_EQ(s.totals().engagement_rate(), 0.0);
  EXPECT_EQ(s.best_channel(), cpb::CHANNEL_UNSPECIFIED);
  EXPECT_FALSE(s.has_last_report_time());
}

// --- lists of campaigns --------------------------------------------------------------------------

TEST_F(CampaignsServiceTest, ListCampaignsPagesFiltersAndOrders) {
  for (int i = 0; i < 7; ++i) {
    pb::Campaign c = NewCampaign();
    c.set_title("Campaign " + std::string(1, static_cast<char>('G' - i)));
    *c.mutable_start_date() = ToProtoDate(absl::CivilDay(2026, 3, 1 + i));
    if (i % 2 == 0) c.add_areas("DE22");
    if (i == 3) {
      c.clear_audiences();
      c.add_audiences(cpb::CAMPAIGN_AUDIENCE_OLDER_PEOPLE);
    }
    MustCreate(absl::StrCat("c", i), c);
  }
  pb::ListCampaignsRequest req;
  req.set_parent(kForce);
  req.set_page_size(3);
  std::vector<std::string> names;
  while (true) {
    pb::ListCampaignsResponse resp;
    ASSERT_TRUE(stub_->ListCampaigns(Ctx().get(), req, &resp).ok());
    EXPECT_EQ(resp.total_size(), 7);
    EXPECT_LE(resp.campaigns_size(), 3);
    for (const auto& c : resp.campaigns()) names.push_back(c.name());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  ASSERT_THAT(names, SizeIs(7));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 7u);
  EXPECT_THAT(names[0], HasSubstr("/c6"));  // default: start_date desc

  auto list = [&](const std::string& filter, const std::string& order_by = "") {
    pb::ListCampaignsRequest r;
    r.set_parent(kForce);
    r.set_filter(filter);
    r.set_order_by(order_by);
    pb::ListCampaignsResponse resp;
    auto s = stub_->ListCampaigns(Ctx().get(), r, &resp);
    EXPECT_TRUE(s.ok()) << filter << ": " << s.error_message();
    return resp;
  };
  EXPECT_EQ(list("areas = \"DE22\"").total_size(), 4);
  EXPECT_EQ(list("audiences = CAMPAIGN_AUDIENCE_OLDER_PEOPLE").total_size(), 1);
  EXPECT_EQ(list("audiences = CAMPAIGN_AUDIENCE_PARENTS").total_size(), 6);
  EXPECT_EQ(list("start_date >= \"2026-03-05\"").total_size(), 3);
  EXPECT_EQ(list("state = CAMPAIGN_STATE_DRAFT AND follow_dates = false").total_size(), 7);
  EXPECT_EQ(list("state = CAMPAIGN_STATE_ACTIVE").total_size(), 0);
  // An audience name inside a quoted string stays a string.
  EXPECT_EQ(list("title = \"CAMPAIGN_AUDIENCE_PARENTS\"").total_size(), 0);
  EXPECT_EQ(list("title = \"Campaign A\"").campaigns(0).name(), "forces/derbyshire/campaigns/c6");
  auto by_title = list("", "title");
  EXPECT_EQ(by_title.campaigns(0).title(), "Campaign A");
  EXPECT_EQ(by_title.campaigns(6).title(), "Campaign G");
}

TEST_F(CampaignsServiceTest, ForcesNeverSeeEachOthersCampaigns) {
  pb::Campaign mine = LiveCampaign("safe-online");
  pb::Activity fb = PublishedActivity(mine, "fb");
  pb::Campaign theirs;
  ASSERT_TRUE(Create("safe-online", &theirs, kOther).ok());  // same id, other force
  EXPECT_EQ(theirs.name(), "forces/nottinghamshire/campaigns/safe-online");

  pb::ListCampaignsRequest req;
  req.set_parent(kOther);
  pb::ListCampaignsResponse resp;
  ASSERT_TRUE(stub_->ListCampaigns(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.total_size(), 1);
  EXPECT_EQ(resp.campaigns(0).state(), cpb::CAMPAIGN_STATE_DRAFT);

  grpc::Status s;
  pb::GetActivityRequest ga;
  ga.set_name("forces/nottinghamshire/campaigns/safe-online/activities/fb");
  pb::Activity a;
  s = stub_->GetActivity(Ctx().get(), ga, &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  // A report naming an activity of another force than the parent is refused.
  h_.clock().Set(London(2026, 3, 10));
  pb::ReportEngagementResponse rr;
  s = ReportAll(theirs, {Report(fb, absl::CivilDay(2026, 3, 3), 10, 5, 1)}, &rr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(s), "CROSS_FORCE_ACCESS");

  // Nottinghamshire's summary sees nothing of Derbyshire's reports.
  ASSERT_TRUE(ReportAll(mine, {Report(fb, absl::CivilDay(2026, 3, 3), 10, 5, 1)}, &rr).ok());
  EXPECT_EQ(Summary(theirs).totals().impressions(), 0);
  EXPECT_EQ(Summary(mine).totals().impressions(), 10);
  for (const auto& e : Events()) EXPECT_EQ(e.force(), "derbyshire");
}

TEST_F(CampaignsServiceTest, InternalFailuresNeverLeakTheirText) {
  pb::Campaign c = MustCreate("safe-online");
  ASSERT_TRUE(h_.db()
                  .Write([](db::Connection& conn) -> absl::Status {
                    auto q = conn.Prepare("UPDATE campaigns SET body = ?");  // bytes of no message
                    if (!q.ok()) return q.status();
                    q->BindBlob(1, "\xff\xff");
                    return q->Run();
                  })
                  .ok());
  grpc::Status s;
  Get(c.name(), &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(ReasonOf(s), "INTERNAL");
  EXPECT_EQ(s.error_message(), "internal error");
}

// Rows written before etags were stored in the body have an empty one there: they read with the
// etag the old code computed on read (so a client's etag stays valid) and can be written with it.
TEST_F(CampaignsServiceTest, RowsWrittenWithoutAStoredEtagKeepTheirEtag) {
  pb::Campaign c = MustCreate("safe-online");
  ASSERT_TRUE(h_.db()
                  .Write([](db::Connection& conn) -> absl::Status {
                    auto read = conn.Prepare("SELECT body FROM campaigns");
                    if (!read.ok()) return read.status();
                    auto row = read->Step();
                    if (!row.ok() || !*row) return absl::InternalError("no campaign row");
                    pb::Campaign stored;
                    if (!stored.ParseFromString(read->Blob(0))) {
                      return absl::InternalError("unparsable campaign row");
                    }
                    stored.clear_etag();
                    auto write = conn.Prepare("UPDATE campaigns SET body = ?");
                    if (!write.ok()) return write.status();
                    write->BindBlob(1, stored.SerializeAsString());
                    return write->Run();
                  })
                  .ok());
  pb::Campaign legacy = Get(c.name());
  EXPECT_EQ(legacy.etag(), c.etag());
  pb::Campaign scheduled;
  ASSERT_TRUE(Schedule(legacy, &scheduled).ok());
  EXPECT_EQ(scheduled.state(), cpb::CAMPAIGN_STATE_SCHEDULED);
  EXPECT_NE(scheduled.etag(), c.etag());
  EXPECT_EQ(Get(c.name()).etag(), scheduled.etag());
}

TEST_F(CampaignsServiceTest, EverythingSurvivesARestart) {
  pb::Campaign c = LiveCampaign("safe-online");
  pb::Activity fb = PublishedActivity(c, "fb");
  h_.clock().Set(London(2026, 3, 10));
  pb::ReportEngagementResponse rr;
  ASSERT_TRUE(ReportAll(c, {Report(fb, absl::CivilDay(2026, 3, 3), 10, 5, 1)}, &rr).ok());
  h_.Restart();
  stub_ = pb::CampaignsService::NewStub(h_.channel());
  EXPECT_EQ(Get(c.name()).etag(), c.etag());
  pb::GetActivityRequest ga;
  ga.set_name(fb.name());
  pb::Activity a;
  ASSERT_TRUE(stub_->GetActivity(Ctx().get(), ga, &a).ok());
  EXPECT_EQ(a.etag(), fb.etag());
  EXPECT_EQ(Summary(c).totals().impressions(), 10);
}

}  // namespace
}  // namespace outreach::campaigns
