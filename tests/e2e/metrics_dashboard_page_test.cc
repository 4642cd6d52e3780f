// The dashboard page at / of metrics' HTTP port, end to end, on the demo data: real processes of
// redis-server, metrics, workshops, training and campaigns (TLS and tokens as in production;
// the HTTP port is plain HTTP on loopback), the demo loaders put the Derbyshire story in
// through the public APIs, then
//  - Routes: the page's files are open and carry their content types and security headers; the
//    data routes refuse a caller without a token (401) or of another force (403), name the bad
//    parameter of a /series query (400), and agree with the gRPC API;
//  - Browser: tests/browser/dashboard_page.mjs drives Debian's chromium (headless,
//    playwright-core): the tiles equal the JSON, the period and area pickers work, and when it
//    says `awaiting_ingest=1` this test delivers one workshop through the workshops API, which
//    the page must show without a reload. It saves a screenshot (path printed) for CI.
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/calendar.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/service_harness.h"
#include "tests/support/suite_processes.h"
#include "tests/support/suite_writes.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_security.h"
#include "tests/support/wait.h"

namespace outreach {
namespace {

using outreach::testing::ChildProcess;
using outreach::testing::Ctx;
using outreach::testing::WaitFor;
namespace ws = outreach::workshops::v1;
namespace mt = outreach::metrics::v1;
namespace cm = outreach::common::v1;

constexpr char kForce[] = "derbyshire";
constexpr char kDisplayName[] = "Derbyshire Constabulary <b>&</b>";

std::string Env(const std::string& name, const std::string& fallback) {
  return outreach::testing::EnvOr(name, fallback);
}

// The suite with the demo data, shared by the tests below (started once: it is the slow part).
struct World {
  TempDir dir;
  outreach::testing::ProcessSecurity security{dir.File("pki")};
  std::unique_ptr<outreach::testing::SuiteProcesses> suite;
  std::string token_file;
};

class DashboardPage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    world_ = new World;
    const std::string dir = world_->dir.path();
    world_->suite = std::make_unique<outreach::testing::SuiteProcesses>(
        &world_->security, dir, "redis", [&](const std::string& service) {
          return absl::StrCat("--db-path=", dir, "/", service, ".db");
        });
    if (HasFatalFailure()) return;
    for (const auto& flag : world_->security.ClientFlags()) {
      absl::string_view f = flag;
      if (absl::ConsumePrefix(&f, "--token-file=")) world_->token_file = std::string(f);
    }
    world_->suite->LoadDemo(world_->security);
    ASSERT_FALSE(HasFatalFailure());
    world_->suite->AwaitOutboxesEmpty();
    ASSERT_FALSE(HasFatalFailure()) << world_->suite->Problems();
    ConfigureForce();
    ASSERT_FALSE(HasFatalFailure());
    ready_ = true;
  }
  static void TearDownTestSuite() {
    delete world_;
    world_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(ready_) << "the suite with the demo data did not start"; }

