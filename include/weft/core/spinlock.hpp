// A test-and-test-and-set spinlock for critical sections of a few instructions
// (queue pushes and pops), where a futex-based mutex would cost more than the
// work it protects.
#pragma once

#include <atomic>

#include "weft/core/blocking_event.hpp"

namespace weft::detail {

class SpinLock {
 public:
  void lock() noexcept {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) cpu_relax();
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace weft::detail
