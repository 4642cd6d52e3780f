#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

extern char** environ;

namespace outreach::testing {

ChildProcess::ChildProcess(std::string binary, std::vector<std::string> args)
    : binary_(std::move(binary)), args_(std::move(args)) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (reader_.joinable()) reader_.join();  // the pipe reaches EOF once the child is gone
  if (stderr_fd_ >= 0) close(stderr_fd_);
}

// Reads the child's stderr as it comes, so a chatty child never blocks on a full pipe (a
// server that logs every audited call while the test is busy calling it).
void ChildProcess::ReadStderr() {
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(stderr_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    absl::MutexLock lock(&mu_);
    if (n <= 0) {
      stderr_closed_ = true;
      return;
    }
    stderr_.append(buffer, static_cast<size_t>(n));
    ++chunks_;
  }
}

bool ChildProcess::Start() {
  // Close-on-exec: only the dup2'd fd 2 reaches the child. Without it the child (and whatever it
  // daemonizes: `pg_ctl start`'s postmaster) kept the pipe's write end open under its own
  // number, so the reader never saw EOF and the destructor's join hung; and a child spawned by
  // another thread at the same moment inherited this pipe too.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  // The child must not inherit a blocked SIGTERM from a test runner.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> argv;
  argv.push_back(binary_.data());
  for (auto& a : args_) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = posix_spawn(&pid_, binary_.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  stderr_fd_ = fds[0];
  reader_ = std::thread([this] { ReadStderr(); });
  return rc == 0;
}

void ChildProcess::Drain(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const int64_t seen = chunks_;
  auto more = [&]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return chunks_ != seen || stderr_closed_; };
  mu_.AwaitWithTimeout(absl::Condition(&more), timeout);
}

std::string ChildProcess::StderrSoFar() {
  absl::MutexLock lock(&mu_);
  return stderr_;
}

std::string ChildProcess::WaitForLogValue(const std::string& key, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    const std::string log = StderrSoFar();
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      for (absl::string_view field : absl::StrSplit(line, ' ')) {
        if (absl::StartsWith(field, key + "=")) return std::string(field.substr(key.size() + 1));
      }
    }
    Drain(absl::Milliseconds(50));
    int status = 0;
    if (!exited_ && waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      Drain(absl::Milliseconds(50));
    }
    if (exited_) break;
  }
  return "";
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && !exited_) kill(pid_, signal);
}

int ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!exited_ && absl::Now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    Drain(absl::Milliseconds(20));
  }
  Drain(absl::Milliseconds(20));
  return exited_ ? exit_code_ : -1;
}

std::string ChildProcess::Stderr() { return StderrSoFar(); }

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool LoopbackPortAnswers(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::string FindLogValue(const std::string& log, const std::string& event, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (line.find("event=" + event) == absl::string_view::npos) continue;
    for (absl::string_view field : absl::StrSplit(line, ' ')) {
      if (absl::StartsWith(field, key + "=")) return std::string(field.substr(key.size() + 1));
    }
  }
  return "";
}

}  // namespace outreach::testing
