// An executor that owns one OS thread and runs every job on it, in post order.
// For code with thread-local state that must stay on one thread, such as
// XGBoost's communicator. Like the pool, it spins briefly before sleeping.
//
//   weft::PinnedExecutor thread("xgb-worker");
//   co_await weft::resume_on(thread);
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "weft/core/executor.hpp"
#include "weft/core/job_queue.hpp"
#include "weft/core/spinlock.hpp"

namespace weft {

class PinnedExecutor final : public Executor {
 public:
  explicit PinnedExecutor(std::string name = "weft-pinned",
                          std::function<void()> on_thread_start = {});
  // Stops after the jobs already posted have run, then joins the thread.
  ~PinnedExecutor() override;
  PinnedExecutor(const PinnedExecutor&) = delete;
  PinnedExecutor& operator=(const PinnedExecutor&) = delete;

  void post(Job job) noexcept override;
  using Executor::post;

  std::thread::id thread_id() const noexcept { return thread_.get_id(); }

 private:
  void run(const std::string& name, const std::function<void()>& on_thread_start);

  detail::SpinLock lock_;
  detail::JobQueue queue_;
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace weft
