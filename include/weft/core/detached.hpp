// Starting coroutines that nobody awaits.
//
//   weft::spawn_detached(pool, serve(conn));   // runs on pool, frees itself when done
//
// Exceptions escaping a detached task terminate the program: handle them inside.
#pragma once

#include <coroutine>
#include <exception>
#include <utility>

#include "weft/core/executor.hpp"
#include "weft/core/task.hpp"

namespace weft {

namespace detail {
// A coroutine that starts eagerly and destroys itself when it finishes.
struct DetachedCoroutine {
  struct promise_type {
    DetachedCoroutine get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() noexcept {}
    [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
  };
};

template <typename A>
DetachedCoroutine run_detached(A awaitable) {
  co_await std::move(awaitable);
}

template <typename A>
DetachedCoroutine run_detached_on(Executor& e, A awaitable) {
  co_await resume_on(e);
  co_await std::move(awaitable);
}
}  // namespace detail

// Runs `task` on `executor`; the coroutine frame frees itself at the end.
template <typename T>
void spawn_detached(Executor& executor, Task<T> task) {
  detail::run_detached_on(executor, std::move(task));
}

}  // namespace weft
