#include "services/metrics/cache.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace outreach::metrics {
namespace {

// Raises the shared version (never lowers it) and publishes "force version".
constexpr char kPublishScript[] =
    "local c = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1]) end "
    "redis.call('PUBLISH', ARGV[2], ARGV[3]) return c";

}  // namespace

ReplyCache::ReplyCache(CacheOptions options, MetricsRegistry* metrics)
    : options_(std::move(options)), metrics_(metrics) {
  if (metrics_ != nullptr) {
    metrics_->DefineCounter("outreach_metrics_cache_requests_total",
                            "Dashboard/series cache lookups by level (near, redis) and result.");
    metrics_->DefineCounter("outreach_metrics_cache_errors_total",
                            "Redis failures of the dashboard cache (served from the store).");
    metrics_->DefineGauge("outreach_metrics_cache_subscribed",
                          "1 while the Redis invalidation subscription is up (near-cache on).");
  }
  if (options_.redis_address == "off") return;
  redis::Options ro;
  if (!redis::ParseAddress(options_.redis_address, &ro)) {
    OUTREACH_LOG(kError, "redis_address_invalid").Kv("address", options_.redis_address);
    return;
  }
  ro.connect_timeout = options_.connect_timeout;
  ro.command_timeout = options_.command_timeout;
  ro.retry_interval = options_.retry_interval;
  client_ = std::make_unique<redis::Client>(ro);
  if (metrics_ != nullptr) {
    metrics_->AddRefresher([this](MetricsRegistry& m) {
      m.Set("outreach_metrics_cache_subscribed", {}, subscribed() ? 1 : 0);
    });
  }
  if (options_.near_cache) {
    subscriber_ = std::make_unique<redis::Subscriber>(
        ro, std::vector<std::string>{options_.key_prefix + ":versions"},
        [this](const std::string&, const std::string& message) { OnMessage(message); },
        [this](bool up) { OnState(up); });
  }
}

ReplyCache::~ReplyCache() { subscriber_.reset(); }

std::string ReplyCache::VersionKey(const std::string& force) const {
  return absl::StrCat(options_.key_prefix, ":version:", force);
}

std::string ReplyCache::EntryKey(const std::string& force, int64_t version,
                                 const std::string& fingerprint) const {
  return absl::StrCat(options_.key_prefix, ":reply:", force, ":", version, ":", fingerprint);
}

bool ReplyCache::subscribed() const { return subscriber_ != nullptr && subscriber_->subscribed(); }

void ReplyCache::Count(const char* result, std::atomic<int64_t>* counter, const char* level) {
  counter->fetch_add(1);
  if (metrics_ != nullptr) {
    metrics_->Add("outreach_metrics_cache_requests_total", {{"level", level}, {"result", result}});
  }
}

void ReplyCache::CountError(const char* op) {
  stats_.errors.fetch_add(1);
  if (metrics_ != nullptr) metrics_->Add("outreach_metrics_cache_errors_total", {{"op", op}});
}

void ReplyCache::OnMessage(const std::string& message) {
  std::vector<std::string> parts = absl::StrSplit(message, ' ');
  int64_t version = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &version)) return;
  {
    absl::MutexLock lock(&mu_);
    ForceEntries& f = near_[parts[0]];
    if (version > f.known) {
      f.known = version;
      f.entries.clear();
    }
    stats_.invalidations.fetch_add(1);
  }
  absl::MutexLock lock(&listener_mu_);
  if (listener_) listener_(parts[0]);
}

