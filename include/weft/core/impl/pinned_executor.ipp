// PinnedExecutor bodies; compiled once into libweft.
#include <pthread.h>

#include <chrono>

#include "weft/core/pinned_executor.hpp"

namespace weft {

PinnedExecutor::PinnedExecutor(std::string name, std::function<void()> on_thread_start)
    : thread_([this, name = std::move(name), start = std::move(on_thread_start)] {
        run(name, start);
      }) {}

PinnedExecutor::~PinnedExecutor() {
  stopping_.store(true, std::memory_order_seq_cst);
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  epoch_.notify_one();
  thread_.join();
}

void PinnedExecutor::post(Job job) noexcept {
  lock_.lock();
  queue_.push_back(job);
  lock_.unlock();
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_relaxed)) {
    epoch_.fetch_add(1, std::memory_order_release);
    epoch_.notify_one();
  }
}

void PinnedExecutor::run(const std::string& name, const std::function<void()>& on_thread_start) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  detail::CurrentExecutorScope scope(this);
  if (on_thread_start) on_thread_start();
  auto pop = [this] {
    lock_.lock();
    Job j = queue_.pop_front();
    lock_.unlock();
    return j;
  };
  for (;;) {
    if (Job j = pop()) {
      j();
      continue;
    }
    if (stopping_.load(std::memory_order_acquire)) return;
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
    Job found;
    while (!found && std::chrono::steady_clock::now() < spin_until) {
      for (int i = 0; i < 16; ++i) detail::cpu_relax();
      found = pop();
    }
    if (!found) {
      const auto epoch = epoch_.load(std::memory_order_acquire);
      sleeping_.store(true, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      found = pop();
      if (!found && !stopping_.load(std::memory_order_acquire)) {
        epoch_.wait(epoch, std::memory_order_acquire);
      }
      sleeping_.store(false, std::memory_order_relaxed);
    }
    if (found) found();
  }
}

}  // namespace weft
