#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/db.h"
#include "common/event_sink.h"
#include "common/metrics.h"

namespace outreach {

struct PublisherOptions {
  std::string source;  // emitting service, for logs and metric labels
  int batch_size = 500;
  // How often an idle outbox is read: with wake_on_commit, only the fallback for events that
  // other processes commit (replicas on one PostgreSQL database) or a lost race with start-up.
  absl::Duration poll_interval = absl::Milliseconds(100);
  // Wake as soon as a Write of this process that appended to the outbox has committed
  // (db::Database::SetCommitListener) instead of waiting for the next poll. Off: poll only, as
  // before issue 15 (`--outbox-wakeup=false`; the freshness bench's "before").
  bool wake_on_commit = true;
  // After a wake-up, how long the publisher lets further commits gather before it reads, so that
  // under load it sends batches rather than one IngestEvents call per event. 10 ms: at ≈ 170
  // writes/s a service a call carries ≈ 3 events (measured at 500 writes/s for the suite), at
  // 330/s ≈ 4, so metrics commits a fraction of the transactions (each durable, on its one
  // writer), while costing 4% of the 250 ms freshness budget (bench/README.md
  // "freshness_bench"). Bounded: later commits do not extend it.
  absl::Duration coalesce_window = absl::Milliseconds(10);
  absl::Duration call_timeout = absl::Seconds(5);  // deadline of each IngestEvents call
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(30);
};

// Delivers a service's outbox to an EventSink (metrics.IngestEvents in production; see
// docs/architecture.md "Events"): reads unsent events in commit order, sends the leading run of
// one force's events (at most batch_size) with a deadline, and marks them sent only after the
// sink answered for every event. While the sink is unreachable it retries with capped
// exponential backoff and equal jitter (a wait drawn from [backoff/2, backoff]); nothing is
// dropped and the event ids are stable, so the receiver's dedupe makes redelivery after a crash
// harmless.
//
// The loop reads when a commit of this process signals it (wake_on_commit, after a short
// coalesce_window), every poll_interval otherwise, and again at once after a batch while events
// remain. Signals are counted, not flagged: one that arrives while a batch is read or in flight
// makes the loop read again before it sleeps, so no wake-up is lost.
//
// An event the sink REJECTS (a malformed event: a bug, not an outage) is logged at error level,
// counted in outreach_outbox_rejected_total and marked sent, so one bad row cannot block the
// rest of the outbox forever.
class OutboxPublisher {
 public:
  OutboxPublisher(db::Database* db, const Clock* clock, MetricsRegistry* metrics,
                  std::unique_ptr<EventSink> sink, PublisherOptions options);
  ~OutboxPublisher();

  // Starts the loop and, with wake_on_commit, registers as the database's commit listener.
  void Start();
  // Stops the loop (waking it from any wait) and unregisters the listener; an in-flight call is
  // bounded by call_timeout. Idempotent.
  void Stop();
  // Delivers one batch now. Returns how many events metrics acknowledged (0 when the outbox is
  // empty or another replica holds the outbox lease), or the error of the call. For tests and
  // the loop; not thread-safe.
  absl::StatusOr<int> PublishOnce();

 private:
  void Loop();
  // The commit listener: counts a commit that appended to the outbox.
  void Wake();

  db::Database* db_;
  const Clock* clock_;
  MetricsRegistry* metrics_;
  std::unique_ptr<EventSink> sink_;
  PublisherOptions options_;
  std::unique_ptr<db::Lease> lease_;  // used by the loop's thread only (or a test's)
  // Set by PublishOnce: its read took every unsent event, so nothing is left to send at once.
  bool drained_ = false;  // used by the loop's thread only (or a test's)
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // Commits signalled so far. The loop remembers the count before each read: a different count
  // means a commit the read may not have seen, so it reads again instead of sleeping.
  uint64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
  bool listening_ = false;  // Start registered the listener (Start/Stop's thread only)
  std::thread thread_;
};

}  // namespace outreach
