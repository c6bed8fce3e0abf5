// Putting values into the store and reading them from plain code.
//
//   weft::ObjectRef<std::string> r = weft::put(std::string("hello"));
//   std::string s = weft::get(r);                    // blocks; not on executor threads
//   std::string t = weft::get(r, std::chrono::seconds(1));   // or throws TimeoutError
//
// put() uses the calling thread's node (any thread of a running node, or the
// driver); from elsewhere pass the store explicitly.
#pragma once

#include <chrono>

#include "weft/core/blocking_event.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/error.hpp"
#include "weft/object/object_ref.hpp"
#include "weft/object/object_store.hpp"

namespace weft {

namespace detail {

inline ObjectHandle make_pending_object(ObjectStore& store) {
  return ObjectHandle::adopt(new ObjectState(store, store.next_id()));
}

// Encodes `value` into the store and seals `state` with it. Encoding failures
// (a full store, a throwing cereal serializer) seal the object with the error,
// so whoever awaits it learns why.
template <typename T>
void seal_with_value(ObjectState& state, const T& value) noexcept {
  try {
    PayloadBuffer buf = state.store().allocate(payload_size(value), state.id());
    std::vector<ObjectHandle> nested;
    {
      NestedRefScope collect(nested);
      write_payload(buf.bytes(), value);
    }
    state.seal(std::move(buf), std::move(nested));
  } catch (...) {
    state.seal_error(std::current_exception());
  }
}

inline ObjectStore& require_current_store(const char* what) {
  ObjectStore* s = current_store();
  if (s == nullptr) {
    throw UsageError(std::string(what) +
                     " needs a running weft node on this thread; call it from a task, an actor, "
                     "the driver, or pass the ObjectStore explicitly");
  }
  return *s;
}

}  // namespace detail

// Stores `value` as a new object owned by this node. Throws
// ObjectStoreFullError if it does not fit.
template <typename T>
ObjectRef<std::decay_t<T>> put(ObjectStore& store, const T& value) {
  using V = std::decay_t<T>;
  auto h = detail::ObjectHandle::adopt(new detail::ObjectState(store, store.next_id()));
  PayloadBuffer buf = store.allocate(payload_size<V>(value), h->id());
  std::vector<detail::ObjectHandle> nested;
  {
    detail::NestedRefScope collect(nested);
    write_payload<V>(buf.bytes(), value);
  }
  h->seal(std::move(buf), std::move(nested));
  return ObjectRef<V>(std::move(h));
}

template <typename T>
ObjectRef<std::decay_t<T>> put(const T& value) {
  return put(detail::require_current_store("weft::put"), value);
}

namespace detail {
struct BlockingWaiter : ObjectWaiter {
  BlockingEvent event;
  BlockingWaiter() noexcept {
    notify = [](ObjectWaiter* w) noexcept { static_cast<BlockingWaiter*>(w)->event.set(); };
  }
};
}  // namespace detail

// Blocks the calling thread until `ref` is sealed, then returns its value.
// Throws UsageError on an executor thread (blocking one could deadlock the
// node): use `co_await ref` there.
template <typename T>
T get(const ObjectRef<T>& ref) {
  auto* s = ref.handle().get();
  if (!s->ready()) {
    detail::check_not_on_executor("weft::get");
    detail::BlockingWaiter w;
    if (s->add_waiter(&w)) w.event.wait();
  }
  return ObjectRef<T>::read(*s);
}

// As get(ref), but throws TimeoutError if `ref` is not sealed within `timeout`.
template <typename T, typename Rep, typename Period>
T get(const ObjectRef<T>& ref, std::chrono::duration<Rep, Period> timeout) {
  auto* s = ref.handle().get();
  if (!s->ready()) {
    detail::check_not_on_executor("weft::get");
    detail::BlockingWaiter w;
    if (s->add_waiter(&w) && !w.event.wait_until(weft::Clock::now() + timeout)) {
      if (s->remove_waiter(&w)) {
        throw TimeoutError("weft::get: " + detail::describe_object(*s) + " not ready after " +
                           std::to_string(std::chrono::duration<double>(timeout).count()) + " s");
      }
      w.event.wait();  // sealed just now; its notification is on its way
    }
  }
  return ObjectRef<T>::read(*s);
}

}  // namespace weft
