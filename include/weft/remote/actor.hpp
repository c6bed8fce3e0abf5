// Actors: a registered class instantiated on a node, pinned to one executor.
//
//   auto c = co_await weft::spawn<Counter>(0).options({.name = "c"});
//   weft::ObjectRef<int> r = c.call<&Counter::add>(5);     // FIFO per handle
//   auto same = co_await weft::get_actor<Counter>("c");
//   weft::kill(c);                                         // later calls: ActorDiedError
//
// Methods run one at a time (coroutine methods may interleave at co_await
// when max_concurrency > 1). Each handle is a caller, as each Ray worker is:
// calls sent through it and its copies run in the order sent, and one whose
// ref arguments are still pending holds back only that caller's later calls;
// other callers' calls run meanwhile, in no promised order between callers.
// spawn, get_actor and a handle passed to a task each give a new caller.
// Handles are cheap to copy; an actor lives while a handle, a pending call or
// its name refers to it, and its destructor runs where its methods ran.
#pragma once

#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "weft/core/task.hpp"
#include "weft/object/payload.hpp"
#include "weft/object/put_get.hpp"
#include "weft/remote/actor_record.hpp"
#include "weft/remote/invoke.hpp"
#include "weft/remote/registry.hpp"
#include "weft/remote/runtime.hpp"

namespace weft {

template <typename T>
class ActorHandle {
 public:
  ActorHandle() = default;
  // A new caller of `record`'s actor.
  explicit ActorHandle(std::shared_ptr<detail::ActorRecord> record) noexcept
      : record_(std::move(record)), caller_(record_ ? record_->new_caller() : 0) {}

  // Calls method M with `args`; returns at once. M must be listed in WEFT_ACTOR.
  // A method returning Returns<T...> gives a tuple of refs (returns.hpp).
  template <auto M, typename... A>
  detail::result_refs_t<M> call(const A&... args) const {
    detail::TaskSpecPtr spec = method_spec<M>(args...);
    auto refs =
        detail::ResultRefs<detail::result_value_t<M>>::make(record_->runtime().store(), *spec);
    record_->enqueue(std::move(spec));
    return refs;
  }

  // M returns std::vector<U>: a std::vector of n ObjectRef<U>, one per element.
  template <auto M, typename... A>
  auto call(NumReturns n, const A&... args) const {
    detail::TaskSpecPtr spec = method_spec<M>(args...);
    auto refs =
        detail::make_result_refs<detail::element_value_t<M>>(record_->runtime().store(), *spec, n);
    record_->enqueue(std::move(spec));
    return refs;
  }

  bool valid() const noexcept { return static_cast<bool>(record_); }
  bool alive() const noexcept { return record_ && record_->alive(); }
  std::string_view name() const noexcept { return record_->options().name.view(); }
  const std::shared_ptr<detail::ActorRecord>& record() const noexcept { return record_; }

 private:
  // The spec of a call of M on `args`, without its results.
  template <auto M, typename... A>
  detail::TaskSpecPtr method_spec(const A&... args) const {
    static_assert(detail::RemoteActor<T>::registered,
                  "weft: register the class with WEFT_ACTOR(Class, &Class::method, ...)");
    constexpr int index = detail::method_index<T, M>();
    static_assert(index >= 0, "weft: this method is not listed in the class's WEFT_ACTOR");
    static const std::uint64_t id = fnv1a64(detail::method_name<T>(index));
    auto spec = std::make_unique<detail::TaskSpec>();
    spec->function_id = id;
    spec->name = detail::method_name<T>(index);
    spec->execute = &detail::execute_method<T, M>;
    detail::encode_arguments(typename detail::CallableTraits<decltype(M)>::params{}, *spec,
                             args...);
    spec->options = &detail::default_task_options;
    spec->actor = record_;
    spec->caller = caller_;
    return spec;
  }