  // Targets, so that the compliance and target tiles show numbers, and a display name with
  // markup in it, which the page must show as text.
  static void ConfigureForce() {
    auto stub = Metrics();
    mt::GetForceSettingsRequest get;
    get.set_name(absl::StrCat("forces/", kForce, "/settings"));
    mt::ForceSettings settings;
    grpc::Status s = stub->GetForceSettings(Ctx().get(), get, &settings);
    ASSERT_TRUE(s.ok()) << s.error_message();
    mt::UpdateForceSettingsRequest update;
    *update.mutable_force_settings() = settings;
    mt::ForceSettings* in = update.mutable_force_settings();
    in->set_display_name(kDisplayName);
    in->set_school_coverage_target_percent(80);
    in->clear_training_targets();
    mt::TrainingTarget* target = in->add_training_targets();
    target->set_course(absl::StrCat("forces/", kForce, "/courses/cybercrime"));
    target->set_display_name("Cybercrime package, frontline investigators");
    target->add_roles(cm::OFFICER_ROLE_FRONTLINE_INVESTIGATOR);
    target->set_percent(90);
    for (const char* path :
         {"display_name", "school_coverage_target_percent", "training_targets"}) {
      update.mutable_update_mask()->add_paths(path);
    }
    s = stub->UpdateForceSettings(Ctx().get(), update, &settings);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  static int HttpPort() { return world_->suite->metrics().HttpPort(0); }
  static httplib::Headers Bearer(const std::string& token = outreach::testing::TestToken()) {
    return {{"Authorization", "Bearer " + token}};
  }
  static std::unique_ptr<mt::MetricsService::Stub> Metrics() {
    return mt::MetricsService::NewStub(world_->security.Channel(world_->suite->metrics().Port(0)));
  }
  static mt::Dashboard GrpcDashboard(const std::string& area) {
    mt::GetDashboardRequest req;
    req.set_name(absl::StrCat("forces/", kForce, "/dashboard"));
    req.mutable_period()->set_kind(mt::PERIOD_KIND_ACADEMIC_YEAR);
    req.set_area(area);
    mt::Dashboard d;
    grpc::Status s = Metrics()->GetDashboard(Ctx().get(), req, &d);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return d;
  }

  static World* world_;
  static bool ready_;
};
World* DashboardPage::world_ = nullptr;
bool DashboardPage::ready_ = false;

TEST_F(DashboardPage, PageFilesAreOpenWithTheirTypesAndSecurityHeaders) {
  httplib::Client http("127.0.0.1", HttpPort());
  struct File {
    const char* path;
    const char* type;
    const char* holds;
  };
  for (const File& f :
       {File{"/", "text/html; charset=utf-8", "<title>Cyber outreach dashboard"},
        File{"/assets/dashboard.js", "text/javascript; charset=utf-8", "textContent"},
        File{"/assets/dashboard.css", "text/css; charset=utf-8", ".tile"},
        File{"/assets/uPlot.iife.min.js", "text/javascript; charset=utf-8", "uPlot"},
        File{"/assets/uPlot.min.css", "text/css; charset=utf-8", ".uplot"}}) {
    auto res = http.Get(f.path);  // no token: the files hold no data
    ASSERT_TRUE(res) << f.path;
    EXPECT_EQ(res->status, 200) << f.path;
    EXPECT_EQ(res->get_header_value("Content-Type"), f.type) << f.path;
    EXPECT_TRUE(absl::StrContains(res->body, f.holds)) << f.path;
    EXPECT_TRUE(
        absl::StartsWith(res->get_header_value("Content-Security-Policy"), "default-src 'self'"))
        << f.path;
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff") << f.path;
    EXPECT_EQ(res->get_header_value("Cache-Control"), "no-cache") << f.path;
  }
  // The page holds no inline script or style (the CSP would refuse them).
  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_FALSE(absl::StrContains(page->body, "<script>"));
  EXPECT_FALSE(absl::StrContains(page->body, "<style"));
  EXPECT_FALSE(absl::StrContains(page->body, "style=\""));
  EXPECT_FALSE(absl::StrContains(page->body, "http://"));   // no CDN
  EXPECT_FALSE(absl::StrContains(page->body, "https://"));  // no CDN
  auto missing = http.Get("/assets/nothing.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(DashboardPage, DataRoutesNeedATokenOfTheForce) {
  httplib::Client http("127.0.0.1", HttpPort());
  const std::string series = absl::StrCat("/series?force=", kForce,
                                          "&metric=PUPILS_REACHED&granularity=MONTH"
                                          "&start=2025-09-01&end=2026-08-31");
  for (const std::string& path :
       {absl::StrCat("/dashboard?force=", kForce), series, absl::StrCat("/areas?force=", kForce)}) {
    auto anonymous = http.Get(path);
    ASSERT_TRUE(anonymous) << path;
    EXPECT_EQ(anonymous->status, 401) << path;
    outreach::testing::TestCaller other;
    other.subject = "another-force-admin";
    other.forces = {"nottinghamshire"};
    auto foreign = http.Get(path, Bearer(outreach::testing::TestToken(other)));
    ASSERT_TRUE(foreign) << path;
    EXPECT_EQ(foreign->status, 403) << path;
    auto allowed = http.Get(path, Bearer());
    ASSERT_TRUE(allowed) << path;
    EXPECT_EQ(allowed->status, 200) << path << ": " << allowed->body;
    EXPECT_EQ(allowed->get_header_value("Content-Type"), "application/json") << path;
    EXPECT_EQ(allowed->get_header_value("Cache-Control"), "no-store") << path;
  }
}

TEST_F(DashboardPage, BadSeriesQueriesNameTheParameter) {
  httplib::Client http("127.0.0.1", HttpPort());
  const std::string base = absl::StrCat("/series?force=", kForce);
  struct Bad {
    std::string query;
    std::string field;
  };
  for (const Bad& bad : {
           Bad{"&granularity=MONTH&start=2025-09-01&end=2026-08-31", "metric"},
           Bad{"&metric=no-such-metric&granularity=MONTH&start=2025-09-01&end=2026-08-31",
               "metric"},
           Bad{"&metric=pupils-reached&start=2025-09-01&end=2026-08-31", "granularity"},
           Bad{"&metric=pupils-reached&granularity=MONTH&start=1.9.2025&end=2026-08-31", "start"},
           Bad{"&metric=pupils-reached&granularity=MONTH&start=2025-09-01", "end"},
           Bad{"&metric=pupils-reached&granularity=MONTH&start=2025-09-01&end=2026-08-31"
               "&group_by=colour",
               "group_by"},
           Bad{"&metric=pupils-reached&granularity=MONTH&start=2025-09-01&end=2026-08-31"
               "&group_by=CHANNEL",
               "group_by"},  // pupils have no channel: QuerySeries' own check
       }) {
    auto res = http.Get(base + bad.query, Bearer());
    ASSERT_TRUE(res) << bad.query;
    EXPECT_EQ(res->status, 400) << bad.query << ": " << res->body;
    EXPECT_TRUE(absl::StrContains(res->body, absl::StrCat("\"field\":\"", bad.field, "\"")))
        << bad.query << ": " << res->body;
  }
  auto no_force = http.Get("/series?metric=pupils-reached", Bearer());
  ASSERT_TRUE(no_force);
  EXPECT_EQ(no_force->status, 400);
  EXPECT_TRUE(absl::StrContains(no_force->body, "\"field\":\"force\"")) << no_force->body;
}

TEST_F(DashboardPage, SeriesAndAreasAgreeWithTheGrpcDashboard) {
  const mt::Dashboard year = GrpcDashboard("");
  ASSERT_GT(year.workshops().pupils_reached(), 0);  // the demo is in
  httplib::Client http("127.0.0.1", HttpPort());
  auto start = FromProtoDate("start", year.date_range().start_date());
  auto end = FromProtoDate("end", year.date_range().end_date());
  ASSERT_TRUE(start.ok() && end.ok());
  auto res =
      http.Get(absl::StrCat("/series?force=", kForce,
                            "&metric=pupils-reached&granularity=month&start=", FormatDay(*start),
                            "&end=", FormatDay(*end)),
               Bearer());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  mt::QuerySeriesResponse series;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(res->body, &series).ok()) << res->body;
  ASSERT_EQ(series.series_size(), 1);
  EXPECT_EQ(series.series(0).points_size(), 12);  // September to August
  double pupils = 0;
  for (const auto& p : series.series(0).points()) pupils += p.value();
  EXPECT_EQ(pupils, static_cast<double>(year.workshops().pupils_reached()));

  auto areas = http.Get(absl::StrCat("/areas?force=", kForce), Bearer());
  ASSERT_TRUE(areas);
  ASSERT_EQ(areas->status, 200) << areas->body;
  google::protobuf::Struct body;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(areas->body, &body).ok());
  const auto& list = body.fields().at("areas").list_value();
  ASSERT_GT(list.values_size(), 0);
  int64_t schools_total = 0;
  for (const auto& row : list.values()) {
    const auto& f = row.struct_value().fields();
    const mt::Dashboard one = GrpcDashboard(f.at("area").string_value());
    EXPECT_EQ(f.at("schoolsCovered").number_value(),
              static_cast<double>(one.workshops().schools_covered()))
        << f.at("area").string_value();
    EXPECT_EQ(f.at("pupilsReached").number_value(),
              static_cast<double>(one.workshops().pupils_reached()))
        << f.at("area").string_value();
    schools_total += static_cast<int64_t>(f.at("schoolsTotal").number_value());
  }
  // Every school is in exactly one area.
  EXPECT_EQ(schools_total, year.workshops().schools_total());
}

