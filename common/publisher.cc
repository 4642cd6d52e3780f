#include "common/publisher.h"

#include <algorithm>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/store_support.h"

namespace outreach {
namespace {

constexpr char kPublished[] = "outreach_outbox_published_total";
constexpr char kRejected[] = "outreach_outbox_rejected_total";
constexpr char kErrors[] = "outreach_outbox_publish_errors_total";

}  // namespace

OutboxPublisher::OutboxPublisher(db::Database* db, const Clock* clock, MetricsRegistry* metrics,
                                 std::unique_ptr<EventSink> sink, PublisherOptions options)
    : db_(db),
      clock_(clock),
      metrics_(metrics),
      sink_(std::move(sink)),
      options_(std::move(options)) {
  metrics_->DefineCounter(kPublished,
                          "Outbox events acknowledged by metrics (accepted or duplicate).");
  metrics_->DefineCounter(kRejected,
                          "Outbox events metrics rejected as malformed (dead-lettered).");
  metrics_->DefineCounter(kErrors, "IngestEvents calls that failed and will be retried.");
}

OutboxPublisher::~OutboxPublisher() { Stop(); }

void OutboxPublisher::Start() {
  if (options_.wake_on_commit) {
    db_->SetCommitListener([this] { Wake(); });
    listening_ = true;
  }
  thread_ = std::thread([this] { Loop(); });
}

void OutboxPublisher::Stop() {
  // First, so that no commit calls into a publisher that is going away (clearing waits for a
  // call in progress).
  if (listening_) {
    db_->SetCommitListener({});
    listening_ = false;
  }
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void OutboxPublisher::Wake() {
  absl::MutexLock lock(&mu_);
  ++commits_;
}

absl::StatusOr<int> OutboxPublisher::PublishOnce() {
  // One publisher per store at a time: replicas of a service share one PostgreSQL database, and
  // two publishers would send one force's events out of order. The lease is a session lock, so a
  // replica that dies releases it with its connection (SQLite: always held).
  if (lease_ == nullptr || !lease_->Held()) {
    lease_.reset();
    absl::StatusOr<std::unique_ptr<db::Lease>> lease = db_->TryAcquireLease("outbox");
    if (!lease.ok()) return lease.status();
    if (*lease == nullptr) return 0;  // another replica publishes
    lease_ = std::move(*lease);
    OUTREACH_LOG(kInfo, "outbox_lease_acquired").Kv("source", options_.source);
  }
  drained_ = false;
  std::vector<PendingEvent> pending;
  absl::Status read = db_->Read([&](db::Connection& c) -> absl::Status {
    auto got = Outbox::Pending(c, options_.batch_size);
    if (!got.ok()) return got.status();
    pending = std::move(*got);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  if (pending.empty()) {
    drained_ = true;
    return 0;
  }

  // One force per call (IngestEvents is scoped to a parent): the leading run of the first force.
  const std::string force = pending.front().event.force();
  size_t run = 0;
  while (run < pending.size() && pending[run].event.force() == force) ++run;
  // The read was not cut by batch_size and this call sends all of it.
  drained_ = pending.size() < static_cast<size_t>(options_.batch_size) && run == pending.size();

  std::vector<outreach::events::v1::OutreachEvent> batch;
  batch.reserve(run);
  for (size_t i = 0; i < run; ++i) batch.push_back(pending[i].event);
  absl::StatusOr<std::vector<DeliveryResult>> results =
      sink_->Deliver(force, batch, options_.call_timeout);
  if (!results.ok()) {
    metrics_->Add(kErrors, {{"source", options_.source}});
    return results.status();
  }
  if (results->size() != run) {
    metrics_->Add(kErrors, {{"source", options_.source}});
    return absl::InternalError(
        absl::StrCat("the sink answered ", results->size(), " results for ", run, " events"));
  }
  int rejected = 0;
  for (const DeliveryResult& r : *results) {
    if (r.outcome == DeliveryResult::Outcome::kRejected) {
      ++rejected;
      OUTREACH_LOG(kError, "outbox_event_rejected")
          .Kv("source", options_.source)
          .Kv("event_id", r.event_id)
          .Kv("reason", r.reason)
          .Kv("field", r.field);
    } else if (r.outcome == DeliveryResult::Outcome::kUnknown) {
      metrics_->Add(kErrors, {{"source", options_.source}});
      return absl::InternalError("the sink answered an event without an outcome");
    }
  }
  const int64_t first = pending.front().sequence;
  const int64_t last = pending[run - 1].sequence;
  absl::Status marked = db_->Write(
      [&](db::Connection& c) { return Outbox::MarkSent(c, force, first, last, clock_->Now()); });
  if (!marked.ok()) return marked;  // metrics dedupes the resend
  metrics_->Add(kPublished, {{"source", options_.source}}, static_cast<double>(run) - rejected);
  if (rejected > 0) metrics_->Add(kRejected, {{"source", options_.source}}, rejected);
  return static_cast<int>(run);
}

void OutboxPublisher::Loop() {
  absl::BitGen jitter;
  absl::Duration backoff = options_.initial_backoff;
  bool failing = false;
  uint64_t seen = 0;  // commits_ when the coming read began
  {
    absl::MutexLock lock(&mu_);
    seen = commits_;
  }
  while (true) {
    absl::Duration wait = options_.poll_interval;
    bool wakeable = options_.wake_on_commit;  // may a commit end this round's wait?
    absl::StatusOr<int> sent = PublishOnce();
    if (sent.ok()) {
      if (failing) {
        OUTREACH_LOG(kInfo, "outbox_publish_recovered").Kv("source", options_.source);
      }
      failing = false;
      backoff = options_.initial_backoff;
      // Drain a backlog without pausing. With wake-ups, a batch that took every unsent event is
      // followed by an idle wait like an empty read: a commit during the call has signalled and
      // ends that wait after the coalescing window, so the next call carries what gathered
      // meanwhile instead of the one or two events committed during this call. Polling only
      // (as before issue 15), read again at once.
      if (*sent > 0 && !(drained_ && options_.wake_on_commit)) wait = absl::ZeroDuration();
    } else {
      // Commits do not cut a backoff short: the sink is failing, and each commit would retry it.
      wakeable = false;
      // Equal jitter on a capped exponential backoff (a wait in [backoff/2, backoff]), so
      // replicas do not retry in step yet never retry at once.
      wait = backoff * absl::Uniform(jitter, 0.5, 1.0);
      // The first failure is a warning; repeats while still failing are debug noise.
      const LogLevel level = failing ? LogLevel::kDebug : LogLevel::kWarn;
      if (LogEnabled(level)) {
        OutboxStats stats;
        const absl::Status read_stats = db_->Read([&](db::Connection& c) -> absl::Status {
          auto got = Outbox::Stats(c);
          if (got.ok()) stats = *got;
          return got.status();
        });
        if (!read_stats.ok()) stats.backlog = -1;  // unknown: the store is failing too
        LogLine(level, "outbox_publish_failed")
            .Kv("source", options_.source)
            .Kv("backlog", stats.backlog)
            .Kv("oldest_unsent_age",
                stats.oldest_unsent ? clock_->Now() - *stats.oldest_unsent : absl::ZeroDuration())
            .Kv("retry_in", wait)
            .Kv("detail", sent.status().message());
      }
      failing = true;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    absl::MutexLock lock(&mu_);
    const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    const auto woken = [this, &seen, wakeable]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_ || (wakeable && commits_ != seen);
    };
    if (wait > absl::ZeroDuration()) {
      mu_.AwaitWithTimeout(absl::Condition(&woken), wait);
      // Woken by a commit: let the commits right behind it join the batch (bounded; only Stop
      // ends it early).
      if (!stop_ && wakeable && commits_ != seen) {
        mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.coalesce_window);
      }
    }
    if (stop_) return;
    // Each commit counted so far signalled after its COMMIT, so the coming read sees its events;
    // a commit counted from here on makes the next wait return at once.
    seen = commits_;
  }
}

}  // namespace outreach
