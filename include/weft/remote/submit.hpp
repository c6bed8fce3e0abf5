// weft::submit: run a registered function as a task.
//
//   weft::ObjectRef<double> r = weft::submit<&partial_pi>(1'000'000, seed);
//   auto s = weft::submit<&sum>(r, 1.0);      // waits for r where it runs
//   auto g = weft::submit<&train>(weft::TaskOptions{.resources = {.cpu = 2}}, cfg);
//   auto [a, b] = weft::submit<&two_results>(x);               // Returns<A, B> (returns.hpp)
//   auto parts = weft::submit<&split>(weft::NumReturns{4}, t);  // std::vector<T>, 4 refs
//
// Returns at once; the result resolves when the task has run. Arguments are
// checked against the function's parameters at compile time. Callable from
// any thread of a node (a task may submit tasks) and from the driver.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "weft/object/put_get.hpp"
#include "weft/remote/invoke.hpp"
#include "weft/remote/registry.hpp"
#include "weft/remote/returns.hpp"
#include "weft/remote/runtime.hpp"

namespace weft {

namespace detail {
// The spec of a task running Fn on `args`, without its results.
template <auto Fn, typename... A>
TaskSpecPtr function_spec(const TaskOptions* options, const A&... args) {
  static_assert(RemoteFunction<Fn>::registered,
                "weft::submit: register the function with WEFT_REMOTE(fn) at global scope");
  static constexpr std::uint64_t id = fnv1a64(RemoteFunction<Fn>::name);
  auto spec = std::make_unique<TaskSpec>();
  spec->function_id = id;
  spec->name = RemoteFunction<Fn>::name;
  spec->execute = &execute_function<Fn>;
  encode_arguments(typename CallableTraits<decltype(Fn)>::params{}, *spec, args...);
  if (options) {
    spec->set_options(*options);
    if (!spec->options->name.empty()) spec->name = spec->options->name;
  } else {
    spec->options = &default_task_options;
  }
  return spec;
}

template <auto Fn, typename... A>
result_refs_t<Fn> submit_with(Runtime& rt, const TaskOptions* options, const A&... args) {
  TaskSpecPtr spec = function_spec<Fn>(options, args...);
  result_refs_t<Fn> refs = ResultRefs<result_value_t<Fn>>::make(rt.store(), *spec);
  rt.submit(std::move(spec));
  return refs;
}

template <auto Fn, typename... A>
auto submit_n(Runtime& rt, const TaskOptions* options, NumReturns n, const A&... args) {
  TaskSpecPtr spec = function_spec<Fn>(options, args...);
  auto refs = make_result_refs<element_value_t<Fn>>(rt.store(), *spec, n);
  rt.submit(std::move(spec));
  return refs;
}
}  // namespace detail

template <auto Fn, typename... A>
detail::result_refs_t<Fn> submit(const A&... args) {
  return detail::submit_with<Fn>(current_runtime(), nullptr, args...);
}

template <auto Fn, typename... A>
detail::result_refs_t<Fn> submit(TaskOptions options, const A&... args) {
  return detail::submit_with<Fn>(current_runtime(), &options, args...);
}

// Fn returns std::vector<T>: a std::vector of n ObjectRef<T>, one per element.
// (The result type is deduced so that only a call naming NumReturns checks it.)
template <auto Fn, typename... A>
auto submit(NumReturns n, const A&... args) {
  return detail::submit_n<Fn>(current_runtime(), nullptr, n, args...);
}

template <auto Fn, typename... A>
auto submit(TaskOptions options, NumReturns n, const A&... args) {
  return detail::submit_n<Fn>(current_runtime(), &options, n, args...);
}

}  // namespace weft
