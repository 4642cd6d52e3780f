// The shared runtime over a real gRPC server on port 0 with a real SQLite store.
#include <httplib.h>

#include <atomic>
#include <thread>

#include "common/db.h"
#include "common/server.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/support/probe_service.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"
#include "tests/support/wait.h"

namespace outreach {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using outreach::testing::WaitFor;
using outreach::testing::v1::ProbeService;
using ::testing::HasSubstr;

constexpr char kProbe[] = "outreach.testing.v1.ProbeService";

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db =
        db::Database::Open(TestDatabaseLocation(dir_, "probe"), outreach::testing::ProbeSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    service_ = std::make_unique<outreach::testing::ProbeServiceImpl>(db_.get());
    RuntimeConfig config;
    config.service_name = "probe";
    config.security.plaintext = true;  // on loopback: this test is not about TLS
    config.grpc_address = "127.0.0.1:0";
    config.http_address = "127.0.0.1:0";
    config.health_interval = absl::Milliseconds(100);
    config.drain_timeout = absl::Seconds(5);
    runtime_ = std::make_unique<ServerRuntime>(config);
    runtime_->AddService(service_.get(), kProbe, [this]() -> absl::Status {
      if (store_down_.load()) return absl::UnavailableError("store unreachable");
      return db_->Ping();
    });
    ASSERT_TRUE(runtime_->Start().ok());
    ASSERT_GT(runtime_->grpc_port(), 0);
    ASSERT_GT(runtime_->http_port(), 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", runtime_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
  }

  void TearDown() override {
    service_->ReleaseHeld();  // a test that failed half-way must not leave a call held
    if (runtime_) runtime_->Shutdown();
  }

  HealthCheckResponse::ServingStatus HealthOf(const std::string& service,
                                              grpc::StatusCode* code = nullptr) {
    auto stub = Health::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status s = stub->Check(&ctx, request, &response);
    if (code != nullptr) *code = s.error_code();
    return response.status();
  }

  // `hold`: the call waits in the handler until service_->ReleaseHeld().
  grpc::Status Sleep(int millis, bool hold = false) {
    auto stub = ProbeService::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    outreach::testing::v1::SleepRequest request;
    request.set_millis(millis);
    request.set_hold(hold);
    outreach::testing::v1::SleepResponse response;
    return stub->Sleep(&ctx, request, &response);
  }

  TempDir dir_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<outreach::testing::ProbeServiceImpl> service_;
  std::unique_ptr<ServerRuntime> runtime_;
  std::shared_ptr<grpc::Channel> channel_;
  std::atomic<bool> store_down_{false};
};

TEST_F(RuntimeTest, HealthIsServingPerServiceAndOverall) {
  EXPECT_EQ(HealthOf(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthOf(kProbe), HealthCheckResponse::SERVING);
  grpc::StatusCode code;
  HealthOf("outreach.nope.v1.NopeService", &code);
  EXPECT_EQ(code, grpc::NOT_FOUND);
}

TEST_F(RuntimeTest, HealthFollowsTheStoreCheck) {
  store_down_ = true;
  // The health loop runs every 100 ms on its own thread: poll for its verdict.
  WaitFor([&] { return HealthOf(kProbe) == HealthCheckResponse::NOT_SERVING; });
  EXPECT_EQ(HealthOf(kProbe), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(HealthOf(""), HealthCheckResponse::NOT_SERVING);
  httplib::Client http("127.0.0.1", runtime_->http_port());
  EXPECT_EQ(http.Get("/healthz")->status, 503);
  store_down_ = false;
  WaitFor([&] { return HealthOf(kProbe) == HealthCheckResponse::SERVING; });
  EXPECT_EQ(HealthOf(kProbe), HealthCheckResponse::SERVING);
  EXPECT_EQ(http.Get("/healthz")->status, 200);
}

TEST_F(RuntimeTest, UnknownMethodIsUnimplemented) {
  auto stub = outreach::testing::v1::UnregisteredService::NewStub(channel_);
  grpc::ClientContext ctx;
  outreach::testing::v1::SleepRequest request;
  outreach::testing::v1::SleepResponse response;
  EXPECT_EQ(stub->Ping(&ctx, request, &response).error_code(), grpc::UNIMPLEMENTED);
}

TEST_F(RuntimeTest, ErrorsReachTheWireWithDetailsAndWithoutInternalText) {
  auto stub = ProbeService::NewStub(channel_);
  {
    grpc::ClientContext ctx;
    outreach::testing::v1::FailRequest request;
    request.set_kind("invalid");
    outreach::testing::v1::FailResponse response;
    grpc::Status s = stub->Fail(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
    google::rpc::Status rich;
    ASSERT_TRUE(rich.ParseFromString(s.error_details()));
    google::rpc::ErrorInfo info;
    ASSERT_TRUE(rich.details(0).UnpackTo(&info));
    EXPECT_EQ(info.domain(), "outreach.testing.v1");
    google::rpc::BadRequest bad;
    ASSERT_TRUE(rich.details(1).UnpackTo(&bad));
    EXPECT_EQ(bad.field_violations_size(), 2);
  }
  for (const char* kind : {"internal", "unavailable"}) {
    grpc::ClientContext ctx;
    outreach::testing::v1::FailRequest request;
    request.set_kind(kind);
    outreach::testing::v1::FailResponse response;
    grpc::Status s = stub->Fail(&ctx, request, &response);
    EXPECT_THAT(s.error_code(), ::testing::AnyOf(grpc::INTERNAL, grpc::UNAVAILABLE));
    EXPECT_EQ(s.error_message().find("SELECT"), std::string::npos);
    EXPECT_EQ(s.error_message().find("/secret"), std::string::npos);
    EXPECT_EQ(s.error_details().find("SELECT"), std::string::npos);
    EXPECT_EQ(s.error_details().find("/secret"), std::string::npos);
  }
}

TEST_F(RuntimeTest, MetricsCountCallsByMethodAndCode) {
  auto stub = ProbeService::NewStub(channel_);
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    outreach::testing::v1::FailRequest request;
    request.set_kind("not_found");
    outreach::testing::v1::FailResponse response;
    EXPECT_EQ(stub->Fail(&ctx, request, &response).error_code(), grpc::NOT_FOUND);
  }
  EXPECT_TRUE(Sleep(1).ok());
  httplib::Client http("127.0.0.1", runtime_->http_port());
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("outreach_rpc_calls_total{method=\"/outreach.testing.v1."
                                   "ProbeService/Fail\",code=\"NOT_FOUND\"} 3"));
  EXPECT_THAT(res->body, HasSubstr("outreach_rpc_duration_seconds_count{method=\"/outreach."
                                   "testing.v1.ProbeService/Sleep\"} 1"));
  EXPECT_THAT(res->body, HasSubstr("outreach_serving{service=\"" + std::string(kProbe) + "\"} 1"));
  EXPECT_EQ(http.Get("/healthz")->status, 200);
}

TEST_F(RuntimeTest, DrainLetsInFlightCallsFinishAndRefusesNewOnes) {
  std::atomic<bool> done{false};
  grpc::Status in_flight;
  std::thread caller([&] {
    in_flight = Sleep(0, /*hold=*/true);
    done = true;
  });
  EXPECT_TRUE(service_->AwaitSleepsStarted(1, absl::Seconds(10)));
  std::thread drainer([&] { runtime_->Shutdown(); });
  // While draining (the held call keeps the drain open): /healthz answers NOT_SERVING and the
  // in-flight call is still running. The drain starts on another thread, so poll for it.
  httplib::Client http("127.0.0.1", runtime_->http_port());
  int healthz = -1;  // stays -1 while /healthz does not answer (it must, until drained)
  WaitFor([&] {
    auto res = http.Get("/healthz");
    healthz = res ? res->status : -1;
    return healthz == 503;
  });
  EXPECT_EQ(healthz, 503);
  EXPECT_FALSE(done.load());
  service_->ReleaseHeld();
  caller.join();
  drainer.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_message();
  EXPECT_FALSE(Sleep(1).ok());
}

TEST_F(RuntimeTest, DrainHooksRunOnceBeforeTheServerStopsAndShutdownHooksAfter) {
  std::vector<std::string> order;
  // Counted in the handler: the server is done with the call before the client hears of it.
  const auto in_flight_done = [this] { return service_->sleeps_finished() == 1; };
  runtime_->OnDrain([&] {
    order.push_back(in_flight_done() ? "drain-late" : "drain");
    service_->ReleaseHeld();  // the call can only end once the drain hooks have run
  });
  runtime_->OnShutdown([&] { order.push_back(in_flight_done() ? "shutdown" : "shutdown-early"); });
  std::thread caller([&] { EXPECT_TRUE(Sleep(0, /*hold=*/true).ok()); });
  EXPECT_TRUE(service_->AwaitSleepsStarted(1, absl::Seconds(10)));
  runtime_->Shutdown();
  runtime_->Shutdown();
  caller.join();
  EXPECT_EQ(order, (std::vector<std::string>{"drain", "shutdown"}));
}

TEST_F(RuntimeTest, DrainDeadlineCancelsCallsThatRunTooLong) {
  runtime_->Shutdown();  // fresh runtime with a short deadline
  RuntimeConfig config;
  config.service_name = "probe";
  config.security.plaintext = true;  // on loopback: this test is not about TLS
  config.drain_timeout = absl::Milliseconds(200);
  runtime_ = std::make_unique<ServerRuntime>(config);
  runtime_->AddService(service_.get(), kProbe, [this] { return db_->Ping(); });
  ASSERT_TRUE(runtime_->Start().ok());
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", runtime_->grpc_port()),
                                 grpc::InsecureChannelCredentials());
  grpc::Status in_flight;
  // The 3 s handler is the behaviour under test: a call that outlives the 200 ms drain deadline.
  std::thread caller([&] { in_flight = Sleep(3000); });
  EXPECT_TRUE(service_->AwaitSleepsStarted(1, absl::Seconds(10)));
  const absl::Time begin = absl::Now();
  runtime_->Shutdown();
  caller.join();
  // Shutdown returned once the deadline cancelled the call, well before it would have ended.
  EXPECT_LT(absl::Now() - begin, absl::Milliseconds(2900));
  EXPECT_FALSE(in_flight.ok());
}

TEST_F(RuntimeTest, StoreBackedCallsWork) {
  auto stub = ProbeService::NewStub(channel_);
  grpc::ClientContext put_ctx;
  outreach::testing::v1::PutNoteRequest put;
  put.mutable_note()->set_key("k1");
  put.mutable_note()->set_body("sexting workshop at a secondary school");
  outreach::testing::v1::Note note;
  ASSERT_TRUE(stub->PutNote(&put_ctx, put, &note).ok());
  grpc::ClientContext get_ctx;
  outreach::testing::v1::GetNoteRequest get;
  get.set_key("k1");
  ASSERT_TRUE(stub->GetNote(&get_ctx, get, &note).ok());
  EXPECT_EQ(note.body(), "sexting workshop at a secondary school");
  grpc::ClientContext bad_ctx;
  get.set_key("K 1");
  EXPECT_EQ(stub->GetNote(&bad_ctx, get, &note).error_code(), grpc::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace outreach
