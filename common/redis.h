#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

struct redisContext;

namespace outreach::redis {

// Where and how to reach Redis. Timeouts are short on purpose: Redis is a cache, and a slow
// cache must cost a caller at most a few tens of milliseconds before it computes the answer.
struct Options {
  std::string host = "127.0.0.1";
  int port = 6379;
  absl::Duration connect_timeout = absl::Milliseconds(100);
  absl::Duration command_timeout = absl::Milliseconds(100);
  // At most this many connections are open at once; a caller waits up to command_timeout for one.
  int pool_size = 8;
  // After a failure, calls fail fast (no connect attempt) for this long, then try again.
  absl::Duration retry_interval = absl::Milliseconds(500);
};

// Parses "host:port". Returns false when malformed.
bool ParseAddress(absl::string_view address, Options* options);

// A reply, copied out of hiredis.
struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<Reply> elements;
  bool is_nil() const { return type == Type::kNil; }
};

// A thread-safe client over a bounded pool of blocking hiredis connections. Every command has
// the command timeout; a broken connection is dropped and reopened on a later call (after
// retry_interval), so the client reconnects by itself when Redis comes back. Errors come back
// as UNAVAILABLE (network, timeout, pool exhausted) or INTERNAL (an error reply).
class Client {
 public:
  explicit Client(Options options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<Reply> Command(const std::vector<std::string>& args);
  const Options& options() const { return options_; }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
  absl::StatusOr<ContextPtr> Acquire();
  void Release(ContextPtr context, bool healthy);

  const Options options_;
  absl::Mutex mu_;
  std::vector<ContextPtr> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time down_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// A pub/sub subscriber on its own thread: connects, SUBSCRIBEs to `channels`, and calls
// on_message(channel, message) for each message. It pings the server every second and treats
// a missing answer, a closed socket or any error as a lost connection: it calls
// on_state(false), waits retry_interval and connects again; on_state(true) runs once the
// SUBSCRIBE is confirmed (messages published before that moment were not seen). Callbacks run
// on the subscriber thread. The destructor stops the thread within ~100 ms.
class Subscriber {
 public:
  using MessageFn = std::function<void(const std::string& channel, const std::string& message)>;
  using StateFn = std::function<void(bool subscribed)>;
  Subscriber(Options options, std::vector<std::string> channels, MessageFn on_message,
             StateFn on_state);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  bool subscribed() const { return subscribed_.load(); }

 private:
  void Run();
  // Runs one connection until it is lost or stop is requested.
  void RunConnection();

  const Options options_;
  const std::vector<std::string> channels_;
  MessageFn on_message_;
  StateFn on_state_;
  std::atomic<bool> subscribed_{false};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace outreach::redis
