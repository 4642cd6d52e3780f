// The baseline server of read_bench: the most a gRPC server can do on this machine for a unary
// call with a reply of a given size. It answers every unary call, whatever the method, with the
// same `--reply-bytes` bytes and ignores the request and its metadata (so a token costs it only
// gRPC's own parsing, as it costs the service under test).
//
// Why it is the strongest baseline: the async completion-queue API, one CQ per thread and that
// thread polls it (no hand-off between threads); `--slots` calls pre-posted per CQ so many calls
// are in flight at once; the reply is one slice made at start and shared by every call (a
// reference count, no copy); each call's context and stream are built in place in a reused slot,
// so there is no allocation per call beyond gRPC's own.
//
//   echo_server [--address=127.0.0.1:0] [--reply-bytes=400] [--threads=1] [--slots=256]
//               [--tls-cert-file=F --tls-key-file=F]
//
// Prints "port N" on stdout once it listens; SIGTERM or SIGINT stops it (exit 0).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"

namespace outreach::bench {
namespace {

struct Flags {
  std::string address = "127.0.0.1:0";
  int reply_bytes = 400;
  int threads = 1;
  int slots = 256;
  std::string tls_cert_file, tls_key_file;
};

// A reply of exactly `size` bytes that is also a valid protobuf message: one length-delimited
// field number 15 (unknown to any message of ours, so a parser keeps it and moves on), padded
// with a repeating pattern. Sizes below 2 are plain bytes (an empty reply is valid anyway).
std::string ProtobufOfSize(int size) {
  if (size < 2) return std::string(static_cast<size_t>(size), '\0');
  auto varint_size = [](int v) {
    int n = 1;
    while (v >= 0x80) {
      v >>= 7;
      ++n;
    }
    return n;
  };
  // 1 tag byte + the length's varint + the payload = size.
  int payload = size - 2;
  while (1 + varint_size(payload) + payload > size) --payload;
  std::string out;
  out.reserve(static_cast<size_t>(size));
  out.push_back(static_cast<char>((15 << 3) | 2));
  for (int v = payload;; v >>= 7) {
    if (v < 0x80) {
      out.push_back(static_cast<char>(v));
      break;
    }
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
  }
  for (int i = 0; i < payload; ++i) out.push_back(static_cast<char>('a' + i % 26));
  return out;
}

// One call's worth of state, reused for call after call: the context and stream are rebuilt in
// place (std::optional), because gRPC offers no way to reset them.
class Slot {
 public:
  Slot(grpc::AsyncGenericService* service, grpc::ServerCompletionQueue* cq,
       const grpc::ByteBuffer* reply, const std::atomic<bool>* stopping)
      : service_(service), cq_(cq), reply_(reply), stopping_(stopping) {}

  void Post() {
    context_.emplace();
    stream_.emplace(&*context_);
    state_ = State::kWaiting;
    service_->RequestCall(&*context_, &*stream_, cq_, cq_, this);
  }

  // The CQ handed back this slot's tag: advance its call.
  void Proceed(bool ok) {
    switch (state_) {
      case State::kWaiting:
        // Not ok: the server is shutting down and will hand out no more calls.
        if (!ok) return;
        state_ = State::kReading;
        stream_->Read(&request_, this);
        return;
      case State::kReading:
        state_ = State::kFinishing;
        if (ok) {
          stream_->WriteAndFinish(*reply_, grpc::WriteOptions(), grpc::Status::OK, this);
        } else {
          // The client went away (or sent no message): end the call without a reply.
          stream_->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"), this);
        }
        return;
      case State::kFinishing:
        request_.Clear();
        stream_.reset();
        context_.reset();
        if (!stopping_->load(std::memory_order_relaxed)) Post();
        return;
    }
  }

 private:
  enum class State { kWaiting, kReading, kFinishing };
  grpc::AsyncGenericService* service_;
  grpc::ServerCompletionQueue* cq_;
  const grpc::ByteBuffer* reply_;
  const std::atomic<bool>* stopping_;
  State state_ = State::kWaiting;
  std::optional<grpc::GenericServerContext> context_;
  std::optional<grpc::GenericServerAsyncReaderWriter> stream_;
  grpc::ByteBuffer request_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    bool ok = true;
    if (absl::ConsumePrefix(&arg, "--address=")) {
      flags->address = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--reply-bytes=")) {
      ok = absl::SimpleAtoi(arg, &flags->reply_bytes) && flags->reply_bytes >= 0 &&
           flags->reply_bytes <= 64 << 20;
    } else if (absl::ConsumePrefix(&arg, "--threads=")) {
      ok = absl::SimpleAtoi(arg, &flags->threads) && flags->threads >= 1 && flags->threads <= 64;
    } else if (absl::ConsumePrefix(&arg, "--slots=")) {
      ok = absl::SimpleAtoi(arg, &flags->slots) && flags->slots >= 1 && flags->slots <= 100000;
    } else if (absl::ConsumePrefix(&arg, "--tls-cert-file=")) {
      flags->tls_cert_file = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--tls-key-file=")) {
      flags->tls_key_file = std::string(arg);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "echo_server: bad flag %s\n", argv[i]);
      return false;
    }
  }
  if (flags->tls_cert_file.empty() != flags->tls_key_file.empty()) {
    std::fprintf(stderr, "echo_server: --tls-cert-file and --tls-key-file go together\n");
    return false;
  }
  return true;
}

int Main(int argc, char** argv) {
  // As the services do in release builds (common/service_main.cc): Debian's Abseil checks lock
  // order on every mutex, which gRPC's own mutexes pay too; the baseline must not carry it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;

  // Signals are taken by sigwait below; blocked before any gRPC thread starts, so none of them
  // is picked to run a handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!flags.tls_cert_file.empty()) {
    grpc::SslServerCredentialsOptions options;
    options.pem_key_cert_pairs.push_back(
        {ReadFile(flags.tls_key_file), ReadFile(flags.tls_cert_file)});
    credentials = grpc::SslServerCredentials(options);
  }

  const std::string reply_bytes = ProtobufOfSize(flags.reply_bytes);
  grpc::Slice reply_slice(reply_bytes);
  const grpc::ByteBuffer reply(&reply_slice, 1);

  grpc::AsyncGenericService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(flags.address, credentials, &port);
  builder.RegisterAsyncGenericService(&service);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  for (int t = 0; t < flags.threads; ++t) cqs.push_back(builder.AddCompletionQueue());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "echo_server: cannot listen on %s\n", flags.address.c_str());
    return 1;
  }

  std::atomic<bool> stopping{false};
  // Slots live in one vector per CQ, built before any call is posted (their addresses are tags).
  std::vector<std::vector<std::unique_ptr<Slot>>> slots(cqs.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < cqs.size(); ++t) {
    for (int s = 0; s < flags.slots; ++s) {
      slots[t].push_back(std::make_unique<Slot>(&service, cqs[t].get(), &reply, &stopping));
      slots[t].back()->Post();
    }
    threads.emplace_back([cq = cqs[t].get()] {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) static_cast<Slot*>(tag)->Proceed(ok);
    });
  }
  std::printf("port %d\n", port);
  std::fflush(stdout);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  stopping = true;
  // A deadline, so a call stuck on a client that stopped reading cannot hold the exit forever.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  for (auto& cq : cqs) cq->Shutdown();
  for (auto& thread : threads) thread.join();
  return 0;
}

}  // namespace
}  // namespace outreach::bench

int main(int argc, char** argv) { return outreach::bench::Main(argc, argv); }
