#include "common/work_pool.h"

#include <utility>

namespace outreach {

WorkPool::WorkPool(std::string name, int threads, size_t max_queued)
    : name_(std::move(name)), max_queued_(max_queued) {
  workers_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

WorkPool::~WorkPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& worker : workers_) worker.join();
}

bool WorkPool::TrySubmit(absl::AnyInvocable<void() &&> job) {
  absl::MutexLock lock(&mu_);
  if (jobs_.size() >= max_queued_) return false;
  jobs_.push_back(std::move(job));
  return true;
}

void WorkPool::Work() {
  for (;;) {
    absl::AnyInvocable<void() &&> job;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !jobs_.empty(); };
      mu_.Await(absl::Condition(&ready));
      // Stopping with jobs left: run them first (each may be the only Finish of a call).
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::move(job)();
  }
}

}  // namespace outreach
