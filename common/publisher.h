#pragma once

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
  absl::Duration poll_interval = absl::Milliseconds(100);  // how often an idle outbox is read
  absl::Duration call_timeout = absl::Seconds(5);          // deadline of each IngestEvents call
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
// An event the sink REJECTS (a malformed event: a bug, not an outage) is logged at error level,
// counted in outreach_outbox_rejected_total and marked sent, so one bad row cannot block the
// rest of the outbox forever.
class OutboxPublisher {
 public:
  OutboxPublisher(db::Database* db, const Clock* clock, MetricsRegistry* metrics,
                  std::unique_ptr<EventSink> sink, PublisherOptions options);
  ~OutboxPublisher();

  void Start();
  // Stops the loop; an in-flight call is bounded by call_timeout. Idempotent.
  void Stop();
  // Delivers one batch now. Returns how many events metrics acknowledged (0 when the outbox is
  // empty or another replica holds the outbox lease), or the error of the call. For tests and
  // the loop; not thread-safe.
  absl::StatusOr<int> PublishOnce();

 private:
  void Loop();

  db::Database* db_;
  const Clock* clock_;
  MetricsRegistry* metrics_;
  std::unique_ptr<EventSink> sink_;
  PublisherOptions options_;
  std::unique_ptr<db::Lease> lease_;  // used by the loop's thread only (or a test's)
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace outreach
