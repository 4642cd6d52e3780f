#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "outreach/metrics/v1/metrics.pb.h"
#include "services/metrics/domain.h"

namespace outreach::metrics {

// What the hub reads: the force's data version (cheap, one row) and a dashboard (the service's
// cached path). Both may block on the store; the hub calls them on its own thread only.
struct WatchSource {
  std::function<absl::StatusOr<int64_t>(const std::string& force)> data_version;
  std::function<absl::StatusOr<v1::Dashboard>(const std::string& force, DayRange days,
                                              const std::string& area)>
      dashboard;
  const Clock* clock = nullptr;
};

struct WatchOptions {
  // At most one message per stream per min_gap: a burst of ingests is coalesced into one.
  absl::Duration min_gap = absl::Milliseconds(500);
  // How often the hub reads each watched force's data version without being told of a change:
  // another replica's ingest when Redis pub/sub is off, and "today" moving on at midnight.
  absl::Duration poll = absl::Milliseconds(250);
  // Streams one process holds; more are refused with RESOURCE_EXHAUSTED.
  size_t max_streams = 20000;
};

// The WatchDashboard streams of one process, on gRPC's callback API: a stream is a reactor that
// holds no thread while it waits. One hub thread sends every message: woken by a data-version
// bump (Notify: a local ingest, or another replica's via the cache's pub/sub), it reads each
// watched force's version once, computes each distinct (period, area) dashboard once, and starts
// a write on every stream whose last message is older; a stream still writing is revisited when
// its write completes, so a slow reader never holds up the others or receives stale data last.
class WatchHub {
 public:
  WatchHub(WatchSource source, WatchOptions options);
  // Ends every open stream (the drain status) and joins the hub thread.
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // A stream for a request already validated and admitted (its force parsed). The first message
  // is sent by the hub as soon as it runs; refused streams end at once with `refusal`.
  grpc::ServerWriteReactor<v1::Dashboard>* Open(const v1::WatchDashboardRequest& request,
                                                const std::string& force);
  // `force`'s data changed: its streams are brought up to date.
  void Notify(const std::string& force);
  // Ends every stream with `status` and refuses new ones (drain).
  void Close(const grpc::Status& status);

  size_t open_streams();
  // Messages started since the hub began (tests, the bench).
  int64_t messages_sent() const { return messages_sent_.load(); }

 private:
  class Stream;
  void Run();
  void Remove(Stream* stream);
  // One pass over the streams of `forces` (all when empty); returns when it next must look
  // again for streams held back by min_gap.
  absl::Time Pass(const std::vector<std::string>& forces);

  const WatchSource source_;
  const WatchOptions options_;
  std::atomic<int64_t> messages_sent_{0};

  absl::Mutex mu_;  // the registry
  absl::flat_hash_map<std::string, absl::flat_hash_map<Stream*, std::shared_ptr<Stream>>> streams_
      ABSL_GUARDED_BY(mu_);
  size_t count_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);

  absl::Mutex wake_mu_;  // the hub's wake-ups; never held while a stream is touched
  absl::flat_hash_set<std::string> changed_ ABSL_GUARDED_BY(wake_mu_);
  bool stop_ ABSL_GUARDED_BY(wake_mu_) = false;

  std::thread thread_;
};

}  // namespace outreach::metrics
