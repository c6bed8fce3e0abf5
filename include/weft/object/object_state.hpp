// detail::ObjectState: the node-local record behind every ObjectRef.
//
// It is pending until sealed exactly once with a payload or an error, and is
// reference-counted by the ObjectRefs (and task specs) that point at it; the
// last release frees the payload. Waiters (suspended coroutines, blocked
// threads, dependent tasks) register under a small lock and are notified
// outside it when the object is sealed.
#pragma once

#include <atomic>
#include <cassert>
#include <exception>
#include <span>
#include <utility>
#include <vector>

#include "weft/core/spinlock.hpp"
#include "weft/object/object_id.hpp"
#include "weft/object/object_store.hpp"

namespace weft::detail {

struct ObjectWaiter {
  ObjectWaiter* next = nullptr;
  void (*notify)(ObjectWaiter*) noexcept = nullptr;
};

class ObjectState;

// An owning, untyped pointer to an ObjectState.
class ObjectHandle {
 public:
  ObjectHandle() noexcept = default;
  // Takes over one reference.
  static ObjectHandle adopt(ObjectState* s) noexcept {
    ObjectHandle h;
    h.state_ = s;
    return h;
  }
  ObjectHandle(const ObjectHandle& o) noexcept;
  ObjectHandle(ObjectHandle&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  ObjectHandle& operator=(ObjectHandle o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~ObjectHandle();

  ObjectState* get() const noexcept { return state_; }
  ObjectState* operator->() const noexcept { return state_; }
  explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
  ObjectState* state_ = nullptr;
};

class ObjectState {
 public:
  ObjectState(ObjectStore& store, ObjectId id) noexcept : store_(store), id_(id) {
    store_.object_created();
  }
  ObjectState(const ObjectState&) = delete;
  ObjectState& operator=(const ObjectState&) = delete;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  // Adds a reference unless the object is already being destroyed.
  bool try_add_ref() noexcept {
    auto n = refs_.load(std::memory_order_relaxed);
    while (n != 0) {
      if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  ObjectId id() const noexcept { return id_; }
  ObjectStore& store() const noexcept { return store_; }
  bool ready() const noexcept { return sealed_.load(std::memory_order_acquire); }

  // Seal with a value or an error. Exactly once. `nested` are the objects
  // whose refs the payload contains: they live as long as this one.
  void seal(PayloadBuffer payload, std::vector<ObjectHandle> nested = {}) noexcept {
    payload_ = std::move(payload);
    nested_ = std::move(nested);
    publish();
  }
  void seal_error(std::exception_ptr error) noexcept {
    error_ = std::move(error);
    publish();
  }

  // Registers `w` to be notified on sealing; false if already sealed (then
  // `w` is not registered and the caller proceeds at once).
  bool add_waiter(ObjectWaiter* w) noexcept {
    lock_.lock();
    if (sealed_.load(std::memory_order_relaxed)) {
      lock_.unlock();
      return false;
    }
    w->next = waiters_;
    waiters_ = w;
    lock_.unlock();
    return true;
  }

  // Unregisters `w`; false if it was already taken for notification (then the
  // notification has run or is about to run).
  bool remove_waiter(ObjectWaiter* w) noexcept {
    lock_.lock();
    for (ObjectWaiter** p = &waiters_; *p != nullptr; p = &(*p)->next) {
      if (*p == w) {
        *p = w->next;
        lock_.unlock();
        return true;
      }
    }
    lock_.unlock();
    return false;
  }

  // Valid once ready().
  const std::exception_ptr& error() const noexcept { return error_; }
  // Someone learnt of the error (read it, or it failed their task, or it
  // was sent to a reader elsewhere): dropping the object then logs nothing.
  void mark_error_read() const noexcept { error_read_.store(true, std::memory_order_relaxed); }
  std::span<const std::byte> payload() const noexcept { return payload_.bytes(); }
  bool in_arena() const noexcept { return payload_.in_arena(); }
  // The objects whose refs the payload contains.
  const std::vector<ObjectHandle>& nested() const noexcept { return nested_; }

  // Makes the object findable by id, for payloads that name it.
  void mark_exported() noexcept {
    if (!exported_.exchange(true, std::memory_order_acq_rel)) store_.add_exported(id_, this);
  }

 private:
  ~ObjectState() {
    if (exported_.load(std::memory_order_acquire)) store_.remove_exported(id_, this);
    // The owner's copy is the one its user could have read.
    if (error_ && !error_read_.load(std::memory_order_relaxed) && id_.owner == store_.node_id()) {
      store_.unread_error_dropped(id_, error_);
    }
    store_.object_destroyed();
  }

  void publish() noexcept {
    lock_.lock();
    assert(!sealed_.load(std::memory_order_relaxed) && "object sealed twice");
    sealed_.store(true, std::memory_order_release);
    ObjectWaiter* list = waiters_;
    waiters_ = nullptr;
    lock_.unlock();
    // Waiters registered first are notified first.
    ObjectWaiter* reversed = nullptr;
    while (list != nullptr) {
      ObjectWaiter* next = list->next;
      list->next = reversed;
      reversed = list;
      list = next;
    }
    while (reversed != nullptr) {
      ObjectWaiter* next = reversed->next;  // read first: notify may free the waiter
      reversed->notify(reversed);
      reversed = next;
    }
  }

  std::atomic<std::uint32_t> refs_{1};
  std::atomic<bool> sealed_{false};
  SpinLock lock_;
  ObjectStore& store_;
  ObjectId id_;
  ObjectWaiter* waiters_ = nullptr;
  std::atomic<bool> exported_{false};
  mutable std::atomic<bool> error_read_{false};
  PayloadBuffer payload_;
  std::vector<ObjectHandle> nested_;
  std::exception_ptr error_;
};

inline ObjectHandle::ObjectHandle(const ObjectHandle& o) noexcept : state_(o.state_) {
  if (state_) state_->add_ref();
}
inline ObjectHandle::~ObjectHandle() {
  if (state_) state_->release();
}

}  // namespace weft::detail
