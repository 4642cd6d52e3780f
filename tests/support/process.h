#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace outreach::testing {

// A real child process for e2e tests: started with posix_spawn, stderr captured, killed (-9) on
// destruction if still running, so a failing test never leaks a server.
class ChildProcess {
 public:
  ChildProcess(std::string binary, std::vector<std::string> args);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  bool Start();
  // Waits until stderr has a line with `key=` and returns its value ("" on timeout or exit).
  std::string WaitForLogValue(const std::string& key, absl::Duration timeout);
  void Signal(int signal);
  // Waits for exit; returns the exit code, 128+signal when killed, or -1 on timeout.
  int Wait(absl::Duration timeout);
  // Everything read from stderr so far.
  std::string Stderr();
  pid_t pid() const { return pid_; }

 private:
  // Waits up to `timeout` for more of stderr (or its end).
  void Drain(absl::Duration timeout);
  void ReadStderr();
  std::string StderrSoFar();

  std::string binary_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::thread reader_;
  absl::Mutex mu_;
  std::string stderr_ ABSL_GUARDED_BY(mu_);
  int64_t chunks_ ABSL_GUARDED_BY(mu_) = 0;
  bool stderr_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool exited_ = false;
  int exit_code_ = -1;
};

// A loopback TCP port that was free a moment ago (bound to 0, read back, released), for
// servers that must be restarted on the same port (Redis, metrics) in e2e tests.
int FreeLoopbackPort();
// True when something accepts TCP connections on 127.0.0.1:`port`.
bool LoopbackPortAnswers(int port);

// Reads the value of `key=` from the first log line containing `event=<event>`.
std::string FindLogValue(const std::string& log, const std::string& event, const std::string& key);

}  // namespace outreach::testing
