// A closed-loop gRPC load generator in a process of its own, for measuring a server from outside
// (read_bench starts it pinned to the other CPU than the server's). `--concurrency` calls are
// always in flight: each completion starts the next call on the same slot. Calls are sent as raw
// bytes through the generic stub on the async completion-queue API (the cheapest client gRPC
// has: the polling thread is the one that handles completions), so the same binary drives any
// method of any server and spends the same on each.
//
//   loadgen --target=127.0.0.1:PORT --method=/pkg.Svc/Method
//           (--request-file=F | --request-hex=0a03...)  [--concurrency=8] [--seconds=5]
//           [--warmup-seconds=1] [--channels=K] [--threads=1] [--deadline-ms=10000]
//           [--tls-ca-file=F [--tls-server-name=N]] [--token-file=F] [--cpu-pid=PID]
//
// Prints one line on stdout:
//   qps=… p50_us=… p99_us=… calls=… errors=… p999_us=… max_us=… window_s=…
//   [server_cpu_s=… cpu_us_per_call=…] [codes=CODE:N,…]
// calls and the latencies are of the calls completed inside the measured window (after the
// warm-up); errors counts the non-OK ones among them, by code in `codes`. With --cpu-pid, the
// utime + stime of that process over the same window. Exit 1 when a channel cannot connect or
// any call failed (the numbers are then not of served calls).
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "bench/proc_stat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"

namespace outreach::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::string target, method, request_file, request_hex;
  int concurrency = 8;
  double seconds = 5, warmup_seconds = 1;
  int channels = 0;  // 0: min(concurrency, 8)
  int threads = 1;
  int deadline_ms = 10000;
  std::string tls_ca_file, tls_server_name, token_file;
  pid_t cpu_pid = 0;
};

enum Phase : int { kWarmUp, kMeasure, kStop };

// What the calls of one polling thread saw in the window; only that thread writes it.
struct ThreadTally {
  std::vector<uint32_t> latencies_us;
  std::array<int64_t, 17> by_code{};  // grpc::StatusCode 0..16
  std::string first_error;
};

// One slot of the closed loop: a call in flight, then the next, for as long as the run lasts.
// The context is rebuilt in place for each call (gRPC cannot reuse one).
struct Slot {
  grpc::GenericStub* stub = nullptr;
  ThreadTally* tally = nullptr;
  std::optional<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientAsyncResponseReader<grpc::ByteBuffer>> reader;
  grpc::ByteBuffer response;
  grpc::Status status;
  Clock::time_point started;
};

struct Run {
  const Flags* flags = nullptr;
  grpc::ByteBuffer request;
  std::string authorization;  // "Bearer …", or empty
  std::atomic<int> phase{kWarmUp};
};

void StartCall(Run& run, Slot& slot, grpc::CompletionQueue* cq) {
  slot.context.emplace();
  slot.context->set_deadline(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(run.flags->deadline_ms));
  if (!run.authorization.empty()) slot.context->AddMetadata("authorization", run.authorization);
  slot.response.Clear();
  slot.started = Clock::now();
  slot.reader = slot.stub->PrepareUnaryCall(&*slot.context, run.flags->method, run.request, cq);
  slot.reader->StartCall();
  slot.reader->Finish(&slot.response, &slot.status, &slot);
}

