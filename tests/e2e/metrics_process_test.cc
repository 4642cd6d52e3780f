// The real `metrics` binary as a process: acknowledged ingests survive kill -9, re-delivery
// after the restart is all DUPLICATE with unchanged totals, and SIGTERM ends open
// WatchDashboard streams with SERVER_DRAINING and exits 0. TLS, tokens and the shipped policy:
// events come in as the services' publishers send them, over mutual TLS with each sender's
// client certificate (tests/support/process_security.h).
#include <signal.h>

#include <cstdlib>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "outreach/metrics/v1/metrics.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/service_harness.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/metrics_test_events.h"

namespace outreach::metrics {
namespace {

namespace v1 = ::outreach::metrics::v1;
namespace ev = ::outreach::events::v1;
using ::outreach::testing::ChildProcess;
using ::outreach::testing::Ctx;
using ::outreach::testing::ProcessSecurity;
using ::outreach::testing::ReasonOf;
using testing::D;
using testing::Utc;

class MetricsProcessTest : public ::testing::Test {
 protected:
  void StartServer() {
    const char* binary = std::getenv("METRICS_BINARY");
    ASSERT_NE(binary, nullptr) << "METRICS_BINARY not set";
    std::vector<std::string> args{"--grpc-address=127.0.0.1:0", "--http-address=off",
                                  "--db-path=" + dir_.File("metrics.db"), "--redis-address=off",
                                  "--drain-timeout=10s"};
    for (auto& flag : security_.FlagsFor("metrics")) args.push_back(std::move(flag));
    server_ = std::make_unique<ChildProcess>(binary, args);
    ASSERT_TRUE(server_->Start());
    const std::string port = server_->WaitForLogValue("grpc_port", absl::Seconds(20));
    ASSERT_FALSE(port.empty()) << server_->Stderr();
    stub_ = v1::MetricsService::NewStub(security_.Channel(port));
    for (const char* sender : {"workshops", "campaigns"}) {
      senders_[sender] = v1::MetricsService::NewStub(security_.ServiceChannel(port, sender));
    }
  }

  // The service whose identity may ingest `event` (deploy/security/policy.json "services"):
  // the scenario holds deliveries (workshops) and engagement reports (campaigns).
  static std::string SenderOf(const ev::OutreachEvent& event) {
    return event.has_engagement_reported() ? "campaigns" : "workshops";
  }

  std::vector<ev::OutreachEvent> Scenario() {
    std::vector<ev::OutreachEvent> out;
    for (int i = 0; i < 20; ++i) {
      testing::Delivery d;
      d.workshop = absl::StrCat("w", i);
      d.venue = absl::StrCat("school-", i % 5);
      d.delivered = Utc(2025, 10, 1) + absl::Hours(i);
      out.push_back(testing::Delivered(absl::StrCat("wd-", i), d));
    }
    for (int rev = 1; rev <= 3; ++rev) {
      out.push_back(testing::Engagement(absl::StrCat("eng-", rev), "derbyshire", "a1",
                                        D(2025, 10, 2), rev, int64_t{1000} * rev,
                                        int64_t{100} * rev, int64_t{10} * rev));
    }
    return out;
  }

  // One request per sender, as each service's publisher sends its own; the answers summed.
  v1::IngestEventsResponse Ingest(const std::vector<ev::OutreachEvent>& events) {
    std::map<std::string, v1::IngestEventsRequest> requests;
    for (const auto& e : events) {
      v1::IngestEventsRequest& req = requests[SenderOf(e)];
      req.set_parent("forces/derbyshire");
      *req.add_events() = e;
    }
    v1::IngestEventsResponse total;
    for (const auto& [sender, req] : requests) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::IngestEventsResponse resp;
      grpc::Status s = senders_[sender]->IngestEvents(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << sender << ": " << s.error_message();
      total.set_accepted(total.accepted() + resp.accepted());
      total.set_duplicates(total.duplicates() + resp.duplicates());
      total.set_rejected(total.rejected() + resp.rejected());
      for (const auto& r : resp.results()) *total.add_results() = r;
    }
    return total;
  }

