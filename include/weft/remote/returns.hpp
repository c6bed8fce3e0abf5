// Several results from one task or actor method, each its own object.
//
//   weft::Returns<Model, Metrics> train(Config c) { ...; return {model, metrics}; }
//   WEFT_REMOTE(train);
//   auto [model, metrics] = weft::submit<&train>(cfg);   // ObjectRef<Model>, ObjectRef<Metrics>
//   weft::submit<&evaluate>(model, data);               // each passes on its own
//
// A callable declared to return Returns<T...> (or Task<Returns<T...>>) gives
// its caller a std::tuple of one ObjectRef per element. The count is in the
// type, so destructuring into the wrong number of names is a compile error;
// Ray checks `num_returns` against the returned tuple only at run time.
//
// When the count is known only at run time, a callable returning
// std::vector<T> can be called with weft::NumReturns{n} before its
// arguments: the caller gets n refs, and a task that returns another number
// of elements fails each of them with ReturnCountError.
//
//   std::vector<Shard> split(Table t, std::size_t n);
//   std::vector<weft::ObjectRef<Shard>> shards = weft::submit<&split>(weft::NumReturns{4}, t, 4);
//
// As in Ray, each result is sealed where the task ran and travels on its own
// (inline when small, pulled when large), and a task that fails (throws, is
// cancelled, or its node or actor dies past its retries) fails every one of
// its results with the same error.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/object/object_ref.hpp"
#include "weft/object/put_get.hpp"
#include "weft/object/seal_group.hpp"
#include "weft/remote/task_spec.hpp"

namespace weft {

template <typename... T>
struct Returns : std::tuple<T...> {
  static_assert(sizeof...(T) >= 1, "weft::Returns needs at least one element type");
  static_assert((!std::is_void_v<T> && ...), "weft::Returns elements cannot be void");
  static_assert((!std::is_reference_v<T> && ...), "weft::Returns elements are values");
  using std::tuple<T...>::tuple;
};

// How many results a call of a callable returning std::vector<T> has.
struct NumReturns {
  std::size_t count = 0;
};

namespace detail {

template <typename X>
struct IsReturns : std::false_type {};
template <typename... T>
struct IsReturns<Returns<T...>> : std::true_type {};

template <typename X>
struct IsVector : std::false_type {};
template <typename T, typename A>
struct IsVector<std::vector<T, A>> : std::true_type {};

// From when `spec.result` is sealed with an error, every result of `spec`
// not sealed by then carries that error too. Results are sealed only when
// the task succeeds, before `spec.result`, so no seal races this.
inline void fail_returns_with_result(const TaskSpec& spec) {
  when_sealed({spec.result}, [result = spec.result, returns = spec.returns] {
    if (!result->error()) return;
    result->mark_error_read();  // its user reads it in the returns
    for (const ObjectHandle& r : returns) {
      if (!r->ready()) r->seal_error(result->error());
    }
  });
}

// What a call of a callable whose value type is X gives its caller, made
// into `spec` (its result, and its returns for several results).
template <typename X>
struct ResultRefs {
  using type = ObjectRef<X>;
  static type make(ObjectStore& store, TaskSpec& spec) {
    spec.result = make_pending_object(store);
    return type(spec.result);
  }
};

template <typename... T>
struct ResultRefs<Returns<T...>> {
  using type = std::tuple<ObjectRef<T>...>;
  static type make(ObjectStore& store, TaskSpec& spec) {
    spec.result = make_pending_object(store);
    spec.returns.reserve(sizeof...(T));
    for (std::size_t i = 0; i < sizeof...(T); ++i)
      spec.returns.push_back(make_pending_object(store));
    fail_returns_with_result(spec);
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return type(ObjectRef<T>(spec.returns[I])...);
    }
    (std::index_sequence_for<T...>{});
  }
};

// The n results of a call of a callable returning std::vector<T>.
template <typename T>
std::vector<ObjectRef<T>> make_result_refs(ObjectStore& store, TaskSpec& spec, NumReturns n) {
  spec.result = make_pending_object(store);
  std::vector<ObjectRef<T>> refs;
  refs.reserve(n.count);
  spec.returns.reserve(n.count);
  for (std::size_t i = 0; i < n.count; ++i) {
    spec.returns.push_back(make_pending_object(store));
    refs.emplace_back(spec.returns.back());
  }
  fail_returns_with_result(spec);
  return refs;
}

// Seals `spec.result` with an empty value that names the results: where
// the task ran on another node, that is how they travel to their owner.
inline void seal_result_naming_returns(TaskSpec& spec) noexcept {
  ObjectState& result = *spec.result.get();
  try {
    PayloadBuffer buf = result.store().allocate(payload_size(std::monostate{}), result.id());
    write_payload(buf.bytes(), std::monostate{});
    result.seal(std::move(buf), spec.returns);
  } catch (...) {
    result.seal_error(std::current_exception());
  }
}

inline void fail_return_count(TaskSpec& spec, std::size_t returned) noexcept {
  spec.result->seal_error(std::make_exception_ptr(ReturnCountError(
      fmt::format("{} returned {} values for {} results; return exactly as many as the caller's "
                  "NumReturns asks for",
                  spec.name, returned, spec.returns.size()))));
}

template <typename... T>
void seal_elements(TaskSpec& spec, const Returns<T...>& value) noexcept {
  if (spec.returns.size() != sizeof...(T)) {
    fail_return_count(spec, sizeof...(T));
    return;
  }
  const std::tuple<T...>& elements = value;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (seal_with_value(*spec.returns[I].get(), std::get<I>(elements)), ...);
  }
  (std::index_sequence_for<T...>{});
  seal_result_naming_returns(spec);
}

template <typename T, typename A>
void seal_elements(TaskSpec& spec, const std::vector<T, A>& value) noexcept {
  if (value.size() != spec.returns.size()) {
    fail_return_count(spec, value.size());
    return;
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    const T& element = value[i];
    seal_with_value(*spec.returns[i].get(), element);
  }
  seal_result_naming_returns(spec);
}

// Seals what a body returned: in one object, or each element in its own
// (Returns<T...>; a std::vector called with NumReturns).
template <typename X>
void seal_value(TaskSpec& spec, const X& value) noexcept {
  if constexpr (IsReturns<X>::value) {
    seal_elements(spec, value);
  } else if constexpr (IsVector<X>::value) {
    if (spec.returns.empty()) {
      seal_with_value(*spec.result.get(), value);
    } else {
      seal_elements(spec, value);
    }
  } else {
    seal_with_value(*spec.result.get(), value);
  }
}

}  // namespace detail
}  // namespace weft
