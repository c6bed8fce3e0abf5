// weft::submit: run a registered function as a task.
//
//   weft::ObjectRef<double> r = weft::submit<&partial_pi>(1'000'000, seed);
//   auto s = weft::submit<&sum>(r, 1.0);      // waits for r where it runs
//   auto g = weft::submit<&train>(weft::TaskOptions{.resources = {.cpu = 2}}, cfg);
//
// Returns at once; the result resolves when the task has run. Arguments are
// checked against the function's parameters at compile time. Callable from
// any thread of a node (a task may submit tasks) and from the driver.
#pragma once

#include <memory>
#include <utility>

#include "weft/object/put_get.hpp"
#include "weft/remote/invoke.hpp"
#include "weft/remote/registry.hpp"
#include "weft/remote/runtime.hpp"

namespace weft {

namespace detail {
template <auto Fn, typename... A>
ObjectRef<result_value_t<Fn>> submit_with(Runtime& rt, const TaskOptions* options,
                                          const A&... args) {
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
  spec->result = make_pending_object(rt.store());
  ObjectRef<result_value_t<Fn>> ref(spec->result);
  rt.submit(std::move(spec));
  return ref;
}
}  // namespace detail

template <auto Fn, typename... A>
ObjectRef<detail::result_value_t<Fn>> submit(const A&... args) {
  return detail::submit_with<Fn>(current_runtime(), nullptr, args...);
}

template <auto Fn, typename... A>
ObjectRef<detail::result_value_t<Fn>> submit(TaskOptions options, const A&... args) {
  return detail::submit_with<Fn>(current_runtime(), &options, args...);
}

}  // namespace weft
