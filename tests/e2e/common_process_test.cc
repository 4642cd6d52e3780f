// The probe server as a real process: signals, exit codes, config errors, crash durability. It
// listens with TLS and is called with a token, as every server of the suite
// (tests/support/process_security.h).
#include <signal.h>

#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "outreach/testing/v1/probe.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/service_harness.h"
#include "tests/support/temp_dir.h"

namespace outreach {
namespace {

using outreach::testing::ChildProcess;
using outreach::testing::Ctx;
using outreach::testing::ProcessSecurity;
using outreach::testing::v1::ProbeService;
using ::testing::HasSubstr;

std::string ProbeBinary() {
  const char* path = std::getenv("OUTREACH_PROBE_SERVER");
  return path != nullptr ? path : "outreach_probe_server";
}

// The probe's arguments: `args` and then its security flags.
std::vector<std::string> ProbeArgs(ProcessSecurity& security, std::vector<std::string> args) {
  for (auto& flag : security.FlagsFor("probe")) args.push_back(std::move(flag));
  return args;
}

std::unique_ptr<ProbeService::Stub> Connect(ProcessSecurity& security, const std::string& port) {
  return ProbeService::NewStub(security.Channel(port));
}

TEST(ProbeProcess, SigtermLetsTheInFlightCallFinishAndExitsZero) {
  TempDir dir;
  ProcessSecurity security(dir.File("pki"));
  ChildProcess server(ProbeBinary(),
                      ProbeArgs(security, {"--db-path=" + dir.File("p.db"), "--drain-timeout=5s"}));
  ASSERT_TRUE(server.Start());
  const std::string port = server.WaitForLogValue("grpc_port", absl::Seconds(20));
  ASSERT_FALSE(port.empty()) << server.Stderr();

  grpc::Status in_flight;
  std::thread caller([&] {
    auto ctx = Ctx();
    // Held until the drain begins (the probe server releases held calls then), then 500 ms
    // more: the call is certainly in flight while the server drains.
    outreach::testing::v1::SleepRequest request;
    request.set_millis(500);
    request.set_hold(true);
    outreach::testing::v1::SleepResponse response;
    in_flight = Connect(security, port)->Sleep(ctx.get(), request, &response);
  });
  // The handler logs when it starts: signal only once the call is in it.
  EXPECT_EQ(server.WaitForLogValue("sleep_millis", absl::Seconds(10)), "500") << server.Stderr();
  server.Signal(SIGTERM);
  caller.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_message();
  EXPECT_EQ(server.Wait(absl::Seconds(15)), 0) << server.Stderr();
  EXPECT_THAT(server.Stderr(), HasSubstr("event=draining"));
  EXPECT_THAT(server.Stderr(), HasSubstr("event=stopped"));
}

TEST(ProbeProcess, BadConfigStopsWithOneLineNamingTheSetting) {
  TempDir dir;
  ChildProcess server(ProbeBinary(), {"--db-path=" + dir.File("p.db"), "--drain-timeout=soon"});
  ASSERT_TRUE(server.Start());
  EXPECT_EQ(server.Wait(absl::Seconds(10)), 2);
  EXPECT_EQ(server.Stderr(),
            "config: --drain-timeout (OUTREACH_DRAIN_TIMEOUT): \"soon\" is not a duration (e.g. "
            "500ms, 10s, 2m)\n");
  ChildProcess missing(ProbeBinary(), {});
  ASSERT_TRUE(missing.Start());
  EXPECT_EQ(missing.Wait(absl::Seconds(10)), 2);
  EXPECT_THAT(missing.Stderr(), HasSubstr("--db-path (OUTREACH_DB_PATH): is required"));
}

TEST(ProbeProcess, AcknowledgedWritesSurviveKillNine) {
  TempDir dir;
  ProcessSecurity security(dir.File("pki"));
  const std::string db = "--db-path=" + dir.File("p.db");
  {
    ChildProcess server(ProbeBinary(), ProbeArgs(security, {db}));
    ASSERT_TRUE(server.Start());
    const std::string port = server.WaitForLogValue("grpc_port", absl::Seconds(20));
    ASSERT_FALSE(port.empty());
    auto stub = Connect(security, port);
    for (int i = 0; i < 50; ++i) {
      outreach::testing::v1::PutNoteRequest put;
      put.mutable_note()->set_key("n" + std::to_string(i));
      put.mutable_note()->set_body("delivered");
      outreach::testing::v1::Note note;
      ASSERT_TRUE(stub->PutNote(Ctx().get(), put, &note).ok());
    }
    server.Signal(SIGKILL);
    EXPECT_EQ(server.Wait(absl::Seconds(10)), 128 + SIGKILL);
  }
  ChildProcess again(ProbeBinary(), ProbeArgs(security, {db}));
  ASSERT_TRUE(again.Start());
  const std::string port = again.WaitForLogValue("grpc_port", absl::Seconds(20));
  ASSERT_FALSE(port.empty());
  auto stub = Connect(security, port);
  for (int i = 0; i < 50; ++i) {
    outreach::testing::v1::GetNoteRequest get;
    get.set_key("n" + std::to_string(i));
    outreach::testing::v1::Note note;
    ASSERT_TRUE(stub->GetNote(Ctx().get(), get, &note).ok()) << i;
  }
  again.Signal(SIGTERM);
  EXPECT_EQ(again.Wait(absl::Seconds(15)), 0);
}

}  // namespace
}  // namespace outreach
