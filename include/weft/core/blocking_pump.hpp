// The simulator's stand-in for blocking (src/sim/world.hpp).
//
// A simulated cluster runs every node on one thread, so nothing on that
// thread may really block: it would wait for work only this thread can do.
// The simulator installs a BlockingPump for its thread, and every blocking
// wait in weft (BlockingEvent, so sync_wait and Node::run; a node's
// destructor waiting for its tasks and actors; a cluster waiting to join)
// runs the simulation instead, until its condition holds or, for a timed
// wait, simulated time reaches the deadline. Other threads never have one.
#pragma once

#include <atomic>
#include <functional>
#include <optional>

#include "weft/core/clock.hpp"

namespace weft::detail {

class BlockingPump {
 public:
  // Runs the simulation until done() holds (true) or Clock::now() reaches
  // `deadline` (false). Throws if the simulation can make no more progress
  // while done() is false: that wait would hang forever.
  virtual bool run_until(const std::function<bool()>& done,
                         std::optional<Clock::time_point> deadline) = 0;

 protected:
  ~BlockingPump() = default;
};

inline thread_local BlockingPump* tls_blocking_pump = nullptr;

// Blocks until `value` no longer holds `old` (std::atomic::wait), or pumps.
template <typename T>
void wait_changed(const std::atomic<T>& value, T old) {
  if (BlockingPump* pump = tls_blocking_pump) {
    pump->run_until([&] { return value.load(std::memory_order_acquire) != old; }, std::nullopt);
    return;
  }
  value.wait(old, std::memory_order_acquire);
}

}  // namespace weft::detail