// One more workshop delivered today, through the workshops API (its own venue, presenter and
// topic, so that nothing of the demo's calendar is in the way).
void DeliverOneWorkshop(World& world) {
  auto workshops = ws::WorkshopsService::NewStub(
      world.security.Channel(world.suite->domain("workshops").Port(0)));
  outreach::testing::DeliverParentsEvening(*workshops, absl::StrCat("forces/", kForce),
                                           "page-test-live", 23);
}

TEST_F(DashboardPage, InHeadlessChromiumTheTilesMatchAndUpdateLive) {
  const std::string screenshot =
      Env("OUTREACH_DASHBOARD_PAGE_SCREENSHOT", world_->dir.File("dashboard_page.png"));
  std::error_code ignored;
  std::filesystem::remove(screenshot, ignored);
  const int64_t workshops_before = GrpcDashboard("").workshops().workshops_delivered();
  ChildProcess browser(
      Env("OUTREACH_NODE", "node"),
      {Env("OUTREACH_DASHBOARD_PAGE_SCRIPT", "tests/browser/dashboard_page.mjs"),
       absl::StrCat("http://127.0.0.1:", HttpPort(), "/"), world_->token_file, kForce, screenshot});
  ASSERT_TRUE(browser.Start()) << "node (Node.js) runs the browser test: install nodejs";
  // The script has checked the tiles, the period and the area, and now waits for new data.
  const std::string ready = browser.WaitForLogValue("awaiting_ingest", absl::Seconds(120));
  ASSERT_EQ(ready, "1") << "dashboard_page.mjs:\n" << browser.Stderr();
  DeliverOneWorkshop(*world_);
  ASSERT_FALSE(HasFatalFailure());
  const int code = browser.Wait(absl::Seconds(120));
  std::cout << "dashboard_page.mjs:\n" << browser.Stderr() << std::flush;
  EXPECT_EQ(code, 0) << world_->suite->Problems();
  // The delivery counted once, as the gRPC API says too (not only the page's own JSON).
  EXPECT_TRUE(WaitFor(
      [&] { return GrpcDashboard("").workshops().workshops_delivered() == workshops_before + 1; },
      absl::Seconds(30)));
  if (code != 0) return;
  // The screenshot is a PNG, kept by CI as an artifact.
  std::ifstream png(screenshot, std::ios::binary);
  std::string magic(8, '\0');
  png.read(magic.data(), 8);
  EXPECT_EQ(magic, std::string("\x89PNG\r\n\x1a\n", 8)) << screenshot;
  std::cout << "dashboard page screenshot: " << screenshot << std::endl;
}

}  // namespace
}  // namespace outreach
