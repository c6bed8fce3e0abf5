// How both benchmark programs time a metric. A body does some operations and
// returns how many; after a warm-up, the rate is operations per second over a
// slice, best of `reps` slices.
#pragma once

#include <weft/weft.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace weft_bench {

using Clock = std::chrono::steady_clock;

struct Timing {
  double warmup_s = 0.25;  // at least one body call either way
  double slice_s = 0.3;
  int reps = 5;
};
// The program's timing; --quick shrinks it.
inline Timing timing;

// Keeps `value` (and whatever wrote it) from being optimised away.
template <typename T>
void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Operations per second of `op` over one slice (no warm-up).
template <typename Op>
double slice_rate(Op op) {
  std::uint64_t ops = 0;
  const auto t0 = Clock::now();
  auto t = t0;
  do {
    ops += op();
    t = Clock::now();
  } while (seconds_between(t0, t) < timing.slice_s);
  return static_cast<double>(ops) / seconds_between(t0, t);
}

template <typename Body>
double rate_on_thread(Body body) {
  const auto warm_end = Clock::now() + std::chrono::duration<double>(timing.warmup_s);
  do {
    keep(body());
  } while (Clock::now() < warm_end);
  double best = 0;
  for (int r = 0; r < timing.reps; ++r) best = std::max(best, slice_rate(body));
  return best;
}

// A body that never suspends completes inside the co_await that started it;
// without tail calls (-O0, sanitizers) each such body then nests a few stack
// frames, so every body call is followed by a hop through the executor.
template <typename Body>
weft::Task<double> rate_in_coroutine(Body body) {
  weft::Executor& executor = *weft::current_executor();
  const auto warm_end = Clock::now() + std::chrono::duration<double>(timing.warmup_s);
  do {
    keep(co_await body());
    co_await weft::resume_on(executor);
  } while (Clock::now() < warm_end);
  double best = 0;
  for (int r = 0; r < timing.reps; ++r) {
    std::uint64_t ops = 0;
    const auto t0 = Clock::now();
    auto t = t0;
    do {
      ops += co_await body();
      co_await weft::resume_on(executor);
      t = Clock::now();
    } while (seconds_between(t0, t) < timing.slice_s);
    best = std::max(best, static_cast<double>(ops) / seconds_between(t0, t));
  }
  co_return best;
}

}  // namespace weft_bench