void ReplyCache::OnNewVersion(std::function<void(const std::string& force)> listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

void ReplyCache::OnState(bool up) {
  absl::MutexLock lock(&mu_);
  // Either way everything held may have missed an invalidation: start empty.
  near_.clear();
  ++generation_;
  l1_usable_ = up;
  (up ? stats_.subscriptions : stats_.disconnects).fetch_add(1);
  OUTREACH_LOG(kInfo, up ? "cache_subscribed" : "cache_subscription_lost")
      .Kv("near_cache", up ? "on" : "cleared");
}

int64_t ReplyCache::KnownVersion(const std::string& force) {
  absl::MutexLock lock(&mu_);
  auto it = near_.find(force);
  return it == near_.end() ? 0 : it->second.known;
}

std::optional<std::string> ReplyCache::NearGet(const std::string& force,
                                               const std::string& fingerprint) {
  if (!enabled()) return std::nullopt;
  {
    absl::MutexLock lock(&mu_);
    if (l1_usable_) {
      auto f = near_.find(force);
      if (f != near_.end() && f->second.known > 0) {
        auto e = f->second.entries.find(fingerprint);
        if (e != f->second.entries.end() && e->second.version == f->second.known &&
            absl::Now() - e->second.stored < options_.ttl) {
          Count("hit", &stats_.near_hits, "near");
          return e->second.bytes;
        }
      }
    }
  }
  return std::nullopt;
}

int64_t ReplyCache::NoteVersion(const std::string& force, int64_t version) {
  absl::MutexLock lock(&mu_);
  if (!l1_usable_) return -1;
  ForceEntries& f = near_[force];
  if (version > f.known) {
    f.known = version;
    f.entries.clear();
  }
  return generation_;
}

std::optional<std::string> ReplyCache::Get(const std::string& force, int64_t version,
                                           const std::string& fingerprint, int64_t generation) {
  if (!enabled()) return std::nullopt;
  if (generation >= 0) {
    absl::MutexLock lock(&mu_);
    auto f = near_.find(force);
    if (l1_usable_ && generation == generation_ && f != near_.end()) {
      auto e = f->second.entries.find(fingerprint);
      if (e != f->second.entries.end() && e->second.version == version &&
          version == f->second.known && absl::Now() - e->second.stored < options_.ttl) {
        stats_.near_hits.fetch_add(1);
        if (metrics_ != nullptr) {
          metrics_->Add("outreach_metrics_cache_requests_total",
                        {{"level", "near"}, {"result", "hit"}});
        }
        return e->second.bytes;
      }
    }
  }
  auto reply = client_->Command({"GET", EntryKey(force, version, fingerprint)});
  if (!reply.ok()) {
    CountError("get");
    Count("miss", &stats_.misses, "redis");
    return std::nullopt;
  }
  if (reply->type != redis::Reply::Type::kString) {
    Count("miss", &stats_.misses, "redis");
    return std::nullopt;
  }
  Count("hit", &stats_.redis_hits, "redis");
  if (generation >= 0) {
    absl::MutexLock lock(&mu_);
    ForceEntries& f = near_[force];
    if (l1_usable_ && generation == generation_ && version == f.known) {
      if (f.entries.size() >= options_.near_capacity) f.entries.clear();
      f.entries[fingerprint] = {version, absl::Now(), reply->str};
    }
  }
  return reply->str;
}

void ReplyCache::Put(const std::string& force, int64_t version, const std::string& fingerprint,
                     const std::string& bytes, int64_t generation) {
  if (!enabled()) return;
  const int64_t ttl_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.ttl));
  auto reply = client_->Command(
      {"SET", EntryKey(force, version, fingerprint), bytes, "PX", absl::StrCat(ttl_ms)});
  if (!reply.ok()) CountError("set");
  if (generation < 0) return;
  absl::MutexLock lock(&mu_);
  ForceEntries& f = near_[force];
  if (!l1_usable_ || generation != generation_ || version < f.known) return;
  if (version > f.known) {
    f.known = version;
    f.entries.clear();
  }
  if (f.entries.size() >= options_.near_capacity) f.entries.clear();
  f.entries[fingerprint] = {version, absl::Now(), bytes};
}

void ReplyCache::Publish(const std::string& force, int64_t version) {
  if (!enabled()) return;
  {
    absl::MutexLock lock(&mu_);
    if (l1_usable_) {
      ForceEntries& f = near_[force];
      if (version > f.known) {
        f.known = version;
        f.entries.clear();
      }
    }
  }
  auto reply =
      client_->Command({"EVAL", kPublishScript, "1", VersionKey(force), absl::StrCat(version),
                        options_.key_prefix + ":versions", absl::StrCat(force, " ", version)});
  if (!reply.ok()) CountError("publish");
}

}  // namespace outreach::metrics
