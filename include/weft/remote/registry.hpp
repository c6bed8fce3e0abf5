// Registering functions and actor classes under stable names.
//
//   double partial_pi(std::uint64_t samples, std::uint64_t seed);
//   WEFT_REMOTE(partial_pi);
//
//   class Counter { public: int add(int); weft::Task<int> slow_get(); };
//   WEFT_ACTOR(Counter, &Counter::add, &Counter::slow_get);
//
// Use both at global namespace scope, once per program (like HPX_PLAIN_ACTION).
// Only registered functions can be submitted and only registered methods
// called: a missing registration is a compile error at the call. The registry
// is the program's code, not runtime state, so it is one table per process;
// its fingerprint is what nodes compare before they trust each other's calls.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "weft/object/type_fingerprint.hpp"
#include "weft/remote/invoke.hpp"

namespace weft::detail {

// Specialised by WEFT_REMOTE for each registered function.
template <auto Fn>
struct RemoteFunction {
  static constexpr bool registered = false;
};

// Specialised by WEFT_ACTOR for each registered class.
template <typename T>
struct RemoteActor {
  static constexpr bool registered = false;
};

// Builds an actor instance from encoded constructor arguments.
using ConstructFn = void (*)(ActorRecord& record, std::span<const std::byte> args);

struct RegistryEntry {
  std::string name;                 // "partial_pi", "Counter", "Counter::add", "Counter(int)"
  std::string signature;            // the C++ type, so a different build is told apart
  ExecuteFn execute = nullptr;      // functions and methods
  ConstructFn construct = nullptr;  // constructors
};

// Adds an entry, keyed by fnv1a64(name); returns true so it can initialise a
// static. Thread-safe. Two names with one hash abort the program at start-up.
bool register_remote(RegistryEntry entry);
// The entry registered under fnv1a64(name), or nullptr.
const RegistryEntry* find_registered(std::uint64_t id);
// Every registered entry, sorted by name.
std::vector<RegistryEntry> registry_entries();
// A hash over every entry: equal on two nodes iff they registered the same code.
std::uint64_t registry_fingerprint();

// "&Counter::add, &Counter::get" -> {"Counter::add", "Counter::get"}.
std::vector<std::string> split_method_names(std::string_view list);

// The methods a WEFT_ACTOR registration lists, as a type.
template <auto... Ms>
struct MethodList {};

// Compares member pointers by type identity: comparing them with == is not a
// constant expression under UBSan's null checks in GCC 12.
template <auto M>
struct MethodTag {};

// Index of method M in the class's WEFT_ACTOR list, or -1.
template <typename T, auto M>
constexpr int method_index() {
  return []<auto... Ms>(MethodList<Ms...>*) {
    int index = -1, i = 0;
    (
        [&] {
          if constexpr (std::is_same_v<MethodTag<M>, MethodTag<Ms>>) {
            if (index < 0) index = i;
          }
          ++i;
        }(),
        ...);
    return index;
  }
  (static_cast<typename RemoteActor<T>::methods*>(nullptr));
}

template <typename T>
const std::string& method_name(int index) {
  static const std::vector<std::string> names = split_method_names(RemoteActor<T>::method_list);
  return names[static_cast<std::size_t>(index)];
}

// Teaches this process the names of a callable's parameter and result types,
// so a type mismatch reported here names types written by another node.
template <typename V>
void remember_value_type() {
  if constexpr (IsObjectRef<V>::value) {
    remember_value_type<stored_t<typename V::value_type>>();
  } else {
    remember_type<V>();
  }
}
template <typename R>
struct ResultTypes {
  static void remember() { remember_value_type<stored_t<R>>(); }
};
template <typename... T>
struct ResultTypes<Returns<T...>> {
  static void remember() { (remember_value_type<T>(), ...); }
};
template <typename R, typename... P>
void remember_signature_types(TypeList<P...>) {
  (remember_value_type<std::decay_t<P>>(), ...);
  ResultTypes<R>::remember();
}

template <auto F>
bool register_callable(std::string name, ExecuteFn execute) {
  remember_signature_types<result_value_t<F>>(typename CallableTraits<decltype(F)>::params{});
  return register_remote({std::move(name), std::string(type_name<decltype(F)>()), execute});
}

template <typename T, auto... Ms>
void register_methods(MethodList<Ms...>*) {
  const auto names = split_method_names(RemoteActor<T>::method_list);
  std::size_t i = 0;
  (register_callable<Ms>(names[i++], &execute_method<T, Ms>), ...);
}

template <typename T>
bool register_actor() {
  register_remote({std::string(RemoteActor<T>::name), std::string(type_name<T>())});
  register_methods<T>(static_cast<typename RemoteActor<T>::methods*>(nullptr));
  return true;
}

}  // namespace weft::detail

#define WEFT_DETAIL_CAT2(a, b) a##b
#define WEFT_DETAIL_CAT(a, b) WEFT_DETAIL_CAT2(a, b)

// Registers a free function so it can be submitted as a task.
#define WEFT_REMOTE(fn)                                                                      \
  template <>                                                                                \
  struct weft::detail::RemoteFunction<&fn> {                                                 \
    static constexpr bool registered = true;                                                 \
    static constexpr std::string_view name = #fn;                                            \
  };                                                                                         \
  [[maybe_unused]] static const bool WEFT_DETAIL_CAT(weft_remote_registered_, __COUNTER__) = \
      ::weft::detail::register_callable<&fn>(#fn, &::weft::detail::execute_function<&fn>)

// Registers a class as an actor with the methods callers may invoke.
#define WEFT_ACTOR(Class, ...)                                                              \
  template <>                                                                               \
  struct weft::detail::RemoteActor<Class> {                                                 \
    static constexpr bool registered = true;                                                \
    static constexpr std::string_view name = #Class;                                        \
    static constexpr std::string_view method_list = #__VA_ARGS__;                           \
    using methods = ::weft::detail::MethodList<__VA_ARGS__>;                                \
  };                                                                                        \
  [[maybe_unused]] static const bool WEFT_DETAIL_CAT(weft_actor_registered_, __COUNTER__) = \
      ::weft::detail::register_actor<Class>()
