#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/work_pool.h"
#include "gtest/gtest.h"

namespace outreach {
namespace {

TEST(WorkPoolTest, RunsEveryJobOnItsThreads) {
  std::atomic<int> ran{0};
  {
    WorkPool pool("test", 2, 1000);
    EXPECT_EQ(pool.threads(), 2);
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(pool.TrySubmit([&ran] { ran.fetch_add(1); }));
    }
  }
  EXPECT_EQ(ran.load(), 500);
}

TEST(WorkPoolTest, RefusesBeyondTheQueueBoundAndRunsWhatItQueuedWhenDestroyed) {
  absl::Notification release;
  absl::Notification started;
  std::atomic<int> ran{0};
  auto pool = std::make_unique<WorkPool>("test", 1, 3);
  // The one thread is held by the first job, so the next three wait in the queue.
  ASSERT_TRUE(pool->TrySubmit([&] {
    started.Notify();
    release.WaitForNotification();
    ran.fetch_add(1);
  }));
  started.WaitForNotification();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool->TrySubmit([&ran] { ran.fetch_add(1); }));
  }
  bool fourth_ran = false;
  EXPECT_FALSE(pool->TrySubmit([&fourth_ran] { fourth_ran = true; }));
  release.Notify();
  pool.reset();  // joins after the queued jobs: each may be the only Finish of a call
  EXPECT_EQ(ran.load(), 4);
  EXPECT_FALSE(fourth_ran);
}

TEST(WorkPoolTest, AJobMayOwnWhatItCaptures) {
  std::atomic<int> seen{0};
  {
    WorkPool pool("test", 1, 10);
    auto value = std::make_unique<int>(7);
    ASSERT_TRUE(pool.TrySubmit([v = std::move(value), &seen] { seen = *v; }));
  }
  EXPECT_EQ(seen.load(), 7);
}

}  // namespace
}  // namespace outreach
