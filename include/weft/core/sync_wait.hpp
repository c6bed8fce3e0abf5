// Blocking bridge from plain code into coroutines.
//
//   int main() { return weft::sync_wait(main_task()); }
//
// The awaitable starts on the calling thread; the thread then blocks (briefly
// spinning, then sleeping) until it completes. Calling sync_wait on an
// executor thread would stall that executor and can deadlock, so it throws
// weft::UsageError there.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include "weft/core/awaitable_traits.hpp"
#include "weft/core/blocking_event.hpp"
#include "weft/core/executor.hpp"
#include "weft/core/task.hpp"
#include "weft/error.hpp"

namespace weft {

namespace detail {
struct SyncWaitCoroutine {
  struct promise_type {
    BlockingEvent* done = nullptr;
    SyncWaitCoroutine get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    auto final_suspend() const noexcept {
      struct Signal {
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<promise_type> h) const noexcept {
          h.promise().done->set();
        }
        void await_resume() const noexcept {}
      };
      return Signal{};
    }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
    std::exception_ptr error;
  };
  std::coroutine_handle<promise_type> handle;
};

inline void check_not_on_executor(const char* what) {
  if (current_executor() != nullptr) {
    throw UsageError(std::string(what) +
                     " would block an executor thread; use co_await inside tasks instead");
  }
}
}  // namespace detail

template <Awaitable A>
auto sync_wait(A&& awaitable) -> await_result_t<A> {
  using R = await_result_t<A>;
  detail::check_not_on_executor("weft::sync_wait");
  detail::BlockingEvent done;
  if constexpr (std::is_void_v<R>) {
    auto body = [](A&& a) -> detail::SyncWaitCoroutine { co_await std::forward<A>(a); };
    auto co = body(std::forward<A>(awaitable));
    co.handle.promise().done = &done;
    co.handle.resume();
    done.wait();
    auto error = co.handle.promise().error;
    co.handle.destroy();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<std::remove_reference_t<R>> result;
    auto body = [](A&& a, auto& out) -> detail::SyncWaitCoroutine {
      out.emplace(co_await std::forward<A>(a));
    };
    auto co = body(std::forward<A>(awaitable), result);
    co.handle.promise().done = &done;
    co.handle.resume();
    done.wait();
    auto error = co.handle.promise().error;
    co.handle.destroy();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }
}

}  // namespace weft
