#pragma once

#include <cstdint>
#include <limits>
#include <optional>

#include "absl/time/time.h"

// Bounds of the numbers the domain services accept and publish in events. The source services
// refuse input outside them and metrics refuses events outside them, so both sides read the
// same constants and an event can never carry a number its source would have refused.
namespace outreach::bounds {

// Workshops: venues and delivery records.
inline constexpr int kMaxPupilRoll = 10000;
inline constexpr int kMaxYearGroup = 13;
inline constexpr int kMaxPupilsPerYear = 5000;
inline constexpr int kMaxAdults = 10000;  // parents, staff, community members each
inline constexpr int kMaxHeadcountTotal = 20000;
inline constexpr int kMaxDisclosures = 1000;

// Campaigns: a campaign's reach target and each number of an engagement report.
inline constexpr int64_t kMaxReachTarget = 1000000000;
inline constexpr int64_t kMaxReportNumber = 1000000000000;

// How far ahead of the receiver's clock an event's times may be (clocks of two hosts differ).
inline constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);

// a + b, or nullopt when the sum does not fit in int64 (absl has no checked add).
inline std::optional<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

// a + b clamped to the int64 range.
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (auto sum = CheckedAdd(a, b); sum.has_value()) return *sum;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

}  // namespace outreach::bounds
