// weft::wait: the first `num_returns` of a set of refs to be sealed, or
// whatever is sealed when the timeout expires (Ray's ray.wait).
//
//   auto [ready, pending] = co_await weft::wait(refs, 10, std::chrono::seconds(1));
//
// Order within each list follows the input order. A timeout needs the
// node's reactor (any node thread has one); without a timeout wait returns
// when num_returns refs are sealed.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "weft/core/task.hpp"
#include "weft/object/object_ref.hpp"

namespace weft {

template <typename T>
struct WaitResult {
  std::vector<ObjectRef<T>> ready;
  std::vector<ObjectRef<T>> not_ready;
};

namespace detail {

Task<void> wait_sealed(std::vector<ObjectState*> states, std::size_t num_returns,
                       std::optional<std::chrono::nanoseconds> timeout);

}  // namespace detail

template <typename T>
Task<WaitResult<T>> wait(std::vector<ObjectRef<T>> refs, std::size_t num_returns,
                         std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
  std::vector<detail::ObjectState*> states;
  states.reserve(refs.size());
  for (const auto& r : refs) states.push_back(r.handle().get());
  co_await detail::wait_sealed(states, std::min(num_returns, refs.size()), timeout);
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

}  // namespace weft
