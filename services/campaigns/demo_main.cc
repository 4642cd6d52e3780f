// campaigns_demo --target=127.0.0.1:50053 --force=derbyshire --tls-ca-file=data/pki/ca.pem
//     --token-file=data/pki/demo.token
//
// Loads Derbyshire Constabulary's residents' "protect yourself online" campaign through the
// public gRPC API: the campaign, its placements on Facebook, X, Instagram, Snapchat and Kik, a
// post for parents about the apps where sexting happens, a press release, leaflets and a
// community event with the Safer Neighbourhood team and Derby University, and three weeks of
// daily engagement numbers from a fixed formula. Idempotent: fixed ids, ALREADY_EXISTS
// tolerated, state changes only when still due, and re-sent numbers are identical so the
// service reports them "unchanged". One progress line per step; exit 1 on any error.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/client.h"
#include "common/config.h"
#include "outreach/campaigns/v1/campaigns.grpc.pb.h"

namespace {

namespace pb = ::outreach::campaigns::v1;
namespace cpb = ::outreach::common::v1;
using outreach::ToProtoDate;
using outreach::ToProtoTime;

constexpr char kCampaignId[] = "protect-yourself-online";
// The campaign started three weeks before the first demo run (its stored start_date anchors
// every later run, so numbers stay identical).
constexpr int kDaysBeforeToday = 21;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

bool Fail(const std::string& step, const grpc::Status& status) {
  std::fprintf(stderr, "campaigns_demo: %s failed: %s (%d)\n", step.c_str(),
               status.error_message().c_str(), static_cast<int>(status.error_code()));
  return false;
}

void Progress(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

struct Placement {
  const char* id;
  cpb::Channel channel;
  const char* title;
  const char* text;
  int day_offset;  // days after start_date when it went out
  std::vector<cpb::CampaignAudience> audiences;
  int64_t base_impressions;  // first-day impressions (online channels)
  int engagement_per_mille;  // engagements per 1000 impressions
};

// The demo's placements: a data table, long because it is data.
// NOLINTNEXTLINE(readability-function-size)
std::vector<Placement> Placements() {
  return {
      {"facebook-launch",
       cpb::CHANNEL_FACEBOOK,
       "Launch post: protect yourself online",
       "Derbyshire Constabulary is launching a campaign to help residents protect themselves "
       "online. Strong passwords, two-step verification and thinking before you share.",
       0,
       {},
       9000,
       32},
      {"x-launch",
       cpb::CHANNEL_X,
       "Launch thread on X",
       "Our Digital Media Investigation Unit's top tips to stay safe online. "
       "#ProtectYourselfOnline",
       0,
       {},
       6000,
       18},
      {"instagram-story",
       cpb::CHANNEL_INSTAGRAM,
       "Instagram story for young people",
       "Think before you share: once an image is sent you lose control of it.",
       1,
       {cpb::CAMPAIGN_AUDIENCE_YOUNG_PEOPLE},
       7000,
       45},
      {"snapchat-ad",
       cpb::CHANNEL_SNAPCHAT,
       "Snapchat advert: images can't be unsent",
       "Snaps can be screenshotted. If someone pressures you to send an image, tell someone you "
       "trust.",
       2,
       {cpb::CAMPAIGN_AUDIENCE_YOUNG_PEOPLE},
       8000,
       38},
      {"kik-young-people",
       cpb::CHANNEL_KIK,
       "Kik message for young people",
       "Chatting to someone you have never met? Don't share images or personal details.",
       3,
       {cpb::CAMPAIGN_AUDIENCE_YOUNG_PEOPLE},
       2500,
       27},
      {"parents-kik-aware",
       cpb::CHANNEL_FACEBOOK,
       "For parents: what you should know about Snapchat, Kik and Instagram",
       "Sexting often happens on Snapchat, Kik and Instagram. Talk to your child about what they "
       "share and who they chat to, and how to report it.",
       4,
       {cpb::CAMPAIGN_AUDIENCE_PARENTS},
       5000,
       41},
      {"press-release",
       cpb::CHANNEL_PRESS_RELEASE,
       "Press release: force launches campaign",
       "Derbyshire Constabulary launches a campaign encouraging residents to protect themselves "
       "online, after 128 frontline investigators completed specialist training last year and a "
       "new "
       "College of Policing training package was launched last month.",
       0,
       {cpb::CAMPAIGN_AUDIENCE_RESIDENTS},
       3000,
       12},
      {"leaflets",
       cpb::CHANNEL_LEAFLET,
       "Leaflet drop with QR code",
       "Protect yourself online: five steps for every household (QR code to the campaign page).",
       1,
       {cpb::CAMPAIGN_AUDIENCE_RESIDENTS, cpb::CAMPAIGN_AUDIENCE_OLDER_PEOPLE},
       0,
       0},
      {"community-event",
       cpb::CHANNEL_COMMUNITY_EVENT,
       "Community stand with the Safer Neighbourhood team and Derby University",
       "Drop-in advice stand: staying safe online, scams and sextortion, with partners from "
       "Derby University.",
       6,
       {cpb::CAMPAIGN_AUDIENCE_RESIDENTS, cpb::CAMPAIGN_AUDIENCE_PARENTS},
       0,
       0},
  };
}

// Deterministic daily numbers: day `n` after publication decays from the first-day figure with
// a weekly ripple; no randomness, so a re-run sends identical numbers.
pb::EngagementReport Numbers(const Placement& p, int n) {
  pb::EngagementReport r;
  if (p.channel == cpb::CHANNEL_LEAFLET) {
    if (n < 10) r.set_copies_distributed(600 - 40 * n);
    return r;
  }
  if (p.channel == cpb::CHANNEL_COMMUNITY_EVENT) {
    if (n == 0) r.set_attendance(140);
    return r;
  }
  const int64_t ripple = 100 + 15 * ((n * 3) % 7) - 45;  // 55..145 %
  const int64_t impressions = p.base_impressions * ripple / 100 * 10 / (10 + n);
  r.set_impressions(impressions);
  r.set_reach(impressions * 72 / 100);
  r.set_engagements(impressions * p.engagement_per_mille / 1000);
  r.set_clicks(impressions * (p.engagement_per_mille / 3) / 1000);
  r.set_shares(impressions * 4 / 1000);
  return r;
}

// The demo scenario in numbered steps, read top to bottom like the script it is; longer than
// the services' 80-line limit on purpose, since splitting it would scatter one story.
// NOLINTNEXTLINE(readability-function-size)
bool Run(const std::shared_ptr<grpc::Channel>& channel, const std::string& force) {
  auto stub = pb::CampaignsService::NewStub(channel);
  const std::string parent = absl::StrCat("forces/", force);
  const std::string name = absl::StrCat(parent, "/campaigns/", kCampaignId);
  const absl::Time now = absl::Now();
  const absl::CivilDay today = outreach::LocalDay(now);

  // 1. The campaign.
  pb::Campaign campaign;
  {
    pb::CreateCampaignRequest req;
    req.set_parent(parent);
    req.set_campaign_id(kCampaignId);
    auto* c = req.mutable_campaign();
    c->set_title("Protect yourself online");
    c->set_description(
        "Force-wide campaign encouraging residents to protect themselves online, with messages "
        "for young people and parents about sexting and child sexual exploitation on Snapchat, "
        "Kik and Instagram. Delivered with the Digital Media Investigation Unit, Safer "
        "Neighbourhood teams and Derby University.");
    c->add_key_messages("Think before you share");
    c->add_key_messages("Images can't be unsent");
    c->add_key_messages("Use strong passwords and two-step verification");
    c->add_key_messages("Tell someone you trust and report it");
    c->add_audiences(cpb::CAMPAIGN_AUDIENCE_RESIDENTS);
    c->add_audiences(cpb::CAMPAIGN_AUDIENCE_PARENTS);
    c->add_audiences(cpb::CAMPAIGN_AUDIENCE_YOUNG_PEOPLE);
    *c->mutable_start_date() = ToProtoDate(today - kDaysBeforeToday);
    *c->mutable_end_date() = ToProtoDate(today - kDaysBeforeToday + 90);
    c->set_reach_target(500000);
    c->set_landing_page_uri("https://www.derbyshire.police.uk/protect-yourself-online");
    auto status = stub->CreateCampaign(Ctx().get(), req, &campaign);
    if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      pb::GetCampaignRequest get;
      get.set_name(name);
      status = stub->GetCampaign(Ctx().get(), get, &campaign);
      if (!status.ok()) return Fail("get campaign", status);
      Progress(absl::StrCat("campaign ", name, " already there (",
                            cpb::CampaignState_Name(campaign.state()), ")"));
    } else if (!status.ok()) {
      return Fail("create campaign", status);
    } else {
      Progress(absl::StrCat("campaign ", name, " created"));
    }
  }
  const absl::CivilDay start(campaign.start_date().year(), campaign.start_date().month(),
                             campaign.start_date().day());

  // 2. Lifecycle: DRAFT -> SCHEDULED -> ACTIVE (only the steps still due).
  if (campaign.state() == cpb::CAMPAIGN_STATE_DRAFT) {
    pb::ScheduleCampaignRequest req;
    req.set_name(name);
    req.set_etag(campaign.etag());
    auto status = stub->ScheduleCampaign(Ctx().get(), req, &campaign);
    if (!status.ok()) return Fail("schedule campaign", status);
    Progress("campaign scheduled");
  }
  if (campaign.state() == cpb::CAMPAIGN_STATE_SCHEDULED) {
    pb::ActivateCampaignRequest req;
    req.set_name(name);
    req.set_etag(campaign.etag());
    auto status = stub->ActivateCampaign(Ctx().get(), req, &campaign);
    if (!status.ok()) return Fail("activate campaign", status);
    Progress("campaign activated");
  }

  // 3. Placements, published on their day.
  for (const auto& p : Placements()) {
    const std::string activity_name = absl::StrCat(name, "/activities/", p.id);
    const absl::Time out_time = absl::FromCivil(
        absl::CivilSecond(start + p.day_offset) + int64_t{10} * 3600, outreach::ForceTimeZone());
    pb::Activity activity;
    pb::CreateActivityRequest req;
    req.set_parent(name);
    req.set_activity_id(p.id);
    auto* a = req.mutable_activity();
    a->set_title(p.title);
    a->set_channel(p.channel);
    a->set_message_text(p.text);
    *a->mutable_scheduled_time() = ToProtoTime(out_time);
    for (auto audience : p.audiences) a->add_audiences(audience);
    auto status = stub->CreateActivity(Ctx().get(), req, &activity);
    if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      pb::GetActivityRequest get;
      get.set_name(activity_name);
      status = stub->GetActivity(Ctx().get(), get, &activity);
    }
    if (!status.ok()) return Fail(absl::StrCat("activity ", p.id), status);
    if (activity.state() == pb::ACTIVITY_STATE_PLANNED && out_time <= now) {
      pb::PublishActivityRequest publish;
      publish.set_name(activity.name());
      publish.set_etag(activity.etag());
      *publish.mutable_publish_time() = ToProtoTime(out_time);
      publish.set_external_reference(absl::StrCat("demo-", p.id));
      status = stub->PublishActivity(Ctx().get(), publish, &activity);
      if (!status.ok()) return Fail(absl::StrCat("publish ", p.id), status);
    }
    Progress(absl::StrCat("activity ", p.id, " ", pb::ActivityState_Name(activity.state()), " ",
                          activity.tracking_url()));

    // 4. Daily numbers from publication to yesterday, one batch per placement.
    if (activity.state() != pb::ACTIVITY_STATE_PUBLISHED) continue;
    pb::ReportEngagementRequest report;
    report.set_parent(name);
    const absl::CivilDay first = start + p.day_offset;
    absl::CivilDay last = std::min(today - 1, first + 27);
    if (p.channel == cpb::CHANNEL_COMMUNITY_EVENT) last = std::min(last, first);
    if (p.channel == cpb::CHANNEL_LEAFLET) last = std::min(last, first + 9);
    for (absl::CivilDay day = first; day <= last; ++day) {
      pb::EngagementReport r = Numbers(p, static_cast<int>(day - first));
      r.set_activity(activity.name());
      *r.mutable_day() = ToProtoDate(day);
      r.set_source("demo-export");
      *report.add_reports() = r;
    }
    if (report.reports_size() == 0) continue;
    pb::ReportEngagementResponse reported;
    status = stub->ReportEngagement(Ctx().get(), report, &reported);
    if (!status.ok()) return Fail(absl::StrCat("report ", p.id), status);
    Progress(absl::StrCat("  ", report.reports_size(), " days reported: ", reported.created(),
                          " created, ", reported.updated(), " updated, ", reported.unchanged(),
                          " unchanged"));
  }

