// Await several things at once.
//
//   auto [a, b] = co_await weft::when_all(fetch(1), fetch(2));      // tuple
//   std::vector<int> xs = co_await weft::when_all(std::move(tasks)); // vector
//
// Every awaitable is started before the first result is awaited, so they run
// concurrently where they can. The first exception is rethrown once all have
// finished (nothing is left running behind the caller's back). A `void`
// result appears as std::monostate in the tuple form.
#pragma once

#include <atomic>
#include <coroutine>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "weft/core/awaitable_traits.hpp"
#include "weft/core/task.hpp"

namespace weft {

namespace detail {

template <typename T>
using result_slot_t = std::conditional_t<std::is_void_v<T>, std::monostate, std::decay_t<T>>;

// Shared by the children of one when_all: counts finished children and
// resumes the parent after the last.
class WhenAllLatch {
 public:
  explicit WhenAllLatch(std::size_t n) noexcept : remaining_(n + 1) {}

  // Called by the parent after starting all children; false if all finished already.
  bool arm(std::coroutine_handle<> parent) noexcept {
    parent_ = parent;
    return remaining_.fetch_sub(1, std::memory_order_acq_rel) > 1;
  }
  void child_done() noexcept {
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) parent_.resume();
  }
  void record(std::exception_ptr e) noexcept {
    bool expected = false;
    if (has_error_.compare_exchange_strong(expected, true)) error_ = std::move(e);
  }
  void rethrow_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::atomic<std::size_t> remaining_;
  std::coroutine_handle<> parent_;
  std::atomic<bool> has_error_{false};
  std::exception_ptr error_;
};

struct WhenAllChild {
  struct promise_type {
    WhenAllLatch* latch = nullptr;
    WhenAllChild get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    auto final_suspend() const noexcept {
      struct Done {
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<promise_type> h) const noexcept {
          WhenAllLatch* latch = h.promise().latch;
          h.destroy();
          latch->child_done();
        }
        void await_resume() const noexcept {}
      };
      return Done{};
    }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { latch->record(std::current_exception()); }
  };
  std::coroutine_handle<promise_type> handle;
};

template <typename A, typename Slot>
WhenAllChild when_all_child(A awaitable, Slot& slot) {
  if constexpr (std::is_void_v<await_result_t<A>>) {
    co_await std::move(awaitable);
    slot.emplace();
  } else {
    slot.emplace(co_await std::move(awaitable));
  }
}

// Awaiter that starts every child, then suspends until the latch opens.
template <typename StartAll>
class WhenAllAwaiter {
 public:
  WhenAllAwaiter(WhenAllLatch& latch, StartAll start) : latch_(latch), start_(std::move(start)) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> parent) {
    start_(latch_);
    return latch_.arm(parent);
  }
  void await_resume() const { latch_.rethrow_if_failed(); }

 private:
  WhenAllLatch& latch_;
  StartAll start_;
};

template <typename... A>
Task<std::tuple<result_slot_t<await_result_t<A>>...>> when_all_tuple(A... awaitables) {
  std::tuple<std::optional<result_slot_t<await_result_t<A>>>...> slots;
  WhenAllLatch latch(sizeof...(A));
  co_await WhenAllAwaiter(latch, [&](WhenAllLatch& l) {
    std::apply(
        [&](auto&... slot) {
          (
              [&](auto& aw, auto& s) {
                auto child = when_all_child(std::move(aw), s);
                child.handle.promise().latch = &l;
                child.handle.resume();
              }(awaitables, slot),
              ...);
        },
        slots);
  });
  co_return std::apply([](auto&... s) { return std::make_tuple(std::move(*s)...); }, slots);
}

template <typename A>
Task<std::conditional_t<std::is_void_v<await_result_t<A>>, void,
                        std::vector<std::decay_t<await_result_t<A>>>>>
when_all_vector(std::vector<A> awaitables) {
  using R = await_result_t<A>;
  std::vector<std::optional<result_slot_t<R>>> slots(awaitables.size());
  WhenAllLatch latch(awaitables.size());
  co_await WhenAllAwaiter(latch, [&](WhenAllLatch& l) {
    for (std::size_t i = 0; i < awaitables.size(); ++i) {
      auto child = when_all_child(std::move(awaitables[i]), slots[i]);
      child.handle.promise().latch = &l;
      child.handle.resume();
    }
  });
  if constexpr (!std::is_void_v<R>) {
    std::vector<std::decay_t<R>> out;
    out.reserve(slots.size());
    for (auto& s : slots) out.push_back(std::move(*s));
    co_return out;
  }
}

}  // namespace detail

template <Awaitable... A>
requires(sizeof...(A) > 0) auto when_all(A&&... awaitables) {
  return detail::when_all_tuple(std::decay_t<A>(std::forward<A>(awaitables))...);
}

template <Awaitable A>
auto when_all(std::vector<A> awaitables) {
  return detail::when_all_vector(std::move(awaitables));
}

}  // namespace weft
