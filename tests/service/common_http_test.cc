// The monitor port (cpp-httplib inside ServerRuntime) against hostile HTTP callers: slow
// connections that never finish their headers, and requests with absurd header counts.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/server.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

// `count` loopback connections that each send a request line and then one header line every
// `interval`, never the blank line that ends the headers (a "slowloris" caller). The interval
// is below cpp-httplib's per-read timeout, so a per-read timeout alone never drops them.
class SlowClients {
 public:
  SlowClients(int port, int count, absl::Duration interval) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < count; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) continue;
      if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        close(fd);
        continue;
      }
      Send(fd, "GET /healthz HTTP/1.1\r\n");
      fds_.push_back(fd);
    }
    trickle_ = std::thread([this, interval] {
      int line = 0;
      while (!stop_.WaitForNotificationWithTimeout(interval)) {
        for (int fd : fds_) Send(fd, absl::StrCat("X-Slow-", line, ": 1\r\n"));
        ++line;
      }
    });
  }
  ~SlowClients() {
    stop_.Notify();
    trickle_.join();
    for (int fd : fds_) close(fd);
  }
  size_t connected() const { return fds_.size(); }

  // True if the server ended every connection (an answer then EOF, or a reset) before `bound`;
  // the bound only keeps a server that never closes them from hanging the test.
  bool AllClosedByServer(absl::Duration bound) const {
    const timeval tv = absl::ToTimeval(bound);
    for (int fd : fds_) {
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      char buf[512];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
      }
      if (n < 0 && errno != ECONNRESET) return false;  // timed out: still open
    }
    return true;
  }

 private:
  // The server may drop a slow connection; a failed send is expected then, not a test error.
  static void Send(int fd, const std::string& text) {
    (void)send(fd, text.data(), text.size(), MSG_NOSIGNAL);
  }

  std::vector<int> fds_;
  absl::Notification stop_;
  std::thread trickle_;
};

// `count` distinct header fields of about 10 bytes each.
httplib::Headers SmallHeaders(int count) {
  httplib::Headers headers;
  for (int i = 0; i < count; ++i) headers.emplace(absl::StrCat("X-H", i), "v");
  return headers;
}

class HttpMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RuntimeConfig config;
    config.service_name = "http-probe";
    config.security.plaintext = true;  // on loopback: this test is not about TLS
    config.http_address = "127.0.0.1:0";
    runtime_ = std::make_unique<ServerRuntime>(config);
    ASSERT_TRUE(runtime_->Start().ok());
    ASSERT_GT(runtime_->http_port(), 0);
  }
  void TearDown() override { runtime_->Shutdown(); }

  // One GET with bounded connect/read timeouts: they only keep a broken server from hanging
  // the test; the assertions are about whether and how it answers.
  httplib::Result Get(const std::string& path, const httplib::Headers& headers = {}) {
    httplib::Client client("127.0.0.1", runtime_->http_port());
    client.set_connection_timeout(std::chrono::seconds(15));
    client.set_read_timeout(std::chrono::seconds(15));
    client.set_write_timeout(std::chrono::seconds(15));
    return client.Get(path.c_str(), headers);
  }

  std::unique_ptr<ServerRuntime> runtime_;
};

TEST_F(HttpMonitorTest, HealthzAnswersWhileManySlowConnectionsAreOpen) {
  SlowClients slow(runtime_->http_port(), 100, absl::Seconds(1));
  ASSERT_EQ(slow.connected(), 100u);
  httplib::Result res = Get("/healthz");
  ASSERT_TRUE(res) << "no answer: " << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "SERVING\n");
}

TEST_F(HttpMonitorTest, ServerEndsAConnectionWhoseHeadersNeverFinish) {
  SlowClients slow(runtime_->http_port(), 3, absl::Seconds(1));
  ASSERT_EQ(slow.connected(), 3u);
  EXPECT_TRUE(slow.AllClosedByServer(absl::Seconds(30)));
}

TEST_F(HttpMonitorTest, RequestWithTenThousandHeadersIsRefused) {
  httplib::Result res = Get("/healthz", SmallHeaders(10000));
  // Refused: either an error status or the connection closed without a 200.
  if (res) {
    EXPECT_GE(res->status, 400);
    EXPECT_LT(res->status, 500);
  }
  // The port still serves well-formed requests afterwards.
  httplib::Result ok = Get("/healthz");
  ASSERT_TRUE(ok) << httplib::to_string(ok.error());
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpMonitorTest, MoreThanAHundredSmallHeadersGet431) {
  httplib::Result res = Get("/healthz", SmallHeaders(150));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 431);
}

TEST_F(HttpMonitorTest, OrdinaryHeadersAreServed) {
  httplib::Result res = Get("/healthz", SmallHeaders(20));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

}  // namespace
}  // namespace outreach
