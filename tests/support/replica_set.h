#pragma once

// Replicas of one service binary as real processes for e2e tests (tests/e2e/postgres_*.cc):
// each on a loopback port fixed at construction, so that a replica killed and started again
// answers at the same address and a client's address list ("ipv4:127.0.0.1:P1,127.0.0.1:P2",
// common/client.h ChannelArgumentsFor) stays right.
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"

namespace outreach::testing {

class ReplicaSet {
 public:
  // `args`: the flags every replica shares (its store, --metrics-address, …); the replica's
  // --grpc-address (and --http-address with `http`) and the binary's security flags are added.
  ReplicaSet(ProcessSecurity* security, std::string service, std::string binary,
             std::vector<std::string> args, int count, bool http)
      : security_(security),
        service_(std::move(service)),
        binary_(std::move(binary)),
        args_(std::move(args)),
        http_(http) {
    for (int i = 0; i < count; ++i) {
      grpc_ports_.push_back(FreeLoopbackPort());
      http_ports_.push_back(http ? FreeLoopbackPort() : 0);
      processes_.emplace_back();
    }
  }

  int size() const { return static_cast<int>(grpc_ports_.size()); }

  // Starts replica `i` and waits until it serves (it logs its gRPC port once listening).
  void Start(int i) {
    Launch(i);
    AwaitServing(i);
  }
  // Starts every replica at once, then waits for each.
  void StartAll() {
    for (int i = 0; i < size(); ++i) Launch(i);
    for (int i = 0; i < size(); ++i) {
      AwaitServing(i);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  void Launch(int i) {
    std::vector<std::string> args = args_;
    args.push_back(absl::StrCat("--grpc-address=127.0.0.1:", grpc_ports_[i]));
    args.push_back(http_ ? absl::StrCat("--http-address=127.0.0.1:", http_ports_[i])
                         : std::string("--http-address=off"));
    for (auto& flag : security_->FlagsFor(service_)) args.push_back(std::move(flag));
    processes_[i] = std::make_unique<ChildProcess>(binary_, std::move(args));
    EXPECT_TRUE(processes_[i]->Start()) << binary_;
  }
  void AwaitServing(int i) {
    ASSERT_FALSE(processes_[i]->WaitForLogValue("grpc_port", absl::Seconds(60)).empty())
        << service_ << " replica " << i << ":\n"
        << processes_[i]->Stderr();
  }
  // kill -9: no drain, no goodbye; in-flight calls fail UNAVAILABLE.
  void Kill(int i) {
    processes_[i]->Signal(SIGKILL);
    EXPECT_EQ(processes_[i]->Wait(absl::Seconds(10)), 128 + SIGKILL);
  }
  // SIGTERM: drains and exits 0.
  void StopAll() {
    for (auto& p : processes_) {
      if (p == nullptr) continue;
      p->Signal(SIGTERM);
      EXPECT_EQ(p->Wait(absl::Seconds(30)), 0) << service_ << ":\n" << p->Stderr();
    }
  }

  std::string Port(int i) const { return absl::StrCat(grpc_ports_[i]); }
  int HttpPort(int i) const { return http_ports_[i]; }
  // Every replica as one target, for a round_robin channel.
  std::string Target() const {
    std::vector<std::string> addresses;
    for (int port : grpc_ports_) addresses.push_back(absl::StrCat("127.0.0.1:", port));
    return absl::StrCat("ipv4:", absl::StrJoin(addresses, ","));
  }
  ChildProcess& process(int i) { return *processes_[i]; }

 private:
  ProcessSecurity* security_;
  std::string service_;
  std::string binary_;
  std::vector<std::string> args_;
  bool http_;
  std::vector<int> grpc_ports_;
  std::vector<int> http_ports_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
};

}  // namespace outreach::testing
