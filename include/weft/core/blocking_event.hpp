// A one-shot event that a plain thread can block on: spins briefly (a hand-off
// between busy cores costs ~0.1 us, a futex wake-up ~30 us on small VMs), then
// sleeps on a futex via std::atomic::wait. On the simulator's thread it runs
// the simulation instead (blocking_pump.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "weft/core/blocking_pump.hpp"

namespace weft::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class BlockingEvent {
 public:
  void set() noexcept {
    state_.store(1, std::memory_order_release);
    state_.notify_all();
  }
  bool is_set() const noexcept { return state_.load(std::memory_order_acquire) != 0; }

  void wait() {
    if (BlockingPump* pump = tls_blocking_pump) {
      pump->run_until([this] { return is_set(); }, std::nullopt);
      return;
    }
    for (int i = 0; i < 4096; ++i) {
      if (is_set()) return;
      cpu_relax();
    }
    while (!is_set()) state_.wait(0, std::memory_order_acquire);
  }

  // Returns false if `deadline` passed first.
  template <typename Clock, typename Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> deadline) {
    if (BlockingPump* pump = tls_blocking_pump) {
      const auto left = std::chrono::duration_cast<weft::Clock::duration>(deadline - Clock::now());
      return pump->run_until([this] { return is_set(); }, weft::Clock::now() + left);
    }
    for (int i = 0; i < 4096; ++i) {
      if (is_set()) return true;
      cpu_relax();
    }
    // std::atomic has no timed wait; back off with short sleeps instead.
    auto pause = std::chrono::microseconds(50);
    while (!is_set()) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(pause);
      if (pause < std::chrono::milliseconds(2)) pause *= 2;
    }
    return true;
  }

 private:
  std::atomic<unsigned> state_{0};
};

}  // namespace weft::detail
