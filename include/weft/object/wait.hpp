// weft::wait: the first `num_returns` of a set of refs to be sealed, or
// whatever is sealed when the timeout expires (Ray's ray.wait); and
// weft::get_all, the values of a set of refs, failing at the first error.
//
//   auto [ready, pending] = co_await weft::wait(refs, {.num_returns = 10, .timeout = 1s});
//   std::vector<int> values = co_await weft::get_all(refs);   // or weft::get(refs), blocking
//
// As in Ray: order within each list follows the input order; num_returns
// defaults to 1 and is capped at the number of refs; an empty list returns at
// once; a ref named twice is an error (UsageError), since one object cannot
// count as two. Ray's fetch_local has no counterpart: a ref here is ready
// only once its bytes are on this node (objects are copied as they arrive),
// so every wait is fetch_local=True. A timeout needs the node's reactor (any
// node thread has one); without a timeout wait returns when num_returns refs
// are sealed.
//
// get_all and get(refs) throw the error of the first ref to fail, as soon as
// it fails, without waiting for the rest (ray.get of a list does the same).
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/error.hpp"
#include "weft/object/object_ref.hpp"
#include "weft/object/put_get.hpp"

namespace weft {

struct WaitOptions {
  std::size_t num_returns = 1;
  std::optional<std::chrono::nanoseconds> timeout;
};

template <typename T>
struct WaitResult {
  std::vector<ObjectRef<T>> ready;
  std::vector<ObjectRef<T>> not_ready;
};

namespace detail {

// Returns once `num_returns` of `states` are sealed, or, with `fail_fast`,
// one of them is sealed with an error, or once `timeout` passes.
Task<void> wait_sealed(std::vector<ObjectState*> states, std::size_t num_returns,
                       std::optional<std::chrono::nanoseconds> timeout, bool fail_fast = false);

// The states behind `refs`; throws UsageError naming `what` if one is named twice.
template <typename T>
std::vector<ObjectState*> distinct_states(const std::vector<ObjectRef<T>>& refs, const char* what) {
  std::vector<ObjectState*> states;
  states.reserve(refs.size());
  for (const auto& r : refs) states.push_back(r.handle().get());
  std::vector<ObjectState*> sorted = states;
  std::sort(sorted.begin(), sorted.end());
  if (auto twice = std::adjacent_find(sorted.begin(), sorted.end()); twice != sorted.end()) {
    throw UsageError(std::string(what) + ": " + describe_object(**twice) +
                     " is named twice in its list; pass each ref once");
  }
  return states;
}

}  // namespace detail

template <typename T>
Task<WaitResult<T>> wait(std::vector<ObjectRef<T>> refs, WaitOptions options = {}) {
  const std::size_t num_returns = std::min(options.num_returns, refs.size());
  co_await detail::wait_sealed(detail::distinct_states(refs, "weft::wait"), num_returns,
                               options.timeout);
  WaitResult<T> out;
  std::size_t taken = 0;
  for (auto& r : refs) {
    if (taken < num_returns && r.is_ready()) {
      out.ready.push_back(std::move(r));
      ++taken;
    } else {
      out.not_ready.push_back(std::move(r));
    }
  }
  co_return out;
}

template <typename T>
Task<std::vector<T>> get_all(std::vector<ObjectRef<T>> refs) {
  auto states = detail::distinct_states(refs, "weft::get_all");
  co_await detail::wait_sealed(states, states.size(), std::nullopt, /*fail_fast=*/true);
  for (auto* s : states) {
    if (s->ready()) detail::rethrow_if_failed(*s);
  }
  std::vector<T> values;
  values.reserve(refs.size());
  for (auto* s : states) values.push_back(ObjectRef<T>::read(*s));
  co_return values;
}

// Blocks the calling thread for get_all(refs). Throws UsageError on an
// executor thread: use `co_await get_all(refs)` there.
template <typename T>
std::vector<T> get(const std::vector<ObjectRef<T>>& refs) {
  if (!std::all_of(refs.begin(), refs.end(), [](const auto& r) { return r.is_ready(); })) {
    detail::check_not_on_executor("weft::get");
  }
  return sync_wait(get_all(refs));
}

}  // namespace weft
