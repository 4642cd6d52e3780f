#include "common/log.h"
#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

using ::testing::HasSubstr;

TEST(Metrics, RendersPrometheusText) {
  MetricsRegistry m;
  m.DefineCounter("outreach_rpc_calls_total", "Calls.");
  m.DefineHistogram("outreach_rpc_duration_seconds", "Latency.", {0.01, 0.1});
  m.DefineGauge("outreach_outbox_backlog", "Unsent events.");
  m.Add("outreach_rpc_calls_total", {{"method", "/a.B/C"}, {"code", "OK"}});
  m.Add("outreach_rpc_calls_total", {{"method", "/a.B/C"}, {"code", "OK"}}, 2);
  m.Observe("outreach_rpc_duration_seconds", {{"method", "/a.B/C"}}, 0.05);
  m.Observe("outreach_rpc_duration_seconds", {{"method", "/a.B/C"}}, 0.5);
  m.AddRefresher([](MetricsRegistry& r) { r.Set("outreach_outbox_backlog", {}, 7); });
  const std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE outreach_rpc_calls_total counter\n"));
  EXPECT_THAT(text, HasSubstr("outreach_rpc_calls_total{method=\"/a.B/C\",code=\"OK\"} 3\n"));
  EXPECT_THAT(text,
              HasSubstr("outreach_rpc_duration_seconds_bucket{method=\"/a.B/C\",le=\"0.01\"} 0\n"));
  EXPECT_THAT(text,
              HasSubstr("outreach_rpc_duration_seconds_bucket{method=\"/a.B/C\",le=\"0.1\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("outreach_rpc_duration_seconds_bucket{method=\"/a.B/C\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("outreach_rpc_duration_seconds_count{method=\"/a.B/C\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("outreach_outbox_backlog 7\n"));
  EXPECT_EQ(m.Value("outreach_rpc_calls_total", {{"method", "/a.B/C"}, {"code", "OK"}}), 3);
}

TEST(Metrics, EscapesLabelValuesAndIgnoresUndefinedNames) {
  MetricsRegistry m;
  m.DefineGauge("g", "G.");
  m.Set("g", {{"area", "a\"b\\c"}}, 1);
  m.Set("undefined", {}, 1);
  EXPECT_THAT(m.Render(), HasSubstr("g{area=\"a\\\"b\\\\c\"} 1\n"));
  EXPECT_EQ(m.Render().find("undefined"), std::string::npos);
}

TEST(Metrics, RemovedSeriesIsNotRendered) {
  MetricsRegistry m;
  m.DefineGauge("g", "A gauge.");
  m.Set("g", {{"force", "a"}}, 1);
  m.Set("g", {{"force", "b"}}, 2);
  m.Remove("g", {{"force", "a"}});
  const std::string text = m.Render();
  EXPECT_EQ(text.find("force=\"a\""), std::string::npos);
  EXPECT_THAT(text, HasSubstr("g{force=\"b\"} 2\n"));
}

TEST(Log, LevelsParse) {
  LogLevel level;
  EXPECT_TRUE(ParseLogLevel("WARN", &level));
  EXPECT_EQ(level, LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("loud", &level));
}

}  // namespace
}  // namespace outreach
