#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace outreach {

// A fixed set of threads for the work a callback-API handler must not do on gRPC's own threads
// (reading or writing the store: SQLite or PostgreSQL calls block). The queue is bounded, so a
// burst beyond it is refused at once (the caller answers RESOURCE_EXHAUSTED) instead of growing
// without limit. The destructor runs every job already queued, then joins: a job usually
// finishes a gRPC call, and a call that is never finished would hold the server's shutdown.
class WorkPool {
 public:
  WorkPool(std::string name, int threads, size_t max_queued);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `job`; false (and `job` not run) when max_queued jobs are already waiting.
  bool TrySubmit(absl::AnyInvocable<void() &&> job);

  const std::string& name() const { return name_; }
  int threads() const { return static_cast<int>(workers_.size()); }

 private:
  void Work();

  const std::string name_;
  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace outreach
