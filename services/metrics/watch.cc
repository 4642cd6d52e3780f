#include "services/metrics/watch.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/grpc_status.h"

namespace outreach::metrics {

// One WatchDashboard call. gRPC holds it as the reactor; the hub's registry holds it by
// shared_ptr, and so does the stream itself until OnDone, so the hub may still touch a stream
// that has just ended (its calls then do nothing). The send bookkeeping (sent_*) belongs to the
// hub thread; what gRPC's threads also touch is under mu_.
class WatchHub::Stream final : public grpc::ServerWriteReactor<v1::Dashboard> {
 public:
  Stream(WatchHub* hub, v1::WatchDashboardRequest request, std::string force)
      : hub_(hub), request_(std::move(request)), force_(std::move(force)) {}

  void Keep(std::shared_ptr<Stream> self) { self_ = std::move(self); }
  const std::string& force() const { return force_; }
  const v1::WatchDashboardRequest& request() const { return request_; }

  // Hub thread: starts a write of `d` unless one is still in flight (then the stream is marked
  // behind and revisited when it completes) or the stream has ended.
  bool TrySend(const v1::Dashboard& d, DayRange days) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return false;
      if (writing_) {
        behind_ = true;
        return false;
      }
      writing_ = true;
    }
    out_ = d;
    out_.set_name(request_.name());
    *out_.mutable_period() = request_.period();
    sent_version = d.data_version();
    sent_days = days;
    sent_at = absl::Now();
    StartWrite(&out_);
    return true;
  }

  // Ends the call once, from any thread.
  void End(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  void OnWriteDone(bool ok) override {
    bool behind = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      std::swap(behind, behind_);
    }
    if (!ok) {
      End(grpc::Status::CANCELLED);  // the client went away mid-write
      return;
    }
    if (behind) hub_->Notify(force_);
  }
  void OnCancel() override { End(grpc::Status::CANCELLED); }
  void OnDone() override {
    hub_->Remove(this);
    std::shared_ptr<Stream> last = std::move(self_);  // may destroy *this: nothing after it
  }

  // Hub thread only.
  std::optional<absl::CivilDay> resolved_for;  // the "today" `days` was resolved for
  DayRange days;
  int64_t sent_version = -1;
  std::optional<DayRange> sent_days;
  absl::Time sent_at = absl::InfinitePast();

 private:
  WatchHub* const hub_;
  const v1::WatchDashboardRequest request_;
  const std::string force_;
  std::shared_ptr<Stream> self_;
  v1::Dashboard out_;  // the message in flight; changed only while no write is
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool behind_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

WatchHub::WatchHub(WatchSource source, WatchOptions options)
    : source_(std::move(source)), options_(options), thread_([this] { Run(); }) {}

WatchHub::~WatchHub() {
  Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  {
    absl::MutexLock lock(&wake_mu_);
    stop_ = true;
  }
  thread_.join();
}

grpc::ServerWriteReactor<v1::Dashboard>* WatchHub::Open(const v1::WatchDashboardRequest& request,
                                                        const std::string& force) {
  auto stream = std::make_shared<Stream>(this, request, force);
  stream->Keep(stream);
  std::optional<grpc::Status> refusal;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      refusal = close_status_;
    } else if (count_ >= options_.max_streams) {
      refusal = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                             absl::StrCat("this server holds its maximum of ", options_.max_streams,
                                          " dashboard streams; retry with backoff"));
    } else {
      streams_[force].emplace(stream.get(), stream);
      ++count_;
    }
  }
  if (refusal.has_value()) {
    stream->End(*refusal);
  } else {
    Notify(force);  // the first message
  }
  return stream.get();
}

void WatchHub::Notify(const std::string& force) {
  absl::MutexLock lock(&wake_mu_);
  changed_.insert(force);
}

