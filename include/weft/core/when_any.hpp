// Await the first of several awaitables to finish.
//
//   auto [index, value] = co_await weft::when_any(std::move(tasks));
//
// All are started; the first to finish (with a value or an exception) wins and
// resumes the caller. The others keep running to completion in the
// background and their results are dropped, so they must not refer to the
// caller's locals. Requires a non-empty vector.
#pragma once

#include <atomic>
#include <cassert>
#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <variant>
#include <vector>

#include "weft/core/awaitable_traits.hpp"
#include "weft/core/detached.hpp"
#include "weft/core/task.hpp"
#include "weft/core/when_all.hpp"

namespace weft {

template <typename T>
struct WhenAnyResult {
  std::size_t index;
  T value;
};
template <>
struct WhenAnyResult<void> {
  std::size_t index;
};

namespace detail {

template <typename R>
struct WhenAnyState {
  std::atomic<bool> decided{false};
  std::coroutine_handle<> parent;
  std::size_t index = 0;
  std::optional<result_slot_t<R>> value;
  std::exception_ptr error;
  std::atomic<int> pending_resume{2};  // winner and parent both must arrive

  void arrive() {
    if (pending_resume.fetch_sub(1, std::memory_order_acq_rel) == 1) parent.resume();
  }
};

template <typename A, typename R>
DetachedCoroutine when_any_child(A awaitable, std::shared_ptr<WhenAnyState<R>> state,
                                 std::size_t index) {
  std::optional<result_slot_t<R>> value;
  std::exception_ptr error;
  try {
    if constexpr (std::is_void_v<R>) {
      co_await std::move(awaitable);
      value.emplace();
    } else {
      value.emplace(co_await std::move(awaitable));
    }
  } catch (...) {
    error = std::current_exception();
  }
  bool expected = false;
  if (state->decided.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    state->index = index;
    state->value = std::move(value);
    state->error = error;
    state->arrive();
  }
}

template <typename A>
Task<WhenAnyResult<
    std::conditional_t<std::is_void_v<await_result_t<A>>, void, std::decay_t<await_result_t<A>>>>>
when_any_vector(std::vector<A> awaitables) {
  using R = await_result_t<A>;
  assert(!awaitables.empty() && "when_any needs at least one awaitable");
  auto state = std::make_shared<WhenAnyState<R>>();
  struct Arm {
    WhenAnyState<R>& s;
    std::vector<A>& aws;
    std::shared_ptr<WhenAnyState<R>> owner;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      s.parent = h;
      for (std::size_t i = 0; i < aws.size(); ++i) when_any_child(std::move(aws[i]), owner, i);
      return s.pending_resume.fetch_sub(1, std::memory_order_acq_rel) > 1;
    }
    void await_resume() const noexcept {}
  };
  // Named, not a braced temporary: GCC 12 destroys a braced aggregate awaiter
  // twice when it suspends, which would drop `owner` once too often.
  Arm arm{*state, awaitables, state};
  co_await arm;
  if (state->error) std::rethrow_exception(state->error);
  if constexpr (std::is_void_v<R>) {
    co_return WhenAnyResult<void>{state->index};
  } else {
    co_return WhenAnyResult<std::decay_t<R>>{state->index, std::move(*state->value)};
  }
}

}  // namespace detail

template <Awaitable A>
auto when_any(std::vector<A> awaitables) {
  return detail::when_any_vector(std::move(awaitables));
}

}  // namespace weft
