#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "common/redis.h"

namespace outreach::metrics {

struct CacheOptions {
  // "host:port" of Redis, or "off" (no cache at all: every read computes from the store).
  std::string redis_address = "off";
  // Lifetime of every entry, in Redis and in the near-cache.
  absl::Duration ttl = absl::Seconds(60);
  absl::Duration connect_timeout = absl::Milliseconds(100);
  absl::Duration command_timeout = absl::Milliseconds(100);
  absl::Duration retry_interval = absl::Milliseconds(500);
  // Keeps ready-serialized replies in process, invalidated by Redis pub/sub.
  bool near_cache = true;
  // Entries per force kept in process; more clears that force's entries.
  size_t near_capacity = 4096;
  // Prefix of every Redis key and of the pub/sub channel; replicas of one deployment share it.
  std::string key_prefix = "outreach:metrics:v1";
};

// Two-level cache of serialized GetDashboard/QuerySeries replies, keyed by (force, data
// version, request fingerprint):
//  - L2 in Redis (shared by replicas), every entry with a TTL; the data version in the key is
//    the one the reply was computed from, so an entry can never be served for newer data.
//  - L1 near-cache in process. A replica uses an L1 entry only while its Redis subscription is
//    up and the entry's version equals the newest version it knows for the force. Ingest on any
//    replica publishes (force, version) after commit; a message raises the known version and
//    drops older entries. A lost subscription clears L1 and disables it until re-subscribed, so
//    a replica that may have missed an invalidation never serves from L1.
// Every Redis failure is counted and treated as a miss: the caller computes from the store.
class ReplyCache {
 public:
  ReplyCache(CacheOptions options, MetricsRegistry* metrics);
  ~ReplyCache();
  ReplyCache(const ReplyCache&) = delete;
  ReplyCache& operator=(const ReplyCache&) = delete;

  bool enabled() const { return client_ != nullptr; }

  // L1 lookup without any I/O: the reply when the force's known version has an entry.
  std::optional<std::string> NearGet(const std::string& force, const std::string& fingerprint);
  // Records a version read from the store (authoritative) and returns the L1 generation to pass
  // to Put, or -1 when L1 is unusable now.
  int64_t NoteVersion(const std::string& force, int64_t version);
  // L1 lookup at an exact version (after NoteVersion), then L2.
  std::optional<std::string> Get(const std::string& force, int64_t version,
                                 const std::string& fingerprint, int64_t generation);
  // Stores a computed reply at the version it was computed from (L2 with TTL, and L1 when
  // `generation` is still current and no newer version is known).
  void Put(const std::string& force, int64_t version, const std::string& fingerprint,
           const std::string& bytes, int64_t generation);
  // After an ingest committed `version`: raise the local known version at once, then update
  // the shared version in Redis (never lowering it) and publish it to the other replicas.
  void Publish(const std::string& force, int64_t version);
  // Called (on the subscriber's thread; keep it short) with the force of every version another
  // replica publishes; nullptr removes it. Lets WatchDashboard streams follow other replicas.
  void OnNewVersion(std::function<void(const std::string& force)> listener);

  // Figures for tests and /metrics.
  struct Stats {
    std::atomic<int64_t> near_hits{0};
    std::atomic<int64_t> redis_hits{0};
    std::atomic<int64_t> misses{0};
    std::atomic<int64_t> errors{0};
    std::atomic<int64_t> invalidations{0};  // pub/sub messages applied
    std::atomic<int64_t> subscriptions{0};  // times the subscription came up
    std::atomic<int64_t> disconnects{0};    // times it was lost
  };
  const Stats& stats() const { return stats_; }
  bool subscribed() const;
  // Newest version known for `force` (0 when none); for tests.
  int64_t KnownVersion(const std::string& force);
  std::string VersionKey(const std::string& force) const;
  std::string EntryKey(const std::string& force, int64_t version,
                       const std::string& fingerprint) const;

 private:
  struct Entry {
    int64_t version = 0;
    absl::Time stored;
    std::string bytes;
  };
  struct ForceEntries {
    int64_t known = 0;
    std::map<std::string, Entry> entries;
  };
  void OnMessage(const std::string& message);
  void OnState(bool subscribed);
  void Count(const char* result, std::atomic<int64_t>* counter, const char* level);
  void CountError(const char* op);

  const CacheOptions options_;
  MetricsRegistry* metrics_;
  Stats stats_;
  std::unique_ptr<redis::Client> client_;
  absl::Mutex mu_;
  bool l1_usable_ ABSL_GUARDED_BY(mu_) = false;
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, ForceEntries> near_ ABSL_GUARDED_BY(mu_);
  absl::Mutex listener_mu_;
  std::function<void(const std::string&)> listener_ ABSL_GUARDED_BY(listener_mu_);
  // Last: its thread calls back into the members above, so it must stop first.
  std::unique_ptr<redis::Subscriber> subscriber_;
};

}  // namespace outreach::metrics
