#include "common/redis.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/time.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "common/log.h"

namespace outreach::redis {
namespace {

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

struct ReplyDeleter {
  void operator()(void* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};

absl::StatusOr<redisContext*> Connect(const Options& options) {
  redisContext* c = redisConnectWithTimeout(options.host.c_str(), options.port,
                                            absl::ToTimeval(options.connect_timeout));
  if (c == nullptr) return absl::UnavailableError("redis: cannot allocate context");
  if (c->err != 0) {
    std::string why = c->errstr;
    redisFree(c);
    return absl::UnavailableError(absl::StrCat("redis connect: ", why));
  }
  if (redisSetTimeout(c, absl::ToTimeval(options.command_timeout)) != REDIS_OK) {
    redisFree(c);
    return absl::UnavailableError("redis: cannot set timeout");
  }
  return c;
}

}  // namespace

bool ParseAddress(absl::string_view address, Options* options) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port) || port <= 0) return false;
  options->host = host;
  options->port = port;
  return true;
}

void Client::ContextDeleter::operator()(redisContext* c) const {
  if (c != nullptr) redisFree(c);
}

Client::Client(Options options) : options_(std::move(options)) {}

Client::~Client() {
  absl::MutexLock lock(&mu_);
  idle_.clear();
}

absl::StatusOr<Client::ContextPtr> Client::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (absl::Now() < down_until_) return absl::UnavailableError("redis: recently failed");
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.pool_size;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&available), options_.command_timeout)) {
      return absl::UnavailableError("redis: connection pool exhausted");
    }
    if (!idle_.empty()) {
      ContextPtr c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    ++open_;
  }
  auto c = Connect(options_);
  if (!c.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    down_until_ = absl::Now() + options_.retry_interval;
    return c.status();
  }
  return ContextPtr(*c);
}

void Client::Release(ContextPtr context, bool healthy) {
  absl::MutexLock lock(&mu_);
  if (healthy) {
    idle_.push_back(std::move(context));
  } else {
    context.reset();
    --open_;
    down_until_ = absl::Now() + options_.retry_interval;
  }
}

absl::StatusOr<Reply> Client::Command(const std::vector<std::string>& args) {
  auto context = Acquire();
  if (!context.ok()) return context.status();
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  std::unique_ptr<void, ReplyDeleter> raw(
      redisCommandArgv(context->get(), static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (raw == nullptr || (*context)->err != 0) {
    std::string why = (*context)->errstr;
    Release(std::move(*context), false);
    return absl::UnavailableError(absl::StrCat("redis command: ", why));
  }
  Reply reply = Convert(static_cast<redisReply*>(raw.get()));
  Release(std::move(*context), true);
  if (reply.type == Reply::Type::kError) {
    return absl::InternalError(absl::StrCat("redis error reply: ", reply.str));
  }
  return reply;
}

Subscriber::Subscriber(Options options, std::vector<std::string> channels, MessageFn on_message,
                       StateFn on_state)
    : options_(std::move(options)),
      channels_(std::move(channels)),
      on_message_(std::move(on_message)),
      on_state_(std::move(on_state)) {
  thread_ = std::thread([this] { Run(); });
}

Subscriber::~Subscriber() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void Subscriber::Run() {
  while (!stop_.HasBeenNotified()) {
    RunConnection();
    if (subscribed_.exchange(false) && !stop_.HasBeenNotified()) on_state_(false);
    stop_.WaitForNotificationWithTimeout(options_.retry_interval);
  }
}

void Subscriber::RunConnection() {
  auto connected = Connect(options_);
  if (!connected.ok()) return;
  std::unique_ptr<redisContext, void (*)(redisContext*)> c(*connected, redisFree);
  // Blocking writes with the command timeout; reads are driven by poll() below.
  std::vector<std::string> args = {"SUBSCRIBE"};
  args.insert(args.end(), channels_.begin(), channels_.end());
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  if (redisAppendCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data()) !=
      REDIS_OK) {
    return;
  }
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(c.get(), &done) != REDIS_OK) return;
  }
  size_t confirmations = 0;
  const absl::Duration ping_every = absl::Seconds(1);
  const absl::Duration pong_within = absl::Seconds(2);
  absl::Time last_ping = absl::Now();
  bool ping_outstanding = false;
  while (!stop_.HasBeenNotified()) {
    // Consume every complete reply already buffered.
    for (;;) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(c.get(), &raw) != REDIS_OK) return;
      if (raw == nullptr) break;
      std::unique_ptr<void, ReplyDeleter> holder(raw);
      const Reply r = Convert(static_cast<redisReply*>(raw));
      if (r.type != Reply::Type::kArray || r.elements.empty()) continue;
      const std::string& kind = r.elements[0].str;
      if (kind == "subscribe") {
        if (++confirmations == channels_.size()) {
          subscribed_.store(true);
          on_state_(true);
        }
      } else if (kind == "message" && r.elements.size() == 3) {
        on_message_(r.elements[1].str, r.elements[2].str);
      } else if (kind == "pong") {
        ping_outstanding = false;
      }
    }
    const absl::Time now = absl::Now();
    if (ping_outstanding && now - last_ping > pong_within) return;  // server silent: lost
    if (!ping_outstanding && now - last_ping >= ping_every) {
      if (redisAppendCommand(c.get(), "PING") != REDIS_OK) return;
      done = 0;
      while (done == 0) {
        if (redisBufferWrite(c.get(), &done) != REDIS_OK) return;
      }
      ping_outstanding = true;
      last_ping = now;
    }
    pollfd p{c->fd, POLLIN, 0};
    const int ready = poll(&p, 1, 100);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (ready > 0) {
      if (redisBufferRead(c.get()) != REDIS_OK) return;  // closed or error
    }
  }
}

}  // namespace outreach::redis
