// detail::LocalScheduler: runs a node's tasks on its executors, within its resources.
//
// A task waits until its ref arguments are sealed, then queues (FIFO among
// tasks with the same demand) until its resources fit, then runs on the
// executor pool. A coroutine task hands
// its cpu back at its first suspension (it holds no thread while suspended),
// so tasks that wait on tasks cannot starve the node; its other resources
// stay held until it finishes. Failures derived from RetryableError are
// retried up to max_retries; the rest seal the result with a TaskError.
//
// Placement group bundles held by this node are carved out of its resources
// (resource_pool.hpp): a task or actor placed in a bundle draws from that
// bundle only, and queues there while the bundle is busy; everything else
// draws from what the bundles leave. A task placed in a bundle this node has
// not heard of yet waits for it. Removing a bundle fails the tasks queued in
// it; work already running there finishes, and its resources go back to the
// node as it ends.
// Thread-safe.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
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

namespace weft::detail {

class LocalScheduler {
 public:
  LocalScheduler(Executor& executor, const Resources& capacity);
  LocalScheduler(const LocalScheduler&) = delete;
  LocalScheduler& operator=(const LocalScheduler&) = delete;

  void submit(TaskSpecPtr spec);

  // Takes resources for an actor for its whole life, from bundle `from` or
  // outside bundles; throws InfeasibleError if they are not free now.
  void reserve(const Resources& request, const std::string& who, BundleKey from = {});
  void unreserve(const Resources& request, BundleKey from = {});

  // --- placement group bundles ---------------------------------------------

  // One bundle this node holds.
  struct HeldBundle {
    BundleKey key;
    Resources resources;
  };

  // A node that runs alone: carves the bundles of group `group` (bundle i is
  // bundles[i]) out of the resources free now, all or none. Throws
  // InfeasibleError, naming `who` and the bundle, if they do not fit.
  void add_group(std::uint64_t group, const std::vector<Resources>& bundles,
                 const std::string& who);
  // Removes every bundle of `group` this node holds (see the top of the file).
  void remove_group(std::uint64_t group);
  // A cluster node: makes `bundles` exactly the bundles this node holds, as
  // the head placed them, adding and removing the difference. Groups with
  // ids up to `last_group` exist or existed: work placed in one that has no
  // bundle here fails, and only work placed in later groups waits for them.
  // (A node that runs alone never calls this and hears of every group as it
  // creates it.) The head placed each bundle where this node reported room,
  // so it is carved out even if work outside bundles still holds part of it.
  void hold_bundles(std::vector<HeldBundle> bundles, std::uint64_t last_group);

  // `co_await until_heard_of(group)` resumes, on the executor, once this node
  // has heard of placement group `group` (at once if it has, or if group is 0).
  class HeardOf {
   public:
    HeardOf(LocalScheduler& s, std::uint64_t group) noexcept : scheduler_(s), group_(group) {}
    bool await_ready() const noexcept { return group_ == 0; }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      return scheduler_.park_until_heard(group_, Job::resume(h));
    }
    void await_resume() const noexcept {}

   private:
    LocalScheduler& scheduler_;
    std::uint64_t group_;
  };
  HeardOf until_heard_of(std::uint64_t group) noexcept { return HeardOf(*this, group); }

  // Tasks submitted and not yet finished (queued, waiting or running).
  std::size_t tasks_in_flight() const noexcept {
    return in_flight_.load(std::memory_order_acquire);
  }
  // Blocks until tasks_in_flight() is zero.
  void wait_until_idle() const noexcept;

  // name -> (available, total) outside bundles; see ResourcePool::snapshot.
  std::map<std::string, std::pair<double, double>> resources() const;
  // The bundles this node holds, in key order.
  std::vector<BundleKey> bundles() const;

 private:
  class Attempt;
  static void refs_sealed(void* attempt) noexcept;
  static void run_job(void* attempt) noexcept;
  static void on_complete(TaskSpec* spec, std::exception_ptr error) noexcept;

  struct Queue {
    BundleKey from;
    ResourcePool::Demand shape;
    std::deque<Attempt*> waiting;
  };

  void admit(Attempt* a) noexcept;
  std::deque<Attempt*>& queue_for(BundleKey from, const ResourcePool::Demand& demand);
  void finish(Attempt* a, std::exception_ptr error) noexcept;
  // Seals `error` as the task's result and forgets the attempt.
  void fail(Attempt* a, std::exception_ptr error) noexcept;
  void give_back(BundleKey from, const ResourcePool::Demand& d) noexcept;
  void dispatch_fitting_locked() noexcept;
  void task_done() noexcept;
  // Removes bundle `key`; its queued attempts move to `orphans`.
  void remove_bundle_locked(BundleKey key, std::vector<Attempt*>& orphans);
  void fail_orphans(std::vector<Attempt*> orphans) noexcept;
  // Sets last_group_ and posts the waiters it releases.
  void heard_through_locked(std::uint64_t last_group) noexcept;
  // False if `group` is heard of already; else keeps `job` until it is.
  bool park_until_heard(std::uint64_t group, Job job) noexcept;

  Executor& executor_;
  mutable std::mutex mutex_;
  ResourcePool pool_;
  ResourcePool::Demand default_demand_;
  // Admitted tasks waiting for resources: FIFO per bundle and demand shape,
  // so a task waiting for a busy resource never holds up tasks that need
  // other ones.
  std::vector<Queue> queues_;
  // Groups with ids up to this exist or existed (every one for a node that
  // runs alone, until hold_bundles says otherwise); jobs waiting for later ones.
  std::uint64_t last_group_ = UINT64_MAX;
  std::vector<std::pair<std::uint64_t, Job>> unheard_;
  std::atomic<std::size_t> in_flight_{0};
};

}  // namespace weft::detail