  std::shared_ptr<detail::ActorRecord> record_;
  std::uint64_t caller_ = 0;
};

namespace detail {

template <typename T, typename Args>
void construct_actor(ActorRecord& record, std::span<const std::byte> encoded) {
  auto args = read_payload<Args>(encoded, "actor constructor arguments");
  record.set_instance(
      std::apply([](auto&&... a) { return new T(std::move(a)...); }, std::move(args)),
      [](void* p) { delete static_cast<T*>(p); });
}

// Every spawn<T>(A...) in the program registers the constructor it uses, so
// any node running this binary can build the actor from its encoded arguments.
template <typename T, typename Args>
struct ConstructorRegistration {
  static std::string name() {
    return std::string(RemoteActor<T>::name) + "(" + std::string(type_name<Args>()) + ")";
  }
  static inline const std::uint64_t id = [] {
    register_remote({name(), std::string(type_name<Args>()), nullptr, &construct_actor<T, Args>});
    return fnv1a64(name());
  }();
};

template <typename T, typename Args>
Task<ActorHandle<T>> spawn_actor(Runtime& rt, ActorOptions options, ActorArguments args) {
  check_actor_options(options);
  auto record = co_await rt.create_actor(std::move(options), std::string(RemoteActor<T>::name),
                                         ConstructorRegistration<T, Args>::id, std::move(args));
  co_return ActorHandle<T>(std::move(record));
}

}  // namespace detail

// `co_await spawn<T>(args...)` constructs a T on this node's actor executor;
// `.options({...})` before awaiting sets its name, resources and concurrency.
template <typename T, typename... A>
class [[nodiscard]] Spawn {
 public:
  explicit Spawn(const A&... args) : args_(args...) {}

  Spawn&& options(ActorOptions o) && {
    options_ = std::move(o);
    return std::move(*this);
  }

  // The task lives in this Spawn, which lives to the end of the co_await expression.
  auto operator co_await() && {
    task_ = start();
    return std::move(task_).operator co_await();
  }

 private:
  Task<ActorHandle<T>> start() {
    static_assert(detail::RemoteActor<T>::registered,
                  "weft: register the class with WEFT_ACTOR(Class, &Class::method, ...)");
    static_assert(std::is_constructible_v<T, std::decay_t<A>...>,
                  "weft::spawn: T has no constructor taking these arguments");
    detail::ActorArguments encoded;
    encoded.bytes.resize(payload_size(args_));
    {
      detail::NestedRefScope collect(encoded.nested_refs);
      write_payload(std::span<std::byte>(encoded.bytes), args_);
    }
    return detail::spawn_actor<T, std::tuple<std::decay_t<A>...>>(
        current_runtime(), std::move(options_), std::move(encoded));
  }

  std::tuple<std::decay_t<A>...> args_;
  ActorOptions options_;
  Task<ActorHandle<T>> task_;
};

template <typename T, typename... A>
Spawn<T, A...> spawn(const A&... args) {
  return Spawn<T, A...>(args...);
}

// The actor registered under `name` in the cluster. Throws weft::Error if
// there is none and TypeMismatchError if it is not a T.
template <typename T>
Task<ActorHandle<T>> get_actor(std::string name) {
  auto record = co_await current_runtime().find_named_actor(name);
  if (!record) throw Error(fmt::format("no live actor is named '{}'", name));
  if (record->class_name() != detail::RemoteActor<T>::name) {
    throw TypeMismatchError(fmt::format("actor '{}' is a {}, not a {}", name, record->class_name(),
                                        detail::RemoteActor<T>::name));
  }
  co_return ActorHandle<T>(std::move(record));
}

// A handle travels as its actor's home node, id and class; the reader gets a
// handle to the same actor (a proxy when it lives elsewhere).
template <typename T>
struct Codec<ActorHandle<T>> {
  template <typename W>
  static void encode(W& out, const ActorHandle<T>& h) {
    out.write_pod(h.record()->home());
    out.write_pod(h.record()->id());
  }
  static ActorHandle<T> decode(ByteReader& in) {
    const auto home = in.read_pod<NodeId>();
    const auto id = in.read_pod<std::uint64_t>();
    return ActorHandle<T>(current_runtime().resolve_actor(home, id, detail::RemoteActor<T>::name));
  }
};

// Stops the actor: calls not yet started fail with ActorDiedError, and its
// name and resources are released. Idempotent.
template <typename T>
void kill(const ActorHandle<T>& handle) noexcept {
  if (handle.valid()) handle.record()->kill();
}

}  // namespace weft