// Polls one CQ: records each completion and starts the slot's next call until the run stops,
// then waits for its slots' last calls before it shuts the CQ down.
void Poll(Run& run, grpc::CompletionQueue* cq, int in_flight) {
  void* tag = nullptr;
  bool ok = false;
  while (in_flight > 0 && cq->Next(&tag, &ok)) {
    auto* slot = static_cast<Slot*>(tag);
    const auto elapsed = Clock::now() - slot->started;
    const int phase = run.phase.load(std::memory_order_relaxed);
    if (phase == kMeasure) {
      const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
      slot->tally->latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
      const int code = ok ? static_cast<int>(slot->status.error_code()) : 2;  // 2: UNKNOWN
      slot->tally->by_code[static_cast<size_t>(std::clamp(code, 0, 16))]++;
      if (code != 0 && slot->tally->first_error.empty()) {
        slot->tally->first_error = absl::StrCat(code, " ", slot->status.error_message());
      }
    }
    slot->reader.reset();
    slot->context.reset();
    if (phase == kStop) {
      --in_flight;
    } else {
      StartCall(run, *slot, cq);
    }
  }
  cq->Shutdown();
  while (cq->Next(&tag, &ok)) {
  }
}

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    bool ok = true;
    if (absl::ConsumePrefix(&arg, "--target=")) {
      f->target = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--method=")) {
      f->method = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--request-file=")) {
      f->request_file = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--request-hex=")) {
      f->request_hex = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--concurrency=")) {
      ok =
          absl::SimpleAtoi(arg, &f->concurrency) && f->concurrency >= 1 && f->concurrency <= 100000;
    } else if (absl::ConsumePrefix(&arg, "--seconds=")) {
      ok = absl::SimpleAtod(arg, &f->seconds) && f->seconds > 0;
    } else if (absl::ConsumePrefix(&arg, "--warmup-seconds=")) {
      ok = absl::SimpleAtod(arg, &f->warmup_seconds) && f->warmup_seconds >= 0;
    } else if (absl::ConsumePrefix(&arg, "--channels=")) {
      ok = absl::SimpleAtoi(arg, &f->channels) && f->channels >= 1 && f->channels <= 10000;
    } else if (absl::ConsumePrefix(&arg, "--threads=")) {
      ok = absl::SimpleAtoi(arg, &f->threads) && f->threads >= 1 && f->threads <= 64;
    } else if (absl::ConsumePrefix(&arg, "--deadline-ms=")) {
      ok = absl::SimpleAtoi(arg, &f->deadline_ms) && f->deadline_ms >= 1;
    } else if (absl::ConsumePrefix(&arg, "--tls-ca-file=")) {
      f->tls_ca_file = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--tls-server-name=")) {
      f->tls_server_name = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--token-file=")) {
      f->token_file = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--cpu-pid=")) {
      ok = absl::SimpleAtoi(arg, &f->cpu_pid) && f->cpu_pid > 0;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "loadgen: bad flag %s\n", argv[i]);
      return false;
    }
  }
  if (f->target.empty() || f->method.empty() || f->request_file.empty() == f->request_hex.empty()) {
    std::fprintf(stderr,
                 "loadgen: needs --target, --method and one of --request-file, --request-hex\n");
    return false;
  }
  if (f->channels == 0) f->channels = std::min(f->concurrency, 8);
  return true;
}

// The channels, each its own TCP connection: a distinct channel argument gives each a distinct
// subchannel key, and a local subchannel pool keeps gRPC from sharing one connection among them.
std::vector<std::shared_ptr<grpc::Channel>> OpenChannels(const Flags& flags, bool* ok) {
  *ok = true;
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!flags.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(flags.tls_ca_file, ok);
    if (!*ok) {
      std::fprintf(stderr, "loadgen: cannot read %s\n", flags.tls_ca_file.c_str());
      return {};
    }
    credentials = grpc::SslCredentials(options);
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < flags.channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("outreach.loadgen.channel", i);
    if (!flags.tls_server_name.empty()) args.SetSslTargetNameOverride(flags.tls_server_name);
    channels.push_back(grpc::CreateCustomChannel(flags.target, credentials, args));
  }
  // Every connection made (and its TLS handshake done) before the first call is timed.
  for (auto& channel : channels) {
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      std::fprintf(stderr, "loadgen: cannot connect to %s\n", flags.target.c_str());
      *ok = false;
      return {};
    }
  }
  return channels;
}

uint32_t Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto at = static_cast<size_t>(static_cast<double>(sorted.size()) * p);
  return sorted[std::min(sorted.size() - 1, at)];
}