  static v1::GetDashboardRequest Request() {
    v1::GetDashboardRequest req;
    req.set_name("forces/derbyshire/dashboard");
    req.mutable_period()->set_kind(v1::PERIOD_KIND_ACADEMIC_YEAR);
    *req.mutable_period()->mutable_anchor_date() = ToProtoDate(D(2025, 10, 1));
    return req;
  }

  v1::Dashboard Dashboard() {
    v1::Dashboard d;
    grpc::Status s = stub_->GetDashboard(Ctx().get(), Request(), &d);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return d;
  }

  TempDir dir_;
  ProcessSecurity security_{dir_.File("pki")};
  std::unique_ptr<ChildProcess> server_;
  std::unique_ptr<v1::MetricsService::Stub> stub_;  // a person's channel (calls carry a token)
  std::map<std::string, std::unique_ptr<v1::MetricsService::Stub>> senders_;
};

TEST_F(MetricsProcessTest, KillNineKeepsAcknowledgedIngestsAndRedeliveryIsDuplicate) {
  StartServer();
  const auto events = Scenario();
  // Delivered in three batches, each acknowledged.
  int accepted = 0;
  for (size_t start = 0; start < events.size(); start += 8) {
    std::vector<ev::OutreachEvent> batch(
        events.begin() + static_cast<long>(start),
        events.begin() + static_cast<long>(std::min(events.size(), start + 8)));
    accepted += Ingest(batch).accepted();
  }
  ASSERT_EQ(accepted, static_cast<int>(events.size()));
  // A person may not ingest, not even a force administrator: only the services' certificates.
  {
    v1::IngestEventsRequest forged;
    forged.set_parent("forces/derbyshire");
    *forged.add_events() = events.front();
    v1::IngestEventsResponse refused;
    EXPECT_EQ(stub_->IngestEvents(Ctx().get(), forged, &refused).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  const v1::Dashboard before = Dashboard();
  EXPECT_EQ(before.workshops().workshops_delivered(), 20);
  EXPECT_EQ(before.workshops().pupils_reached(), 600);
  EXPECT_EQ(before.workshops().schools_covered(), 5);
  EXPECT_EQ(before.campaigns().impressions(), 3000);  // revision 3 replaced 1 and 2

  server_->Signal(SIGKILL);
  EXPECT_EQ(server_->Wait(absl::Seconds(10)), 128 + SIGKILL);
  StartServer();
  const v1::Dashboard after = Dashboard();
  EXPECT_EQ(after.workshops().workshops_delivered(), 20);
  EXPECT_EQ(after.workshops().pupils_reached(), 600);
  EXPECT_EQ(after.campaigns().impressions(), 3000);
  EXPECT_EQ(after.data_version(), before.data_version());
  EXPECT_EQ(after.as_of().seconds(), before.as_of().seconds());

  // A publisher that crashed before marking its rows sent delivers everything again.
  v1::IngestEventsResponse again = Ingest(events);
  EXPECT_EQ(again.accepted(), 0);
  EXPECT_EQ(again.duplicates(), static_cast<int>(events.size()));
  for (const auto& r : again.results()) {
    EXPECT_EQ(r.outcome(), v1::INGEST_OUTCOME_DUPLICATE) << r.event_id();
  }
  const v1::Dashboard final_dash = Dashboard();
  EXPECT_EQ(final_dash.workshops().workshops_delivered(), 20);
  EXPECT_EQ(final_dash.campaigns().impressions(), 3000);
  EXPECT_EQ(final_dash.data_version(), before.data_version());
}

TEST_F(MetricsProcessTest, SigtermEndsWatchStreamsAndExitsZero) {
  StartServer();
  v1::WatchDashboardRequest req;
  req.set_name("forces/derbyshire/dashboard");
  *req.mutable_period() = Request().period();
  auto ctx = Ctx();
  auto reader = stub_->WatchDashboard(ctx.get(), req);
  v1::Dashboard d;
  ASSERT_TRUE(reader->Read(&d));
  server_->Signal(SIGTERM);
  while (reader->Read(&d)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(s), "SERVER_DRAINING");
  // The drain did not wait for the stream's deadline (10 s drain timeout): it exits cleanly.
  EXPECT_EQ(server_->Wait(absl::Seconds(8)), 0) << server_->Stderr();
}

}  // namespace
}  // namespace outreach::metrics
