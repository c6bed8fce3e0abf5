// weft::Clock: the steady clock every timeout, timer and heartbeat in weft
// reads. It is std::chrono::steady_clock (same epoch, same time_point type),
// except on a simulated cluster (src/sim/world.hpp), whose world installs
// its own time so that timers jump instead of waiting.
//
//   const auto deadline = weft::Clock::now() + 5s;
#pragma once

#include <atomic>
#include <chrono>

namespace weft {

namespace detail {
// A source of simulated time (the simulator's world).
class SimulatedTime {
 public:
  virtual std::chrono::steady_clock::time_point now() const noexcept = 0;

 protected:
  ~SimulatedTime() = default;
};

inline std::atomic<const SimulatedTime*> simulated_time{nullptr};

// Installs `source` for the whole process (nullptr: real time again).
inline void install_simulated_time(const SimulatedTime* source) noexcept {
  simulated_time.store(source, std::memory_order_release);
}
}  // namespace detail

struct Clock {
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr bool is_steady = true;

  static time_point now() noexcept {
    if (const auto* source = detail::simulated_time.load(std::memory_order_acquire)) {
      return source->now();
    }
    return std::chrono::steady_clock::now();
  }
};

}  // namespace weft
