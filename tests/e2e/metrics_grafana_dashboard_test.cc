// The Grafana dashboard (deploy/grafana/*.json) and the alert rules (deploy/prometheus/alerts.yml)
// against what the running suite really exposes: every service started as a real process with
// the demo data loaded, each one's /metrics scraped, and deploy/tools/dashboard_check.py run with
// those bodies, so a panel whose series no service exposes (renamed, removed, misspelt) fails
// here and not on an operator's empty graph. The check must be able to fail: a copy of the
// dashboard with one unknown series is refused, naming it.
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/suite_processes.h"
#include "tests/support/temp_dir.h"

namespace outreach {
namespace {

using outreach::testing::ChildProcess;
using outreach::testing::EnvOr;

std::string SourceDir() { return EnvOr("OUTREACH_SOURCE_DIR", "."); }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Runs dashboard_check.py on `dashboard` with the scraped bodies; returns its exit code and
// puts what it printed on stderr into `output`.
int RunCheck(const std::string& dashboard, const std::vector<std::string>& scraped,
             std::string* output) {
  std::vector<std::string> args{SourceDir() + "/deploy/tools/dashboard_check.py", dashboard,
                                SourceDir() + "/deploy/prometheus/alerts.yml", "--metrics"};
  args.insert(args.end(), scraped.begin(), scraped.end());
  ChildProcess check("/usr/bin/python3", args);
  if (!check.Start()) return -1;
  const int code = check.Wait(absl::Seconds(30));
  *output = check.Stderr();
  return code;
}

TEST(GrafanaDashboard, EverySeriesItUsesIsExposedByTheRunningSuite) {
  TempDir dir;
  outreach::testing::ProcessSecurity security(dir.File("pki"));
  outreach::testing::SuiteProcesses suite(
      &security, dir.path(), "redis",
      [&](const std::string& service) { return "--db-path=" + dir.File(service + ".db"); });
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  suite.LoadDemo(security);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  suite.AwaitOutboxesEmpty();  // metrics has every event: its KPI gauges carry the demo's forces
  ASSERT_FALSE(::testing::Test::HasFatalFailure()) << suite.Problems();

  std::vector<std::string> scraped;
  auto scrape = [&](const std::string& name, int port) {
    httplib::Client http("127.0.0.1", port);
    auto res = http.Get("/metrics");
    ASSERT_TRUE(res) << name << " /metrics did not answer";
    ASSERT_EQ(res->status, 200) << name;
    const std::string file = dir.File("metrics-" + name + ".txt");
    std::ofstream(file) << res->body;
    scraped.push_back(file);
  };
  scrape("metrics", suite.metrics().HttpPort(0));
  for (const char* service : outreach::testing::kDomainServices) {
    scrape(service, suite.domain(service).HttpPort(0));
  }
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  const std::string dashboard = SourceDir() + "/deploy/grafana/outreach-suite.json";
  ASSERT_TRUE(std::filesystem::exists(dashboard)) << dashboard;
  std::string output;
  EXPECT_EQ(RunCheck(dashboard, scraped, &output), 0) << output;

  // The same dashboard with one panel asking for a series nobody exposes.
  std::string json = ReadAll(dashboard);
  const std::string known = "outreach_kpi_workshops_delivered";
  ASSERT_NE(json.find(known), std::string::npos) << "the dashboard no longer shows " << known;
  absl::StrReplaceAll({{known, "outreach_kpi_workshops_deliverd"}}, &json);
  const std::string broken = dir.File("broken-dashboard.json");
  std::ofstream(broken) << json;
  EXPECT_EQ(RunCheck(broken, scraped, &output), 1) << output;
  EXPECT_NE(output.find("outreach_kpi_workshops_deliverd"), std::string::npos) << output;
}

}  // namespace
}  // namespace outreach
