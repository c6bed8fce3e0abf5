// How a registered function or method becomes a TaskSpec and runs from one.
//
// At submit, each argument is checked against its parameter at compile time
// and encoded with the parameter's codec; ObjectRef arguments travel as refs
// (a parameter of type U accepts an ObjectRef<U> and receives its value, a
// parameter of type ObjectRef<U> receives the ref itself). At run time the
// arguments are decoded into a tuple and the callable is applied to it. The
// body seals the result itself and reports to spec->complete exactly once.
#pragma once

#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "weft/core/detached.hpp"
#include "weft/core/task.hpp"
#include "weft/object/object_ref.hpp"
#include "weft/object/payload.hpp"
#include "weft/object/put_get.hpp"
#include "weft/remote/actor_record.hpp"
#include "weft/remote/returns.hpp"
#include "weft/remote/task_spec.hpp"

namespace weft::detail {

template <typename... T>
struct TypeList {};

template <typename F>
struct CallableTraits;
template <typename R, typename... P>
struct CallableTraits<R (*)(P...)> {
  using result = R;
  using params = TypeList<P...>;
};
template <typename R, typename... P>
struct CallableTraits<R (*)(P...) noexcept> : CallableTraits<R (*)(P...)> {};
template <typename C, typename R, typename... P>
struct CallableTraits<R (C::*)(P...)> {
  using result = R;
  using params = TypeList<P...>;
};
template <typename C, typename R, typename... P>
struct CallableTraits<R (C::*)(P...) const> : CallableTraits<R (C::*)(P...)> {};
template <typename C, typename R, typename... P>
struct CallableTraits<R (C::*)(P...) noexcept> : CallableTraits<R (C::*)(P...)> {};
template <typename C, typename R, typename... P>
struct CallableTraits<R (C::*)(P...) const noexcept> : CallableTraits<R (C::*)(P...)> {};

// A callable returning Task<X> is a coroutine task whose value is X.
template <typename R>
struct ResultValue {
  using type = R;
  static constexpr bool coroutine = false;
};
template <typename X>
struct ResultValue<Task<X>> {
  using type = X;
  static constexpr bool coroutine = true;
};

template <auto F>
using result_value_t = typename ResultValue<typename CallableTraits<decltype(F)>::result>::type;

// What a call of F gives its caller: ObjectRef<X>, or a tuple of refs for Returns<T...>.
template <auto F>
using result_refs_t = typename ResultRefs<result_value_t<F>>::type;

// The element type of the results of F called with NumReturns.
template <auto F>
struct ElementValue {
  static_assert(IsVector<result_value_t<F>>::value,
                "weft: NumReturns{n} needs a callable returning std::vector<T>, whose n elements "
                "become the n results; for a fixed count, return weft::Returns<A, B, ...>");
  using type = typename result_value_t<F>::value_type;
};
template <auto F>
using element_value_t = typename ElementValue<F>::type;

// What an object of value type T stores: void results are an empty value.
template <typename T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <typename P, typename A>
constexpr void check_argument() {
  using DP = std::decay_t<P>;
  using DA = std::decay_t<A>;
  static_assert(!(std::is_lvalue_reference_v<P> && !std::is_const_v<std::remove_reference_t<P>>),
                "weft: task parameters cannot be non-const references (arguments are copies)");
  if constexpr (IsObjectRef<DA>::value) {
    if constexpr (IsObjectRef<DP>::value) {
      static_assert(std::is_same_v<DA, DP>, "weft: ObjectRef argument of the wrong value type");
    } else {
      static_assert(std::is_same_v<typename DA::value_type, DP>,
                    "weft: an ObjectRef<U> argument needs a parameter of type U or ObjectRef<U>");
    }
  } else {
    static_assert(!IsObjectRef<DP>::value, "weft: this parameter takes an ObjectRef");
    static_assert(std::is_convertible_v<A&&, DP>,
                  "weft: the argument does not convert to the parameter's type");
  }
}

template <typename P, typename W, typename A>
void encode_argument(W& out, const A& a) {
  using DP = std::decay_t<P>;
  if constexpr (IsObjectRef<std::decay_t<A>>::value) {
    return;  // travels in spec.refs
  } else if constexpr (std::is_same_v<std::decay_t<A>, DP>) {
    Codec<DP>::encode(out, a);
  } else {
    Codec<DP>::encode(out, static_cast<DP>(a));
  }
}

template <typename P, typename A>
void collect_ref(TaskSpec& spec, const A& a, std::size_t index) {
  if constexpr (IsObjectRef<std::decay_t<A>>::value) {
    if constexpr (!IsObjectRef<std::decay_t<P>>::value) {
      spec.wait_mask |= std::uint64_t{1} << spec.refs.size();
    }
    spec.refs.push_back(a.handle());
    spec.ref_mask |= std::uint64_t{1} << index;
  }
}

// Encodes `args` for a callable taking `P...` into spec.args and spec.refs.
template <typename... P, typename... A>
void encode_arguments(TypeList<P...>, TaskSpec& spec, const A&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "weft: wrong number of arguments");
  // A spec marks which arguments are refs in one 64-bit word (ref_mask,
  // wait_mask), which keeps every task's spec and wire message small.
  static_assert(sizeof...(P) <= 64,
                "weft: a task or actor method takes at most 64 parameters (the spec marks its "
                "ref arguments in one 64-bit word); pass more values as a struct, a std::tuple "
                "or a std::vector, which may hold refs too");
  (check_argument<P, A>(), ...);
  SizeCounter counter;
  (encode_argument<P>(counter, args), ...);
  SpanWriter writer(spec.args.resize(counter.size()));
  {
    NestedRefScope collect(spec.nested_refs);
    (encode_argument<P>(writer, args), ...);
  }
  [&]<std::size_t... I>(std::index_sequence<I...>) { (collect_ref<P>(spec, args, I), ...); }
  (std::index_sequence_for<P...>{});
}

