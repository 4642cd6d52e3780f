// The real `campaigns` binary: acknowledged writes survive kill -9, SIGTERM exits 0, and the
// demo loader runs twice against it without duplicating anything. TLS, tokens and the shipped
// policy throughout (tests/support/process_security.h).
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "outreach/campaigns/v1/campaigns.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/service_harness.h"
#include "tests/support/temp_dir.h"

namespace outreach {
namespace {

namespace pb = ::outreach::campaigns::v1;
namespace cpb = ::outreach::common::v1;
using outreach::testing::ChildProcess;
using outreach::testing::Ctx;
using outreach::testing::ProcessSecurity;
using ::testing::HasSubstr;

std::string Binary(const char* env, const char* fallback) {
  const char* path = std::getenv(env);
  return path != nullptr ? path : fallback;
}

std::vector<std::string> ServerArgs(const TempDir& dir, ProcessSecurity& security) {
  std::vector<std::string> args{"--db-path=" + dir.File("campaigns.db"),
                                "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
                                "--drain-timeout=5s"};
  for (auto& flag : security.FlagsFor("campaigns")) args.push_back(std::move(flag));
  return args;
}

std::unique_ptr<pb::CampaignsService::Stub> Connect(ProcessSecurity& security,
                                                    const std::string& port) {
  return pb::CampaignsService::NewStub(security.Channel(port));
}

TEST(CampaignsProcess, AcknowledgedWritesSurviveKillNine) {
  TempDir dir;
  ProcessSecurity security(dir.File("pki"));
  const absl::Time now = absl::Now();
  const absl::CivilDay today = LocalDay(now);
  std::string campaign_name, activity_name;
  {
    ChildProcess server(Binary("OUTREACH_CAMPAIGNS_SERVER", "campaigns"),
                        ServerArgs(dir, security));
    ASSERT_TRUE(server.Start());
    const std::string port = server.WaitForLogValue("grpc_port", absl::Seconds(20));
    ASSERT_FALSE(port.empty()) << server.Stderr();
    auto stub = Connect(security, port);

    pb::CreateCampaignRequest create;
    create.set_parent("forces/derbyshire");
    create.set_campaign_id("safe-online");
    auto* c = create.mutable_campaign();
    c->set_title("Protect yourself online");
    c->add_audiences(cpb::CAMPAIGN_AUDIENCE_RESIDENTS);
    *c->mutable_start_date() = ToProtoDate(today - 3);
    *c->mutable_end_date() = ToProtoDate(today + 30);
    c->set_landing_page_uri("https://example.org/safe");
    pb::Campaign campaign;
    ASSERT_TRUE(stub->CreateCampaign(Ctx().get(), create, &campaign).ok());
    pb::ScheduleCampaignRequest schedule;
    schedule.set_name(campaign.name());
    schedule.set_etag(campaign.etag());
    ASSERT_TRUE(stub->ScheduleCampaign(Ctx().get(), schedule, &campaign).ok());
    campaign_name = campaign.name();

    pb::CreateActivityRequest add;
    add.set_parent(campaign.name());
    add.set_activity_id("fb");
    add.mutable_activity()->set_title("Launch post");
    add.mutable_activity()->set_channel(cpb::CHANNEL_FACEBOOK);
    *add.mutable_activity()->mutable_scheduled_time() = ToProtoTime(StartOfLocalDay(today - 2));
    pb::Activity activity;
    ASSERT_TRUE(stub->CreateActivity(Ctx().get(), add, &activity).ok());
    pb::PublishActivityRequest publish;
    publish.set_name(activity.name());
    publish.set_etag(activity.etag());
    *publish.mutable_publish_time() = ToProtoTime(StartOfLocalDay(today - 2) + absl::Hours(10));
    ASSERT_TRUE(stub->PublishActivity(Ctx().get(), publish, &activity).ok());
    activity_name = activity.name();

    pb::ReportEngagementRequest report;
    report.set_parent(campaign.name());
    for (int d = 2; d >= 1; --d) {
      auto* r = report.add_reports();
      r->set_activity(activity.name());
      *r->mutable_day() = ToProtoDate(today - d);
      r->set_impressions(int64_t{1000} * d);
      r->set_reach(int64_t{500} * d);
      r->set_engagements(int64_t{30} * d);
    }
    pb::ReportEngagementResponse reported;
    ASSERT_TRUE(stub->ReportEngagement(Ctx().get(), report, &reported).ok());
    ASSERT_EQ(reported.created(), 2);

    server.Signal(SIGKILL);
    EXPECT_EQ(server.Wait(absl::Seconds(10)), 128 + SIGKILL);
  }
  ChildProcess server(Binary("OUTREACH_CAMPAIGNS_SERVER", "campaigns"), ServerArgs(dir, security));
  ASSERT_TRUE(server.Start());
  const std::string port = server.WaitForLogValue("grpc_port", absl::Seconds(20));
  ASSERT_FALSE(port.empty()) << server.Stderr();
  auto stub = Connect(security, port);
  pb::GetCampaignRequest get;
  get.set_name(campaign_name);
  pb::Campaign campaign;
  ASSERT_TRUE(stub->GetCampaign(Ctx().get(), get, &campaign).ok());
  EXPECT_EQ(campaign.state(), cpb::CAMPAIGN_STATE_SCHEDULED);
  pb::GetActivityRequest get_activity;
  get_activity.set_name(activity_name);
  pb::Activity activity;
  ASSERT_TRUE(stub->GetActivity(Ctx().get(), get_activity, &activity).ok());
  EXPECT_EQ(activity.state(), pb::ACTIVITY_STATE_PUBLISHED);
  EXPECT_THAT(activity.tracking_url(), HasSubstr("utm_campaign=safe-online"));
  pb::GetCampaignSummaryRequest summary_request;
  summary_request.set_name(campaign_name + "/summary");
  pb::CampaignSummary summary;
  ASSERT_TRUE(stub->GetCampaignSummary(Ctx().get(), summary_request, &summary).ok());
  EXPECT_EQ(summary.totals().impressions(), 3000);
  EXPECT_EQ(summary.days_reported(), 2);
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(absl::Seconds(15)), 0) << server.Stderr();
}

TEST(CampaignsProcess, SigtermDrainsAndExitsZero) {
  TempDir dir;
  ProcessSecurity security(dir.File("pki"));
  ChildProcess server(Binary("OUTREACH_CAMPAIGNS_SERVER", "campaigns"), ServerArgs(dir, security));
  ASSERT_TRUE(server.Start());
  const std::string port = server.WaitForLogValue("grpc_port", absl::Seconds(20));
  ASSERT_FALSE(port.empty()) << server.Stderr();
  pb::ListCampaignsRequest list;
  list.set_parent("forces/derbyshire");
  pb::ListCampaignsResponse resp;
  ASSERT_TRUE(Connect(security, port)->ListCampaigns(Ctx().get(), list, &resp).ok());
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(absl::Seconds(15)), 0) << server.Stderr();
  EXPECT_THAT(server.Stderr(), HasSubstr("event=stopped"));
}

