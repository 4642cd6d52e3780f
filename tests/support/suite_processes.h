#pragma once

// The whole suite as real processes for e2e tests: one process of each service (metrics with a
// real redis-server of its own, the domain services publishing to it), on the stores a function
// names (SQLite files or PostgreSQL URLs), TLS and tokens as production runs them; and the demo
// loaders (services/*/demo_main.cc) run against it. Binaries come from $OUTREACH_<SERVICE>_BIN
// and $OUTREACH_<SERVICE>_DEMO (CTest sets them), else the PATH.
#include <httplib.h>

#include <cctype>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/redis_server.h"
#include "tests/support/replica_set.h"
#include "tests/support/wait.h"

namespace outreach::testing {

inline constexpr const char* kSuiteServices[] = {"metrics", "workshops", "training", "campaigns"};
inline constexpr const char* kDomainServices[] = {"workshops", "training", "campaigns"};

inline std::string EnvOr(const std::string& name, const std::string& fallback) {
  const char* v = std::getenv(name.c_str());
  return v != nullptr ? v : fallback;
}
inline std::string UpperCase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
// $OUTREACH_<SERVICE>_BIN, else the service's name.
inline std::string ServiceBinary(const std::string& service) {
  return EnvOr(absl::StrCat("OUTREACH_", UpperCase(service), "_BIN"), service);
}

// Outbox events of the domain service whose HTTP port is `http_port` not yet acknowledged by
// metrics (the outreach_outbox_backlog gauge on its /metrics); -1 while that does not answer.
inline int64_t OutboxBacklog(int http_port) {
  httplib::Client http("127.0.0.1", http_port);
  auto res = http.Get("/metrics");
  if (!res || res->status != 200) return -1;
  for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
    double value = 0;
    if (absl::ConsumePrefix(&line, "outreach_outbox_backlog ") && absl::SimpleAtod(line, &value)) {
      return static_cast<int64_t>(value);
    }
  }
  return -1;
}

// Runs `service`'s demo loader (the Derbyshire story) against `target` ("127.0.0.1:PORT") as a
// client of the suite (TLS + the test token); returns its exit code, a failure when not 0.
inline int RunDemoLoader(ProcessSecurity& security, const std::string& service,
                         const std::string& target) {
  std::vector<std::string> args{"--target=" + target, "--force=derbyshire"};
  for (auto& flag : security.ClientFlags()) args.push_back(std::move(flag));
  ChildProcess demo(
      EnvOr(absl::StrCat("OUTREACH_", UpperCase(service), "_DEMO"), service + "_demo"), args);
  if (!demo.Start()) return -1;
  const int code = demo.Wait(absl::Seconds(90));
  if (code != 0) ADD_FAILURE() << service << "_demo:\n" << demo.Stderr();
  return code;
}

// One running suite: a process of each service on the stores `store_flag` names, one Redis.
class SuiteProcesses {
 public:
  SuiteProcesses(ProcessSecurity* security, const std::string& dir, const std::string& redis_name,
                 const std::function<std::string(const std::string&)>& store_flag)
      : redis_(dir, redis_name) {
    redis_.Start();
    metrics_ = std::make_unique<ReplicaSet>(
        security, "metrics", ServiceBinary("metrics"),
        std::vector<std::string>{redis_.MetricsFlag(), store_flag("metrics")}, 1, true);
    metrics_->Start(0);
    for (const char* service : kDomainServices) {
      domain_.push_back(std::make_unique<ReplicaSet>(
          security, service, ServiceBinary(service),
          std::vector<std::string>{"--metrics-address=" + metrics_->Target(), store_flag(service)},
          1, true));
      domain_.back()->Start(0);
    }
  }
  SuiteProcesses(const SuiteProcesses&) = delete;
  SuiteProcesses& operator=(const SuiteProcesses&) = delete;
  ~SuiteProcesses() { Stop(); }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    for (auto& set : domain_) set->Terminate();
    for (auto& set : domain_) set->AwaitExit();
    metrics_->StopAll();
  }

  ReplicaSet& domain(const std::string& service) {
    for (size_t i = 0; i < std::size(kDomainServices); ++i) {
      if (service == kDomainServices[i]) return *domain_[i];
    }
    return *domain_.front();
  }
  ReplicaSet& metrics() { return *metrics_; }
  // Loads the demo data through every domain service's API.
  void LoadDemo(ProcessSecurity& security) {
    for (const char* service : kDomainServices) {
      ASSERT_EQ(RunDemoLoader(security, service, "127.0.0.1:" + domain(service).Port(0)), 0);
    }
  }

  // Outbox events of a domain service not yet acknowledged by metrics (its
  // outreach_outbox_backlog gauge); -1 while that does not answer.
  static int64_t Backlog(const ReplicaSet& set) { return OutboxBacklog(set.HttpPort(0)); }
  // Waits until every domain service's outbox is empty: metrics has every event.
  void AwaitOutboxesEmpty() {
    for (const char* service : kDomainServices) {
      ASSERT_TRUE(WaitFor([&] { return Backlog(domain(service)) == 0; }, absl::Seconds(45)))
          << service << " outbox backlog: " << Backlog(domain(service));
    }
  }

  std::string Problems() {
    std::string out = metrics_->Problems();
    for (auto& set : domain_) out += set->Problems();
    return out;
  }

 private:
  RedisServer redis_;
  std::unique_ptr<ReplicaSet> metrics_;
  std::vector<std::unique_ptr<ReplicaSet>> domain_;
  bool stopped_ = false;
};

}  // namespace outreach::testing
