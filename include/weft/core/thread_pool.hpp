// A work-stealing pool of executor threads.
//
//   weft::ThreadPool pool({.threads = 4});
//   pool.post(job);                      // from any thread
//
// Each worker owns a FIFO queue and a one-job LIFO slot. A job posted from a
// worker goes to that worker's LIFO slot, so a coroutine resumed by the job
// that just finished runs next on the same core, warm in cache and without a
// cross-core wake-up. Idle workers steal from the others' queues, spin briefly
// (a wake-up from sleep costs tens of microseconds on small VMs) and then
// sleep on a futex. Jobs from other threads enter a shared injection queue.
// The destructor drains nothing: it stops and joins the workers, so post no
// more work once destruction begins.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/executor.hpp"
#include "weft/core/job_queue.hpp"
#include "weft/core/spinlock.hpp"

namespace weft {

// The CPUs this process may run on (its affinity mask, as set by taskset or
// a container), which std::thread::hardware_concurrency() ignores; at least 1.
unsigned available_cpus() noexcept;

struct ThreadPoolOptions {
  // Number of worker threads; 0 means available_cpus().
  unsigned threads = 0;
  // How long an idle worker polls for work, yielding the core to any other
  // runnable thread, before it sleeps. Longer than a remote round trip, so a
  // worker waiting on one is still awake when the answer comes.
  std::chrono::microseconds spin_before_sleep{200};
  // Runs first on every worker thread (e.g. to set the node's thread-locals).
  std::function<void(unsigned worker_index)> on_thread_start;
  // Thread name prefix shown by debuggers and `top -H` (at most 12 chars).
  std::string name = "weft-exec";
};

class ThreadPool final : public Executor {
 public:
  explicit ThreadPool(ThreadPoolOptions options = {});
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void post(Job job) noexcept override;
  using Executor::post;

  unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }
  // True when called on one of this pool's worker threads.
  bool on_worker_thread() const noexcept;

 private:
  struct alignas(cache_line_size) Worker {
    detail::SpinLock lock;
    detail::JobQueue queue;
    Job lifo;  // touched only by the owning thread
    unsigned lifo_streak = 0;
    std::thread thread;
  };

  void run_worker(unsigned index);
  Job find_work(unsigned index) noexcept;
  Job steal(unsigned thief) noexcept;
  void push_shared(Job job) noexcept;
  void wake_one_if_sleeping() noexcept;

  ThreadPoolOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  alignas(cache_line_size) detail::SpinLock shared_lock_;
  detail::JobQueue shared_queue_;
  alignas(cache_line_size) std::atomic<int> sleepers_{0};
  std::atomic<std::uint32_t> wake_epoch_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace weft
