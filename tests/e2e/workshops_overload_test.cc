// Overload, as a hostile or careless caller would make it: 200 concurrent maximum-size lists of
// topics with 2 000-character descriptions against the real workshops binary. Every call is
// answered (OK, or RESOURCE_EXHAUSTED when the handler threads are all busy), pages stay within
// the list byte budget, and the process's peak RSS stays under the Kubernetes limit (256 MiB).
// The RSS bound is checked only in builds without AddressSanitizer, whose shadow memory and
// quarantine make RSS meaningless; the figures are printed either way. Over TLS with tokens, as
// production runs (tests/support/process_security.h): the handshakes are part of the load.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/pagination.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "outreach/workshops/v1/workshops.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/process_security.h"
#include "tests/support/service_harness.h"
#include "tests/support/temp_dir.h"

namespace outreach::workshops {
namespace {

namespace wv1 = outreach::workshops::v1;
using ::outreach::testing::ChildProcess;
using ::outreach::testing::Ctx;
using ::outreach::testing::ProcessSecurity;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

constexpr int kTopics = 500;
constexpr int kCallers = 200;
constexpr int64_t kLimitKib = int64_t{256} * 1024;

// A field of /proc/<pid>/status in KiB (VmRSS, VmHWM), or -1.
int64_t StatusKib(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      int64_t kib = -1;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits.push_back(c);
      }
      return absl::SimpleAtoi(digits, &kib) ? kib : -1;
    }
  }
  return -1;
}

std::shared_ptr<grpc::Channel> Channel(ProcessSecurity& security, const std::string& port,
                                       int index) {
  grpc::ChannelArguments args;
  args.SetInt("outreach.test.channel", index);  // a distinct connection per caller
  return security.ChannelWith(port, security::TlsFiles{"", "", security.ca_file()}, args);
}

TEST(WorkshopsOverload, ConcurrentMaximumListsAreAnsweredWithinTheMemoryLimit) {
  TempDir dir;
  ProcessSecurity security(dir.File("pki"));
  const char* binary = std::getenv("OUTREACH_WORKSHOPS");
  std::vector<std::string> args{"--db-path=" + dir.File("workshops.db"),
                                "--grpc-address=127.0.0.1:0", "--http-address=off"};
  for (auto& flag : security.FlagsFor("workshops")) args.push_back(std::move(flag));
  ChildProcess server(binary != nullptr ? binary : "workshops", args);
  ASSERT_TRUE(server.Start());
  const std::string port = server.WaitForLogValue("grpc_port", absl::Seconds(30));
  ASSERT_FALSE(port.empty()) << server.Stderr();

  // 500 topics, each near the 2 000-character description limit, written by 4 callers.
  const std::string description(2000, 'd');
  std::atomic<int> created{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      auto stub = wv1::WorkshopsService::NewStub(Channel(security, port, 1000 + w));
      for (int i = w; i < kTopics; i += 4) {
        wv1::CreateTopicRequest req;
        req.set_parent("forces/derbyshire");
        req.set_topic_id(absl::StrCat("topic-", i));
        req.mutable_topic()->set_display_name(absl::StrCat("Online safety topic ", i));
        req.mutable_topic()->set_description(description);
        req.mutable_topic()->set_category(wv1::TOPIC_CATEGORY_SEXTING);
        req.mutable_topic()->set_version("2025.1");
        req.mutable_topic()->set_suitable_for_pupils(true);
        req.mutable_topic()->set_min_year_group(7);
        req.mutable_topic()->set_max_year_group(11);
        wv1::Topic out;
        const grpc::Status s = stub->CreateTopic(Ctx().get(), req, &out);
        if (s.ok()) {
          ++created;
        } else {
          ADD_FAILURE() << "CreateTopic " << i << ": " << s.error_code() << " "
                        << s.error_message();
          return;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(created.load(), kTopics);
  const int64_t idle_kib = StatusKib(server.pid(), "VmRSS");

  std::mutex mu;
  std::map<grpc::StatusCode, int> codes;
  size_t largest_reply = 0;
  int short_pages = 0;
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      auto stub = wv1::WorkshopsService::NewStub(Channel(security, port, c));
      wv1::ListTopicsRequest req;
      req.set_parent("forces/derbyshire");
      req.set_page_size(kMaxPageSize);
      wv1::ListTopicsResponse resp;
      const grpc::Status s = stub->ListTopics(Ctx().get(), req, &resp);
      std::lock_guard<std::mutex> lock(mu);
      ++codes[s.error_code()];
      largest_reply = std::max(largest_reply, resp.ByteSizeLong());
      if (s.ok() && resp.topics_size() < kMaxPageSize && !resp.next_page_token().empty()) {
        ++short_pages;
      }
    });
  }
  for (auto& t : callers) t.join();
  const int64_t peak_kib = StatusKib(server.pid(), "VmHWM");

  std::printf(
      "overload: %d concurrent ListTopics(page_size=%d) over %d topics: OK=%d "
      "RESOURCE_EXHAUSTED=%d other=%d; largest reply %zu bytes; RSS idle %lld KiB, "
      "peak %lld KiB%s\n",
      kCallers, kMaxPageSize, kTopics, codes[grpc::OK], codes[grpc::RESOURCE_EXHAUSTED],
      kCallers - codes[grpc::OK] - codes[grpc::RESOURCE_EXHAUSTED], largest_reply,
      static_cast<long long>(idle_kib), static_cast<long long>(peak_kib),
      kAsan ? " (AddressSanitizer build: RSS not bounded)" : "");
  for (const auto& [code, n] : codes) {
    EXPECT_TRUE(code == grpc::OK || code == grpc::RESOURCE_EXHAUSTED)
        << n << " calls ended with code " << code;
  }
  EXPECT_GT(codes[grpc::OK], 0);
  EXPECT_EQ(short_pages, codes[grpc::OK]) << "every full page is cut by the byte budget";
  EXPECT_LE(largest_reply, kMaxListResponseBytes + size_t{8} * 1024);
  if (!kAsan) {
    EXPECT_LT(peak_kib, kLimitKib) << "peak RSS over the container limit";
  }

  // A short page is only a page: following the tokens lists every topic exactly once.
  auto stub = wv1::WorkshopsService::NewStub(Channel(security, port, 5000));
  std::set<std::string> seen;
  wv1::ListTopicsRequest req;
  req.set_parent("forces/derbyshire");
  req.set_page_size(kMaxPageSize);
  for (int pages = 0; pages < 20; ++pages) {
    wv1::ListTopicsResponse resp;
    ASSERT_TRUE(stub->ListTopics(Ctx().get(), req, &resp).ok());
    for (const auto& t : resp.topics()) EXPECT_TRUE(seen.insert(t.name()).second) << t.name();
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kTopics));

  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(absl::Seconds(15)), 0) << server.Stderr();
}

}  // namespace
}  // namespace outreach::workshops
