#pragma once

#include <cstdio>
#include <cstdlib>

// An invariant of a fuzz target: when it fails, print where and abort, so libFuzzer records the
// input as a crash (assert() would vanish in a release build).
#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (false)
