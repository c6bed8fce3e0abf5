// Traits over awaitables: what `co_await x` yields, and whether x can be awaited.
#pragma once

#include <coroutine>
#include <type_traits>
#include <utility>

namespace weft {

namespace detail {
template <typename A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
    return std::forward<A>(a).operator co_await();
  } else if constexpr (requires { operator co_await(std::forward<A>(a)); }) {
    return operator co_await(std::forward<A>(a));
  } else {
    return std::forward<A>(a);
  }
}
}  // namespace detail

// Anything `co_await` accepts in a weft::Task.
template <typename A>
concept Awaitable = requires(A&& a) {
  { detail::get_awaiter(std::forward<A>(a)).await_ready() } -> std::convertible_to<bool>;
  detail::get_awaiter(std::forward<A>(a)).await_resume();
};

// The type of `co_await std::declval<A>()`.
template <Awaitable A>
using await_result_t = decltype(detail::get_awaiter(std::declval<A>()).await_resume());

}  // namespace weft
