// LocalScheduler bodies; compiled once into libweft.
#include <algorithm>

#include <fmt/format.h>

#include "weft/core/blocking_pump.hpp"
#include "weft/error.hpp"
#include "weft/node/local_scheduler.hpp"
#include "weft/remote/invoke.hpp"

namespace weft::detail {

// One attempt at running a task.
//
// A task holds its whole demand while its body runs its first stretch. A
// coroutine body that suspends hands its cpu back then (it holds no thread
// while suspended, and its later stretches are short continuations on the
// pool), so tasks that wait on tasks they submitted can never starve the
// node; gpu, memory and custom resources stay held until it finishes.
class LocalScheduler::Attempt final : public SchedulerAttempt {
 public:
  enum Phase : int { first_stretch, suspended, finished };

  Attempt(LocalScheduler& s, TaskSpecPtr task, ResourcePool::Demand own)
      : scheduler(s),
        spec(std::move(task)),
        owned_demand(std::move(own)),
        bundle(BundleKey::of(spec->opts().placement)) {}

  const ResourcePool::Demand& demand() const noexcept {
    return spec->options == &default_task_options ? scheduler.default_demand_ : owned_demand;
  }
  // The part of the demand a suspended body gives back, or keeps.
  ResourcePool::Demand cpu_part(bool cpu) const {
    ResourcePool::Demand part;
    for (const auto& entry : demand()) {
      if ((entry.first == ResourcePool::cpu_index) == cpu) part.push_back(entry);
    }
    return part;
  }

