// A deterministic, single-threaded executor that a test steps by hand.
//
//   weft::ManualExecutor ex;
//   weft::spawn_detached(ex, work());
//   while (ex.run_one()) { /* assert on intermediate state */ }
//
// Jobs run only inside run_one/run_until_idle, on the calling thread, in
// post order, so a test sees exactly the same interleaving on every run.
// post() may be called from any thread.
#pragma once

#include <cstddef>

#include "weft/core/executor.hpp"
#include "weft/core/job_queue.hpp"
#include "weft/core/spinlock.hpp"

namespace weft {

class ManualExecutor final : public Executor {
 public:
  void post(Job job) noexcept override {
    lock_.lock();
    queue_.push_back(job);
    lock_.unlock();
  }
  using Executor::post;

  // Runs the oldest pending job, if any. Returns whether one ran.
  bool run_one() noexcept {
    lock_.lock();
    Job j = queue_.pop_front();
    lock_.unlock();
    if (!j) return false;
    detail::CurrentExecutorScope scope(this);
    j();
    return true;
  }

  // Runs jobs until none are pending; returns how many ran.
  std::size_t run_until_idle() noexcept {
    std::size_t n = 0;
    while (run_one()) ++n;
    return n;
  }

  std::size_t pending() noexcept {
    lock_.lock();
    std::size_t n = queue_.size();
    lock_.unlock();
    return n;
  }

 private:
  detail::SpinLock lock_;
  detail::JobQueue queue_;
};

}  // namespace weft
