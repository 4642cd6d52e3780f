#pragma once

// A real redis-server of the test's own on a free loopback port, no persistence, its files in
// `dir`; stopped when the object dies. $OUTREACH_REDIS_SERVER names the binary (default
// /usr/bin/redis-server).
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "tests/support/wait.h"

namespace outreach::testing {

class RedisServer {
 public:
  // `dir` must outlive the server; `name` keeps two servers of one test apart.
  RedisServer(const std::string& dir, const std::string& name = "redis") : dir_(dir), name_(name) {}

  // Starts the server and waits until its port answers.
  void Start() {
    port_ = FreeLoopbackPort();
    const char* binary = std::getenv("OUTREACH_REDIS_SERVER");
    process_ = std::make_unique<ChildProcess>(
        binary != nullptr ? binary : "/usr/bin/redis-server",
        std::vector<std::string>{"--port", std::to_string(port_), "--bind", "127.0.0.1", "--dir",
                                 dir_, "--save", "", "--appendonly", "no", "--logfile",
                                 absl::StrCat(dir_, "/", name_, ".log")});
    ASSERT_TRUE(process_->Start()) << "redis-server did not start";
    ASSERT_TRUE(WaitFor([&] { return LoopbackPortAnswers(port_); })) << "redis never answered";
  }

  int port() const { return port_; }
  // The flag that points the metrics binary at this server.
  std::string MetricsFlag() const { return absl::StrCat("--redis-address=127.0.0.1:", port_); }

 private:
  std::string dir_;
  std::string name_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace outreach::testing
