// weft::ObjectRef<T>: a typed, copyable, reference-counted future of a T.
//
//   weft::ObjectRef<double> r = weft::submit<&partial_pi>(1'000'000, 7);
//   double x = co_await r;                // in a coroutine: suspends, never blocks
//   double y = weft::get(r);              // in plain code: blocks this thread
//   auto v = co_await big.view();         // ObjectRef<std::vector<float>>: zero-copy
//
// Awaiting decodes a fresh T from the sealed payload each time; a payload of
// another type throws TypeMismatchError naming both types; a failed task
// rethrows its TaskError. The object lives while any ObjectRef (or a task
// that takes it as an argument) refers to it. ObjectRef<void> is the result
// of a task that returns nothing: awaiting it waits and rethrows failures.
#pragma once

#include <coroutine>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "weft/core/executor.hpp"
#include "weft/error.hpp"
#include "weft/object/object_id.hpp"
#include "weft/object/object_state.hpp"
#include "weft/object/payload.hpp"

namespace weft {

namespace detail {

// Suspends the awaiting coroutine until `state` is sealed; resumes it on the
// executor it was suspended from.
class SealedAwaiter : public ObjectWaiter {
 public:
  explicit SealedAwaiter(ObjectState* state) noexcept : state_(state) {}

  bool await_ready() const noexcept { return state_->ready(); }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    handle_ = h;
    executor_ = current_executor();
    notify = [](ObjectWaiter* w) noexcept {
      auto* self = static_cast<SealedAwaiter*>(w);
      resume_or_post(self->executor_, self->handle_);
    };
    return state_->add_waiter(this);  // false: sealed meanwhile, carry on at once
  }
  void await_resume() const noexcept {}

 protected:
  ObjectState* state_;

 private:
  std::coroutine_handle<> handle_;
  Executor* executor_ = nullptr;
};

inline std::string describe_object(const ObjectState& s) { return "object " + s.id().to_string(); }

// Names the object in an error message, formatted only if one is thrown.
inline auto describer(const ObjectState& s) {
  return [&s] { return describe_object(s); };
}

inline void rethrow_if_failed(const ObjectState& s) {
  if (s.error()) {
    s.mark_error_read();
    std::rethrow_exception(s.error());
  }
}

}  // namespace detail

// A pinned, read-only view of a numeric vector in the object store. The
// object cannot be freed while a view of it exists.
template <typename E>
class ObjectView {
 public:
  ObjectView(detail::ObjectHandle pin, std::span<const E> data) noexcept
      : pin_(std::move(pin)), data_(data) {}
  std::span<const E> span() const noexcept { return data_; }
  const E* data() const noexcept { return data_.data(); }
  std::size_t size() const noexcept { return data_.size(); }
  const E& operator[](std::size_t i) const noexcept { return data_[i]; }
  auto begin() const noexcept { return data_.begin(); }
  auto end() const noexcept { return data_.end(); }

 private:
  detail::ObjectHandle pin_;
  std::span<const E> data_;
};

template <typename T>
class ObjectRef {
 public:
  using value_type = T;

  ObjectRef() noexcept = default;
  explicit ObjectRef(detail::ObjectHandle h) noexcept : handle_(std::move(h)) {}

  ObjectId id() const noexcept { return handle_->id(); }
  bool valid() const noexcept { return static_cast<bool>(handle_); }
  bool is_ready() const noexcept { return handle_->ready(); }

  auto operator co_await() const noexcept {
    struct Awaiter : detail::SealedAwaiter {
      using SealedAwaiter::SealedAwaiter;
      T await_resume() {
        SealedAwaiter::await_resume();
        return ObjectRef::read(*state_);
      }
    };
    return Awaiter{handle_.get()};
  }

  // Zero-copy access to a vector of numbers (DESIGN §6).
  auto view() const noexcept requires RawPayload<T>::value {
    using E = typename RawPayload<T>::element_type;
    struct Awaiter : detail::SealedAwaiter {
      detail::ObjectHandle pin;
      Awaiter(detail::ObjectHandle h) noexcept : SealedAwaiter(h.get()), pin(std::move(h)) {}
      ObjectView<E> await_resume() {
        SealedAwaiter::await_resume();
        detail::rethrow_if_failed(*state_);
        auto body = payload_body<T>(state_->payload(), detail::describer(*state_));
        std::span<const E> data(reinterpret_cast<const E*>(body.data()), body.size() / sizeof(E));
        return ObjectView<E>(std::move(pin), data);
      }
    };
    return Awaiter{handle_};
  }

  // The value of a sealed object (throws its error, or TypeMismatchError).
  static T read(const detail::ObjectState& s) {
    detail::rethrow_if_failed(s);
    if constexpr (std::is_void_v<T>) {
      read_payload<std::monostate>(s.payload(), detail::describer(s));
    } else {
      return read_payload<T>(s.payload(), detail::describer(s));
    }
  }

  const detail::ObjectHandle& handle() const noexcept { return handle_; }

 private:
  detail::ObjectHandle handle_;
};

namespace detail {
// While set, ObjectRefs encoded on this thread are collected here, so that
// whatever holds the encoding (an object, a task's arguments) keeps the
// objects it names alive.
inline thread_local std::vector<ObjectHandle>* tls_nested_refs = nullptr;

class NestedRefScope {
 public:
  explicit NestedRefScope(std::vector<ObjectHandle>& sink) noexcept
      : saved_(std::exchange(tls_nested_refs, &sink)) {}
  ~NestedRefScope() { tls_nested_refs = saved_; }
  NestedRefScope(const NestedRefScope&) = delete;
  NestedRefScope& operator=(const NestedRefScope&) = delete;

 private:
  std::vector<ObjectHandle>* saved_;
};
}  // namespace detail

// An ObjectRef inside a value (a vector of refs, say) travels as its id; the
// reader gets a ref to the same object, found through the node's store.
template <typename T>
struct Codec<ObjectRef<T>> {
  template <typename W>
  static void encode(W& out, const ObjectRef<T>& ref) {
    out.write_pod(ref.id().owner);
    out.write_pod(ref.id().sequence);
    if constexpr (std::is_same_v<W, SpanWriter>) {
      ref.handle()->mark_exported();
      if (detail::tls_nested_refs != nullptr) detail::tls_nested_refs->push_back(ref.handle());
    }
  }
  static ObjectRef<T> decode(ByteReader& in) {
    ObjectId id;
    id.owner = in.read_pod<NodeId>();
    id.sequence = in.read_pod<std::uint64_t>();
    ObjectStore* store = current_store();
    if (store == nullptr) {
      throw UsageError("decoding an ObjectRef needs a weft node on this thread");
    }
    detail::ObjectState* s = store->acquire_exported(id);
    if (s == nullptr) {
      throw Error("object " + id.to_string() + " named in this payload no longer exists");
    }
    return ObjectRef<T>(detail::ObjectHandle::adopt(s));
  }
};

template <typename T>
struct IsObjectRef : std::false_type {};
template <typename T>
struct IsObjectRef<ObjectRef<T>> : std::true_type {};

}  // namespace weft
