#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace outreach::testing {

// Polls `done` until it holds or `bound` has passed, and returns its last value. For state a
// test can only observe from outside (a health check, another process, a port): the bound only
// keeps a broken system from hanging the test — callers assert the result, never the time it
// took. Where the code under test can notify, wait on the notification instead.
template <typename Predicate>
bool WaitFor(Predicate done, absl::Duration bound = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + bound;
  while (!done()) {
    if (absl::Now() >= deadline) return done();
    absl::SleepFor(absl::Milliseconds(20));  // the poll interval, not a wait for an effect
  }
  return true;
}

}  // namespace outreach::testing
