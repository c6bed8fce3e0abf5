// A serial executor: a mailbox whose jobs run one at a time, in post order,
// on whichever thread of an underlying executor is free (the way CAF
// schedules actors). Nothing in it ever runs concurrently with itself, so
// state touched only from its jobs needs no lock.
//
//   weft::SerialExecutor strand(pool);
//   strand.post(job);   // from any thread
//
// A drain runs at most `batch` jobs before yielding the thread back to the
// underlying executor, so one busy mailbox cannot monopolise a worker.
#pragma once

#include <atomic>

#include "weft/core/executor.hpp"
#include "weft/core/job_queue.hpp"
#include "weft/core/spinlock.hpp"

namespace weft {

class SerialExecutor final : public Executor {
 public:
  explicit SerialExecutor(Executor& underlying, unsigned batch = 64) noexcept
      : underlying_(underlying), batch_(batch) {}
  ~SerialExecutor() override = default;
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  void post(Job job) noexcept override;
  using Executor::post;

  Executor& underlying() const noexcept { return underlying_; }

  // True when no job is queued or running. Safe to destroy only when idle
  // and nothing can post to it any more.
  bool idle() noexcept {
    lock_.lock();
    const bool result = !scheduled_;
    lock_.unlock();
    return result;
  }

 private:
  static void drain_job(void* self) noexcept;
  void drain() noexcept;

  Executor& underlying_;
  const unsigned batch_;
  detail::SpinLock lock_;
  detail::JobQueue queue_;
  bool scheduled_ = false;  // a drain is queued or running; guarded by lock_
};

}  // namespace weft