int Main(int argc, char** argv) {
  // As the services do in release builds (common/service_main.cc): Debian's Abseil checks lock
  // order on every mutex, which gRPC's own mutexes pay too; the baseline must not carry it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  Run run;
  run.flags = &flags;
  std::string request_bytes;
  if (!flags.request_file.empty()) {
    bool read = false;
    request_bytes = ReadFile(flags.request_file, &read);
    if (!read) {
      std::fprintf(stderr, "loadgen: cannot read %s\n", flags.request_file.c_str());
      return 2;
    }
  } else {
    request_bytes = absl::HexStringToBytes(flags.request_hex);
  }
  grpc::Slice request_slice(request_bytes);
  run.request = grpc::ByteBuffer(&request_slice, 1);
  if (!flags.token_file.empty()) {
    bool read = false;
    const std::string token = ReadFile(flags.token_file, &read);
    if (!read) {
      std::fprintf(stderr, "loadgen: cannot read %s\n", flags.token_file.c_str());
      return 2;
    }
    run.authorization = absl::StrCat("Bearer ", absl::StripAsciiWhitespace(token));
  }

  bool connected = false;
  std::vector<std::shared_ptr<grpc::Channel>> channels = OpenChannels(flags, &connected);
  if (!connected) return 1;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (auto& channel : channels) stubs.push_back(std::make_unique<grpc::GenericStub>(channel));

  // Slots go round-robin over the channels and over the polling threads.
  const size_t threads = static_cast<size_t>(flags.threads);
  std::vector<ThreadTally> tallies(threads);
  const auto expected_calls = static_cast<size_t>(flags.seconds * 200000 / flags.threads);
  for (auto& tally : tallies) tally.latencies_us.reserve(expected_calls);  // no growth mid-window
  std::vector<std::unique_ptr<grpc::CompletionQueue>> cqs;
  for (size_t t = 0; t < threads; ++t) cqs.push_back(std::make_unique<grpc::CompletionQueue>());
  std::vector<Slot> slots(static_cast<size_t>(flags.concurrency));
  std::vector<int> in_flight(threads, 0);
  for (size_t s = 0; s < slots.size(); ++s) {
    slots[s].stub = stubs[s % stubs.size()].get();
    slots[s].tally = &tallies[s % threads];
    in_flight[s % threads]++;
  }
  for (size_t s = 0; s < slots.size(); ++s) StartCall(run, slots[s], cqs[s % threads].get());
  std::vector<std::thread> pollers;
  for (size_t t = 0; t < threads; ++t) {
    pollers.emplace_back([&run, cq = cqs[t].get(), n = in_flight[t]] { Poll(run, cq, n); });
  }

  std::this_thread::sleep_for(std::chrono::duration<double>(flags.warmup_seconds));
  const double cpu_begin = flags.cpu_pid > 0 ? ProcessCpuSeconds(flags.cpu_pid) : -1;
  const Clock::time_point begin = Clock::now();
  run.phase = kMeasure;
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  run.phase = kStop;
  const Clock::time_point end = Clock::now();
  const double cpu_end = flags.cpu_pid > 0 ? ProcessCpuSeconds(flags.cpu_pid) : -1;
  for (auto& poller : pollers) poller.join();

  std::vector<uint32_t> all;
  std::array<int64_t, 17> by_code{};
  std::string first_error;
  for (auto& tally : tallies) {
    all.insert(all.end(), tally.latencies_us.begin(), tally.latencies_us.end());
    for (size_t c = 0; c < by_code.size(); ++c) by_code[c] += tally.by_code[c];
    if (first_error.empty()) first_error = tally.first_error;
  }
  std::sort(all.begin(), all.end());
  const double window_s = std::chrono::duration<double>(end - begin).count();
  const auto calls = static_cast<int64_t>(all.size());
  const int64_t errors = calls - by_code[0];
  std::string line =
      absl::StrCat("qps=", static_cast<int64_t>(static_cast<double>(calls) / window_s),
                   " p50_us=", Percentile(all, 0.50), " p99_us=", Percentile(all, 0.99),
                   " calls=", calls, " errors=", errors, " p999_us=", Percentile(all, 0.999),
                   " max_us=", all.empty() ? 0 : all.back(), " window_s=", window_s);
  if (cpu_begin >= 0 && cpu_end >= 0 && calls > 0) {
    const double cpu = cpu_end - cpu_begin;
    absl::StrAppend(&line, " server_cpu_s=", cpu,
                    " cpu_us_per_call=", cpu * 1e6 / static_cast<double>(calls));
  }
  if (errors > 0) {
    std::string codes;
    for (size_t c = 1; c < by_code.size(); ++c) {
      if (by_code[c] > 0) absl::StrAppend(&codes, codes.empty() ? "" : ",", c, ":", by_code[c]);
    }
    absl::StrAppend(&line, " codes=", codes);
    std::fprintf(stderr, "loadgen: first error: %s\n", first_error.c_str());
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  return errors > 0 ? 1 : 0;
}

}  // namespace
}  // namespace outreach::bench

int main(int argc, char** argv) { return outreach::bench::Main(argc, argv); }