TEST(CampaignsProcess, DemoLoadsThroughTheApiAndRunsTwiceCleanly) {
  TempDir dir;
  ProcessSecurity security(dir.File("pki"));
  ChildProcess server(Binary("OUTREACH_CAMPAIGNS_SERVER", "campaigns"), ServerArgs(dir, security));
  ASSERT_TRUE(server.Start());
  const std::string port = server.WaitForLogValue("grpc_port", absl::Seconds(20));
  ASSERT_FALSE(port.empty()) << server.Stderr();
  // The demo loader is a client of the suite like any other: TLS and a token (common/client.h).
  std::vector<std::string> args = {"--target=127.0.0.1:" + port, "--force=derbyshire"};
  for (auto& flag : security.ClientFlags()) args.push_back(std::move(flag));

  pb::CampaignSummary first, second;
  for (pb::CampaignSummary* summary : {&first, &second}) {
    ChildProcess demo(Binary("OUTREACH_CAMPAIGNS_DEMO", "campaigns_demo"), args);
    ASSERT_TRUE(demo.Start());
    ASSERT_EQ(demo.Wait(absl::Seconds(60)), 0) << demo.Stderr();
    pb::GetCampaignSummaryRequest req;
    req.set_name("forces/derbyshire/campaigns/protect-yourself-online/summary");
    ASSERT_TRUE(Connect(security, port)->GetCampaignSummary(Ctx().get(), req, summary).ok());
  }
  EXPECT_GT(first.totals().impressions(), 0);
  EXPECT_GT(first.totals().copies_distributed(), 0);
  EXPECT_GT(first.totals().attendance(), 0);
  EXPECT_GE(first.channels_size(), 7);
  EXPECT_EQ(second.totals().SerializeAsString(), first.totals().SerializeAsString());
  EXPECT_EQ(second.days_reported(), first.days_reported());
  pb::ListCampaignsRequest list;
  list.set_parent("forces/derbyshire");
  pb::ListCampaignsResponse campaigns;
  ASSERT_TRUE(Connect(security, port)->ListCampaigns(Ctx().get(), list, &campaigns).ok());
  EXPECT_EQ(campaigns.total_size(), 1);
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(absl::Seconds(15)), 0);
}

}  // namespace
}  // namespace outreach