void WatchHub::Close(const grpc::Status& status) {
  std::vector<std::shared_ptr<Stream>> open;
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      closed_ = true;
      close_status_ = status;
    }
    for (const auto& [force, streams] : streams_) {
      for (const auto& [key, stream] : streams) open.push_back(stream);
    }
  }
  for (const auto& stream : open) stream->End(status);
}

size_t WatchHub::open_streams() {
  absl::MutexLock lock(&mu_);
  return count_;
}

void WatchHub::Remove(Stream* stream) {
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(stream->force());
  if (it == streams_.end()) return;
  if (it->second.erase(stream) > 0) --count_;
  if (it->second.empty()) streams_.erase(it);
}

void WatchHub::Run() {
  absl::Time next_poll = absl::Now() + options_.poll;
  absl::Time held = absl::InfiniteFuture();  // a stream held back by min_gap is due then
  for (;;) {
    std::vector<std::string> forces;
    {
      absl::MutexLock lock(&wake_mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(wake_mu_) {
        return stop_ || !changed_.empty();
      };
      wake_mu_.AwaitWithDeadline(absl::Condition(&woken), std::min(next_poll, held));
      if (stop_) return;
      forces.assign(changed_.begin(), changed_.end());
      changed_.clear();
    }
    const absl::Time now = absl::Now();
    if (now >= next_poll || now >= held) {
      forces.clear();  // every force
      next_poll = now + options_.poll;
    }
    held = Pass(forces);
  }
}

absl::Time WatchHub::Pass(const std::vector<std::string>& forces) {
  std::vector<std::pair<std::string, std::vector<std::shared_ptr<Stream>>>> work;
  {
    absl::MutexLock lock(&mu_);
    auto add = [&work](const std::string& force, const auto& streams) {
      auto& list = work.emplace_back(force, std::vector<std::shared_ptr<Stream>>{}).second;
      list.reserve(streams.size());
      for (const auto& [key, stream] : streams) list.push_back(stream);
    };
    if (forces.empty()) {
      for (const auto& [force, streams] : streams_) add(force, streams);
    } else {
      for (const auto& force : forces) {
        auto it = streams_.find(force);
        if (it != streams_.end()) add(force, it->second);
      }
    }
  }
  absl::Time held = absl::InfiniteFuture();
  const absl::Time now = absl::Now();
  const absl::CivilDay today = LocalDay(source_.clock->Now());
  for (const auto& [force, streams] : work) {
    absl::StatusOr<int64_t> version = source_.data_version(force);
    if (!version.ok()) continue;  // the store is busy: the next poll tries again
    // Each distinct (days, area) is computed once per pass, however many streams watch it.
    absl::flat_hash_map<std::string, std::optional<v1::Dashboard>> computed;
    for (const auto& stream : streams) {
      // A period's days depend only on "today": resolved again when the day moves on, not on
      // every pass over every stream.
      if (stream->resolved_for != today) {
        absl::StatusOr<DayRange> days = ResolvePeriod("period", stream->request().period(), today);
        if (!days.ok()) {
          stream->End(ToGrpcStatus(days.status(), kErrorDomain));
          continue;
        }
        stream->resolved_for = today;
        stream->days = *days;
      }
      const DayRange& days = stream->days;
      if (stream->sent_version == *version && stream->sent_days == days) continue;
      const absl::Time due = stream->sent_at + options_.min_gap;
      if (now < due) {
        held = std::min(held, due);
        continue;
      }
      const std::string key = absl::StrCat(FormatDay(days.start), "|", FormatDay(days.end), "|",
                                           stream->request().area());
      auto [it, inserted] = computed.try_emplace(key);
      if (inserted) {
        absl::StatusOr<v1::Dashboard> d = source_.dashboard(force, days, stream->request().area());
        if (d.ok()) it->second = std::move(*d);
      }
      if (!it->second.has_value()) continue;  // not computed now: the next poll tries again
      if (stream->TrySend(*it->second, days)) messages_sent_.fetch_add(1);
    }
  }
  return held;
}

}  // namespace outreach::metrics