template <typename DP>
DP decode_argument(const TaskSpec& spec, ByteReader& in, std::size_t& next_ref, std::size_t index) {
  if constexpr (IsObjectRef<DP>::value) {
    return DP(spec.refs[next_ref++]);
  } else {
    if ((spec.ref_mask >> index) & 1) {
      return ObjectRef<DP>::read(*spec.refs[next_ref++].get());
    }
    return Codec<DP>::decode(in);
  }
}

template <typename... P, std::size_t... I>
std::tuple<std::decay_t<P>...> decode_arguments(TypeList<P...>, std::index_sequence<I...>,
                                                const TaskSpec& spec) {
  [[maybe_unused]] ByteReader in(spec.args.bytes());
  [[maybe_unused]] std::size_t next_ref = 0;
  // Braced initialisation evaluates left to right, matching the encoding.
  return std::tuple<std::decay_t<P>...>{decode_argument<std::decay_t<P>>(spec, in, next_ref, I)...};
}

template <typename... P>
std::tuple<std::decay_t<P>...> decode_arguments(TypeList<P...> params, const TaskSpec& spec) {
  return decode_arguments(params, std::index_sequence_for<P...>{}, spec);
}

// Runs a coroutine body; the decoded arguments live in this frame until it ends.
template <typename X, typename Call, typename Args>
DetachedCoroutine run_coroutine_body(TaskSpec* spec, Call call, Args args) {
  std::exception_ptr error;
  try {
    if constexpr (std::is_void_v<X>) {
      co_await std::apply(call, std::move(args));
      seal_with_value(*spec->result.get(), std::monostate{});
    } else {
      X value = co_await std::apply(call, std::move(args));
      seal_value(*spec, value);
    }
  } catch (...) {
    error = std::current_exception();
  }
  spec->complete(spec, error);
}

// Decodes the arguments of `spec` for a callable with traits `Traits`, calls
// `call` with them, seals the result and completes the spec.
template <typename Traits, typename Call>
void run_body(TaskSpec* spec, Call call) noexcept {
  using Result = ResultValue<typename Traits::result>;
  using X = typename Result::type;
  try {
    auto args = decode_arguments(typename Traits::params{}, *spec);
    if constexpr (Result::coroutine) {
      run_coroutine_body<X>(spec, call, std::move(args));
      return;
    } else if constexpr (std::is_void_v<X>) {
      std::apply(call, std::move(args));
      seal_with_value(*spec->result.get(), std::monostate{});
    } else {
      seal_value(*spec, std::apply(call, std::move(args)));
    }
  } catch (...) {
    spec->complete(spec, std::current_exception());
    return;
  }
  spec->complete(spec, nullptr);
}

template <auto Fn>
void execute_function(TaskSpec* spec) noexcept {
  run_body<CallableTraits<decltype(Fn)>>(
      spec, [](auto&&... a) -> decltype(auto) { return Fn(std::forward<decltype(a)>(a)...); });
}

template <typename T, auto M>
void execute_method(TaskSpec* spec) noexcept {
  auto* self = static_cast<T*>(spec->actor->instance());
  run_body<CallableTraits<decltype(M)>>(spec, [self](auto&&... a) -> decltype(auto) {
    return (self->*M)(std::forward<decltype(a)>(a)...);
  });
}

// Wraps a failure from inside a task as the TaskError its awaiters see.
std::exception_ptr as_task_error(std::exception_ptr error, std::string_view task_name);
// Whether a failure may be retried under `options`.
bool is_retryable(const std::exception_ptr& error, const TaskOptions& options);

}  // namespace weft::detail
