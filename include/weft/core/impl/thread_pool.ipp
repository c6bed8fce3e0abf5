// ThreadPool bodies; compiled once into libweft.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "weft/core/thread_pool.hpp"

namespace weft {

namespace {
// The pool and worker index of the calling thread, if it is a pool worker.
thread_local const ThreadPool* tls_pool = nullptr;
thread_local unsigned tls_worker_index = 0;

// LIFO-slot hand-offs in a row before a worker serves its FIFO queue, so two
// coroutines that keep waking each other cannot starve queued jobs.
constexpr unsigned max_lifo_streak = 32;
}  // namespace

unsigned available_cpus() noexcept {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool::ThreadPool(ThreadPoolOptions options) : options_(std::move(options)) {
  const unsigned n = options_.threads != 0 ? options_.threads : available_cpus();
  workers_.reserve(n);
  for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
  for (unsigned i = 0; i < n; ++i) {
    workers_[i]->thread = std::thread([this, i] { run_worker(i); });
  }
}

ThreadPool::~ThreadPool() {
  stopping_.store(true, std::memory_order_seq_cst);
  wake_epoch_.fetch_add(1, std::memory_order_seq_cst);
  wake_epoch_.notify_all();
  for (auto& w : workers_) w->thread.join();
}

bool ThreadPool::on_worker_thread() const noexcept { return tls_pool == this; }

void ThreadPool::post(Job job) noexcept {
  if (tls_pool == this) {
    Worker& w = *workers_[tls_worker_index];
    if (w.lifo) {
      // The newest job takes the slot; the previous one becomes stealable.
      w.lock.lock();
      w.queue.push_back(w.lifo);
      w.lock.unlock();
      w.lifo = job;
      wake_one_if_sleeping();
    } else {
      w.lifo = job;
    }
    return;
  }
  push_shared(job);
}

void ThreadPool::push_shared(Job job) noexcept {
  shared_lock_.lock();
  shared_queue_.push_back(job);
  shared_lock_.unlock();
  wake_one_if_sleeping();
}

void ThreadPool::wake_one_if_sleeping() noexcept {
  // Pairs with the fence in run_worker: either the sleeper sees the new job
  // when it re-checks, or we see it counted as a sleeper and wake it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_relaxed) > 0) {
    wake_epoch_.fetch_add(1, std::memory_order_release);
    wake_epoch_.notify_one();
  }
}

Job ThreadPool::find_work(unsigned index) noexcept {
  Worker& w = *workers_[index];
  if (w.lifo && w.lifo_streak < max_lifo_streak) {
    ++w.lifo_streak;
    return std::exchange(w.lifo, Job{});
  }
  w.lifo_streak = 0;
  w.lock.lock();
  Job j = w.queue.pop_front();
  w.lock.unlock();
  if (j) return j;
  if (w.lifo) return std::exchange(w.lifo, Job{});
  shared_lock_.lock();
  j = shared_queue_.pop_front();
  shared_lock_.unlock();
  if (j) return j;
  return steal(index);
}

Job ThreadPool::steal(unsigned thief) noexcept {
  const auto n = static_cast<unsigned>(workers_.size());
  for (unsigned k = 1; k < n; ++k) {
    Worker& victim = *workers_[(thief + k) % n];
    if (!victim.lock.try_lock()) continue;
    Job j = victim.queue.pop_back();
    victim.lock.unlock();
    if (j) return j;
  }
  return {};
}

void ThreadPool::run_worker(unsigned index) {
  tls_pool = this;
  tls_worker_index = index;
  detail::CurrentExecutorScope scope(this);
  {
    std::string name = options_.name.substr(0, 12) + "-" + std::to_string(index);
    pthread_setname_np(pthread_self(), name.c_str());
  }
  if (options_.on_thread_start) options_.on_thread_start(index);

  while (!stopping_.load(std::memory_order_relaxed)) {
    if (Job j = find_work(index)) {
      j();
      continue;
    }
    // Idle: poll a little before paying for a sleep and a later wake-up.
    const auto spin_until = std::chrono::steady_clock::now() + options_.spin_before_sleep;
    Job found;
    while (!found && std::chrono::steady_clock::now() < spin_until &&
           !stopping_.load(std::memory_order_relaxed)) {
      std::this_thread::yield();
      found = find_work(index);
    }
    if (found) {
      found();
      continue;
    }
    const auto epoch = wake_epoch_.load(std::memory_order_acquire);
    sleepers_.fetch_add(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    found = find_work(index);
    if (!found && !stopping_.load(std::memory_order_relaxed)) {
      wake_epoch_.wait(epoch, std::memory_order_acquire);
    }
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    if (found) found();
  }
}

}  // namespace weft
