// LocalScheduler bodies; compiled once into libweft.
#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/node/local_scheduler.hpp"
#include "weft/remote/invoke.hpp"

namespace weft {

// One attempt at running a task; the TaskContext that lends its resources
// out while its body waits on an object.
class LocalScheduler::Attempt final : public detail::TaskContext {
 public:
  Attempt(LocalScheduler& s, detail::TaskSpecPtr task, ResourcePool::Demand own)
      : scheduler(s), spec(std::move(task)), owned_demand(std::move(own)) {}

  const ResourcePool::Demand& demand() const noexcept {
    return spec->options == &detail::default_task_options ? scheduler.default_demand_
                                                          : owned_demand;
  }
  void on_block() noexcept override {
    if (holds.exchange(false, std::memory_order_acq_rel)) scheduler.give_back(demand());
  }
  void on_unblock() noexcept override {
    if (!holds.exchange(true, std::memory_order_acq_rel)) scheduler.take_forced(demand());
  }

  LocalScheduler& scheduler;
  detail::TaskSpecPtr spec;
  ResourcePool::Demand owned_demand;
  std::atomic<bool> holds{false};
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

void LocalScheduler::admit(Attempt* a) noexcept {
  std::unique_lock lock(mutex_);
  if (queue_.empty() && pool_.fits(a->demand())) {
    pool_.acquire(a->demand());
    a->holds.store(true, std::memory_order_relaxed);
    lock.unlock();
    executor_.post(Job{&LocalScheduler::run_job, a});
    return;
  }
  queue_.push_back(a);
}

void LocalScheduler::dispatch_fitting_locked() noexcept {
  while (!queue_.empty() && pool_.fits(queue_.front()->demand())) {
    Attempt* a = queue_.front();
    queue_.pop_front();
    pool_.acquire(a->demand());
    a->holds.store(true, std::memory_order_relaxed);
    executor_.post(Job{&LocalScheduler::run_job, a});
  }
}

void LocalScheduler::run_job(void* attempt) noexcept {
  auto* a = static_cast<Attempt*>(attempt);
  detail::tls_task_context = a;
  a->spec->runner = a;
  a->spec->complete = &LocalScheduler::on_complete;
  a->spec->execute(a->spec.get());
}

void LocalScheduler::on_complete(detail::TaskSpec* spec, std::exception_ptr error) noexcept {
  auto* a = static_cast<Attempt*>(spec->runner);
  a->scheduler.finish(a, std::move(error));
}

void LocalScheduler::finish(Attempt* a, std::exception_ptr error) noexcept {
  if (detail::tls_task_context == a) detail::tls_task_context = nullptr;
  if (a->holds.exchange(false, std::memory_order_acq_rel)) give_back(a->demand());
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

void LocalScheduler::take_forced(const ResourcePool::Demand& d) noexcept {
  if (d.empty()) return;
  std::lock_guard lock(mutex_);
  pool_.acquire(d);
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