  LocalScheduler& scheduler;
  TaskSpecPtr spec;
  ResourcePool::Demand owned_demand;
  const BundleKey bundle;  // where it draws its resources from
  std::atomic<int> phase{first_stretch};
  bool cpu_lent = false;           // written before `phase` becomes `suspended`
  std::exception_ptr early_error;  // a failure reported during the first stretch
};

LocalScheduler::LocalScheduler(Executor& executor, const Resources& capacity)
    : executor_(executor), pool_(capacity), default_demand_(pool_.demand(Resources{})) {}

void LocalScheduler::submit(TaskSpecPtr spec) {
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  ResourcePool::Demand demand;
  if (spec->options != &default_task_options) {
    std::lock_guard lock(mutex_);
    demand = pool_.demand(spec->options->resources);
  }
  auto* a = new Attempt(*this, std::move(spec), std::move(demand));
  if (when_refs_sealed(*a->spec, &LocalScheduler::refs_sealed, a)) admit(a);
}

void LocalScheduler::refs_sealed(void* attempt) noexcept {
  auto* a = static_cast<Attempt*>(attempt);
  a->scheduler.admit(a);
}

std::deque<LocalScheduler::Attempt*>& LocalScheduler::queue_for(
    BundleKey from, const ResourcePool::Demand& demand) {
  for (auto& q : queues_) {
    if (q.from == from && q.shape == demand) return q.waiting;
  }
  return queues_.emplace_back(Queue{from, demand, {}}).waiting;
}

void LocalScheduler::admit(Attempt* a) noexcept {
  std::unique_lock lock(mutex_);
  if (!pool_.holds(a->bundle) && a->bundle.group > last_group_) {
    // Placed in a group this node has not heard of yet (the head's view
    // reaches it after the task): wait for it.
    unheard_.emplace_back(a->bundle.group, Job{&LocalScheduler::refs_sealed, a});
    return;
  }
  if (std::string reason = pool_.infeasible_reason(a->demand(), a->bundle); !reason.empty()) {
    lock.unlock();
    fail(a, std::make_exception_ptr(
                InfeasibleError(fmt::format("task {} {}", a->spec->name, reason))));
    return;
  }
  auto& queue = queue_for(a->bundle, a->demand());
  if (queue.empty() && pool_.fits(a->demand(), a->bundle)) {
    pool_.acquire(a->demand(), a->bundle);
    lock.unlock();
    executor_.post(Job{&LocalScheduler::run_job, a});
    return;
  }
  queue.push_back(a);
}

void LocalScheduler::dispatch_fitting_locked() noexcept {
  for (auto& q : queues_) {
    while (!q.waiting.empty() && pool_.fits(q.shape, q.from)) {
      Attempt* a = q.waiting.front();
      q.waiting.pop_front();
      pool_.acquire(q.shape, q.from);
      executor_.post(Job{&LocalScheduler::run_job, a});
    }
  }
}

void LocalScheduler::run_job(void* attempt) noexcept {
  auto* a = static_cast<Attempt*>(attempt);
  a->phase.store(Attempt::first_stretch, std::memory_order_relaxed);
  a->cpu_lent = false;
  a->spec->running = a;
  a->spec->complete = &LocalScheduler::on_complete;
  a->spec->execute(a->spec.get());
  if (a->phase.load(std::memory_order_acquire) != Attempt::finished) {
    // The body suspended: lend the cpu, then let its completion finish it.
    a->scheduler.give_back(a->bundle, a->cpu_part(true));
    a->cpu_lent = true;
    if (a->phase.exchange(Attempt::suspended, std::memory_order_acq_rel) != Attempt::finished) {
      return;
    }
  }
  a->scheduler.finish(a, std::move(a->early_error));
}

void LocalScheduler::on_complete(TaskSpec* spec, std::exception_ptr error) noexcept {
  auto* a = static_cast<Attempt*>(spec->running);
  a->early_error = std::move(error);
  // During the first stretch run_job finishes the attempt; after it, we do.
  if (a->phase.exchange(Attempt::finished, std::memory_order_acq_rel) == Attempt::suspended) {
    a->scheduler.finish(a, std::move(a->early_error));
  }
}

void LocalScheduler::finish(Attempt* a, std::exception_ptr error) noexcept {
  give_back(a->bundle, a->cpu_lent ? a->cpu_part(false) : a->demand());
  TaskSpec& spec = *a->spec;
  if (error && is_retryable(error, spec.opts()) &&
      spec.attempt < static_cast<std::uint32_t>(spec.opts().max_retries)) {
    ++spec.attempt;
    admit(a);
    return;
  }
  if (error) {
    fail(a, as_task_error(error, spec.name));
    return;
  }
  delete a;
  task_done();
}

void LocalScheduler::fail(Attempt* a, std::exception_ptr error) noexcept {
  a->spec->result->seal_error(std::move(error));
  delete a;
  task_done();
}

void LocalScheduler::task_done() noexcept {
  if (in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1) in_flight_.notify_all();
}

void LocalScheduler::wait_until_idle() const noexcept {
  for (auto n = in_flight_.load(std::memory_order_acquire); n != 0;
       n = in_flight_.load(std::memory_order_acquire)) {
    wait_changed(in_flight_, n);
  }
}

void LocalScheduler::give_back(BundleKey from, const ResourcePool::Demand& d) noexcept {
  if (d.empty()) return;
  std::lock_guard lock(mutex_);
  pool_.release(d, from);
  dispatch_fitting_locked();
}

void LocalScheduler::reserve(const Resources& request, const std::string& who, BundleKey from) {
  std::lock_guard lock(mutex_);
  auto d = pool_.demand(request);
  if (auto reason = pool_.infeasible_reason(d, from); !reason.empty()) {
    throw InfeasibleError(fmt::format("{} {}", who, reason));
  }
  if (!pool_.fits(d, from)) {
    throw InfeasibleError(
        fmt::format("{} needs resources that other work holds in {} now", who, describe(from)));
  }
  pool_.acquire(d, from);
}

void LocalScheduler::unreserve(const Resources& request, BundleKey from) {
  std::lock_guard lock(mutex_);
  pool_.release(pool_.demand(request), from);
  dispatch_fitting_locked();
}

// --- placement group bundles -----------------------------------------------------

void LocalScheduler::add_group(std::uint64_t group, const std::vector<Resources>& bundles,
                               const std::string& who) {
  std::lock_guard lock(mutex_);
  std::vector<ResourcePool::Demand> demands;
  for (const auto& b : bundles) demands.push_back(pool_.demand(b));
  // All or none: each bundle must fit in what the ones before it left.
  std::uint32_t added = 0;
  std::string refusal;
  for (; added < demands.size(); ++added) {
    if (auto reason = pool_.infeasible_reason(demands[added]); !reason.empty()) {
      refusal = fmt::format("{} bundle {} {}", who, added, reason);
      break;
    }
    if (!pool_.fits(demands[added])) {
      refusal = fmt::format("{} bundle {} needs resources that other work holds on {} now", who,
                            added, describe({}));
      break;
    }
    pool_.add_bundle({group, added}, demands[added]);
  }
  if (!refusal.empty()) {
    for (std::uint32_t i = 0; i < added; ++i) pool_.remove_bundle({group, i});
    throw InfeasibleError(refusal);
  }
}

void LocalScheduler::remove_group(std::uint64_t group) {
  std::vector<Attempt*> orphans;
  {
    std::lock_guard lock(mutex_);
    for (BundleKey key : pool_.bundles()) {
      if (key.group == group) remove_bundle_locked(key, orphans);
    }
    dispatch_fitting_locked();
  }
  fail_orphans(std::move(orphans));
}

void LocalScheduler::hold_bundles(std::vector<HeldBundle> bundles, std::uint64_t last_group) {
  std::vector<Attempt*> orphans;
  {
    std::lock_guard lock(mutex_);
    // Removals first, so the resources they free are there for the additions.
    for (BundleKey key : pool_.bundles()) {
      const bool kept =
          std::any_of(bundles.begin(), bundles.end(), [&](const auto& b) { return b.key == key; });
      if (!kept) remove_bundle_locked(key, orphans);
    }
    for (const auto& b : bundles) {
      if (!pool_.holds(b.key)) pool_.add_bundle(b.key, pool_.demand(b.resources));
    }
    dispatch_fitting_locked();
    heard_through_locked(last_group);
  }
  fail_orphans(std::move(orphans));
}

void LocalScheduler::remove_bundle_locked(BundleKey key, std::vector<Attempt*>& orphans) {
  pool_.remove_bundle(key);
  std::erase_if(queues_, [&](Queue& q) {
    if (q.from != key) return false;
    orphans.insert(orphans.end(), q.waiting.begin(), q.waiting.end());
    return true;
  });
}

void LocalScheduler::fail_orphans(std::vector<Attempt*> orphans) noexcept {
  for (Attempt* a : orphans) {
    fail(a, std::make_exception_ptr(InfeasibleError(
                fmt::format("task {} was queued in {}, which was removed before it could run",
                            a->spec->name, describe(a->bundle)))));
  }
}

void LocalScheduler::heard_through_locked(std::uint64_t last_group) noexcept {
  last_group_ = last_group;
  std::erase_if(unheard_, [&](const std::pair<std::uint64_t, Job>& waiter) {
    if (waiter.first > last_group_) return false;
    executor_.post(waiter.second);
    return true;
  });
}

bool LocalScheduler::park_until_heard(std::uint64_t group, Job job) noexcept {
  std::lock_guard lock(mutex_);
  if (group <= last_group_) return false;
  unheard_.emplace_back(group, job);
  return true;
}

std::map<std::string, std::pair<double, double>> LocalScheduler::resources() const {
  std::lock_guard lock(mutex_);
  return pool_.snapshot();
}

std::vector<BundleKey> LocalScheduler::bundles() const {
  std::lock_guard lock(mutex_);
  return pool_.bundles();
}

}  // namespace weft::detail
