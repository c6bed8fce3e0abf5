// LocalScheduler bodies; compiled once into libweft.
#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/node/local_scheduler.hpp"
#include "weft/remote/invoke.hpp"

namespace weft {

// One attempt at running a task.
//
// A task holds its whole demand while its body runs its first stretch. A
// coroutine body that suspends hands its cpu back then (it holds no thread
// while suspended, and its later stretches are short continuations on the
// pool), so tasks that wait on tasks they submitted can never starve the
// node; gpu, memory and custom resources stay held until it finishes.
class LocalScheduler::Attempt {
 public:
  enum Phase : int { first_stretch, suspended, finished };

  Attempt(LocalScheduler& s, detail::TaskSpecPtr task, ResourcePool::Demand own)
      : scheduler(s), spec(std::move(task)), owned_demand(std::move(own)) {}

  const ResourcePool::Demand& demand() const noexcept {
    return spec->options == &detail::default_task_options ? scheduler.default_demand_
                                                          : owned_demand;
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
  detail::TaskSpecPtr spec;
  ResourcePool::Demand owned_demand;
  std::atomic<int> phase{first_stretch};
  bool cpu_lent = false;           // written before `phase` becomes `suspended`
  std::exception_ptr early_error;  // a failure reported during the first stretch
};

LocalScheduler::LocalScheduler(Executor& executor, const Resources& capacity)
    : executor_(executor), pool_(capacity), default_demand_(pool_.demand(Resources{})) {}

void LocalScheduler::submit(detail::TaskSpecPtr spec) {
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  ResourcePool::Demand demand;
  std::string infeasible;
  if (spec->options != &detail::default_task_options) {
    std::lock_guard lock(mutex_);
    demand = pool_.demand(spec->options->resources);
    infeasible = pool_.infeasible_reason(demand);
  }
  if (!infeasible.empty()) {
    spec->result->seal_error(std::make_exception_ptr(
        InfeasibleError(fmt::format("task {} {}", spec->name, infeasible))));
    task_done();
    return;
  }
  auto* a = new Attempt(*this, std::move(spec), std::move(demand));
  if (detail::when_refs_sealed(*a->spec, &LocalScheduler::refs_sealed, a)) admit(a);
}

void LocalScheduler::refs_sealed(void* attempt) noexcept {
  auto* a = static_cast<Attempt*>(attempt);
  a->scheduler.admit(a);
}

std::deque<LocalScheduler::Attempt*>& LocalScheduler::queue_for(
    const ResourcePool::Demand& demand) {
  for (auto& [shape, queue] : queues_) {
    if (shape == demand) return queue;
  }
  return queues_.emplace_back(demand, std::deque<Attempt*>{}).second;
}

void LocalScheduler::admit(Attempt* a) noexcept {
  std::unique_lock lock(mutex_);
  auto& queue = queue_for(a->demand());
  if (queue.empty() && pool_.fits(a->demand())) {
    pool_.acquire(a->demand());
    lock.unlock();
    executor_.post(Job{&LocalScheduler::run_job, a});
    return;
  }
  queue.push_back(a);
}

void LocalScheduler::dispatch_fitting_locked() noexcept {
  for (auto& [shape, queue] : queues_) {
    while (!queue.empty() && pool_.fits(shape)) {
      Attempt* a = queue.front();
      queue.pop_front();
      pool_.acquire(shape);
      executor_.post(Job{&LocalScheduler::run_job, a});
    }
  }
}

void LocalScheduler::run_job(void* attempt) noexcept {
  auto* a = static_cast<Attempt*>(attempt);
  a->phase.store(Attempt::first_stretch, std::memory_order_relaxed);
  a->cpu_lent = false;
  a->spec->runner = a;
  a->spec->complete = &LocalScheduler::on_complete;
  a->spec->execute(a->spec.get());
  if (a->phase.load(std::memory_order_acquire) != Attempt::finished) {
    // The body suspended: lend the cpu, then let its completion finish it.
    a->scheduler.give_back(a->cpu_part(true));
    a->cpu_lent = true;
    if (a->phase.exchange(Attempt::suspended, std::memory_order_acq_rel) != Attempt::finished) {
      return;
    }
  }
  a->scheduler.finish(a, std::move(a->early_error));
}

void LocalScheduler::on_complete(detail::TaskSpec* spec, std::exception_ptr error) noexcept {
  auto* a = static_cast<Attempt*>(spec->runner);
  a->early_error = std::move(error);
  // During the first stretch run_job finishes the attempt; after it, we do.
  if (a->phase.exchange(Attempt::finished, std::memory_order_acq_rel) == Attempt::suspended) {
    a->scheduler.finish(a, std::move(a->early_error));
  }
}

void LocalScheduler::finish(Attempt* a, std::exception_ptr error) noexcept {
  give_back(a->cpu_lent ? a->cpu_part(false) : a->demand());
  detail::TaskSpec& spec = *a->spec;
  if (error && detail::is_retryable(error, spec.opts()) &&
      spec.attempt < static_cast<std::uint32_t>(spec.opts().max_retries)) {
    ++spec.attempt;
    admit(a);
    return;
  }
  if (error) spec.result->seal_error(detail::as_task_error(error, spec.name));
  delete a;
  task_done();
}

void LocalScheduler::task_done() noexcept {
  if (in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1) in_flight_.notify_all();
}

void LocalScheduler::wait_until_idle() const noexcept {
  for (auto n = in_flight_.load(std::memory_order_acquire); n != 0;
       n = in_flight_.load(std::memory_order_acquire)) {
    in_flight_.wait(n, std::memory_order_acquire);
  }
}

void LocalScheduler::give_back(const ResourcePool::Demand& d) noexcept {
  if (d.empty()) return;
  std::lock_guard lock(mutex_);
  pool_.release(d);
  dispatch_fitting_locked();
}

void LocalScheduler::reserve(const Resources& request, const std::string& who) {
  std::lock_guard lock(mutex_);
  auto d = pool_.demand(request);
  if (auto reason = pool_.infeasible_reason(d); !reason.empty()) {
    throw InfeasibleError(fmt::format("{} {}", who, reason));
  }
  if (!pool_.fits(d)) {
    throw InfeasibleError(
        fmt::format("{} needs resources that other actors or tasks hold now", who));
  }
  pool_.acquire(d);
}

void LocalScheduler::unreserve(const Resources& request) {
  std::lock_guard lock(mutex_);
  pool_.release(pool_.demand(request));
  dispatch_fitting_locked();
}

std::map<std::string, std::pair<double, double>> LocalScheduler::resources() const {
  std::lock_guard lock(mutex_);
  return pool_.snapshot();
}

}  // namespace weft
