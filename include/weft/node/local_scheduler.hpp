// LocalScheduler: runs a node's tasks on its executors, within its resources.
//
// A task waits until its ref arguments are sealed, then queues (FIFO among
// tasks with the same demand) until its resources fit, then runs on the
// executor pool. A coroutine task hands
// its cpu back at its first suspension (it holds no thread while suspended),
// so tasks that wait on tasks cannot starve the node; its other resources
// stay held until it finishes. Failures derived from RetryableError are
// retried up to max_retries; the rest seal the result with a TaskError.
// Thread-safe.
#pragma once

#include <atomic>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "weft/core/executor.hpp"
#include "weft/node/resource_pool.hpp"
#include "weft/remote/task_spec.hpp"

namespace weft {

class LocalScheduler {
 public:
  LocalScheduler(Executor& executor, const Resources& capacity);
  LocalScheduler(const LocalScheduler&) = delete;
  LocalScheduler& operator=(const LocalScheduler&) = delete;

  void submit(detail::TaskSpecPtr spec);

  // Takes resources for an actor for its whole life; throws InfeasibleError
  // if they are not free now.
  void reserve(const Resources& request, const std::string& who);
  void unreserve(const Resources& request);

  // Tasks submitted and not yet finished (queued, waiting or running).
  std::size_t tasks_in_flight() const noexcept {
    return in_flight_.load(std::memory_order_acquire);
  }
  // Blocks until tasks_in_flight() is zero.
  void wait_until_idle() const noexcept;

  std::map<std::string, std::pair<double, double>> resources() const;

 private:
  class Attempt;
  static void refs_sealed(void* attempt) noexcept;
  static void run_job(void* attempt) noexcept;
  static void on_complete(detail::TaskSpec* spec, std::exception_ptr error) noexcept;

  void admit(Attempt* a) noexcept;
  std::deque<Attempt*>& queue_for(const ResourcePool::Demand& demand);
  void finish(Attempt* a, std::exception_ptr error) noexcept;
  void give_back(const ResourcePool::Demand& d) noexcept;
  void dispatch_fitting_locked() noexcept;
  void task_done() noexcept;

  Executor& executor_;
  mutable std::mutex mutex_;
  ResourcePool pool_;
  ResourcePool::Demand default_demand_;
  // Admitted tasks waiting for resources: FIFO per demand shape, so a task
  // waiting for a busy resource never holds up tasks that need other ones.
  std::vector<std::pair<ResourcePool::Demand, std::deque<Attempt*>>> queues_;
  std::atomic<std::size_t> in_flight_{0};
};

}  // namespace weft