  // 5. The summary.
  pb::GetCampaignSummaryRequest req;
  req.set_name(name + "/summary");
  pb::CampaignSummary summary;
  auto status = stub->GetCampaignSummary(Ctx().get(), req, &summary);
  if (!status.ok()) return Fail("summary", status);
  Progress(absl::StrFormat(
      "summary: %d impressions, reach %d (%.1f%% of target), engagement rate %.2f%%, "
      "CTR %.2f%%, %d leaflets, %d attended; best %s, worst %s",
      summary.totals().impressions(), summary.totals().reach(),
      summary.reach_target_progress_percent(), summary.totals().engagement_rate() * 100,
      summary.totals().click_through_rate() * 100, summary.totals().copies_distributed(),
      summary.totals().attendance(), cpb::Channel_Name(summary.best_channel()),
      cpb::Channel_Name(summary.worst_channel())));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target, force;
  outreach::ClientSecurity security;
  outreach::ConfigParser parser("campaigns_demo", "CAMPAIGNS_DEMO_");
  parser.String("target", &target, std::string("127.0.0.1:50053"),
                "host:port of the campaigns service", outreach::ValidateHostPort);
  parser.String("force", &force, std::string("derbyshire"), "force id to load the demo into",
                outreach::ValidateNotEmpty);
  outreach::RegisterClientSecuritySettings(parser, &security);
  outreach::ParseConfigOrExit(parser, argc, argv);
  auto channel = outreach::OpenChannel(target, security);
  if (!channel.ok()) {
    std::fprintf(stderr, "campaigns_demo: %s\n", std::string(channel.status().message()).c_str());
    return 2;
  }
  return Run(*channel, force) ? 0 : 1;
}
