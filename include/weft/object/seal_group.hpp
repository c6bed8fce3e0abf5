// detail::SealGroup: waiting for a set of objects to seal, without a thread
// or a coroutine of its own. It registers one ObjectWaiter per object, counts
// seals, and runs its completion once `needed` of them are sealed: all of
// them for a task's arguments (when_refs_sealed) and the cluster's
// when_sealed, k of n for weft::wait, which may also complete it early
// (complete_now, its timeout).
//
//   when_sealed(std::move(objects), [] { ... });   // once every object is sealed
//
// Other completions derive a final class overriding complete():
//
//   auto* g = SealGroup::make<Resume>(objects.size(), needed, ...);
//   for (ObjectState* s : objects) g->watch(s);
//   if (g->finish_arming()) { ... }   // complete already: carry on here
//
// An object sealed with an error counts as sealed: whoever reads it learns
// why. The group only counts; which objects are sealed, ask them (ready()).
// Cost: one allocation (the group and its waiters), and one atomic step per
// seal besides add_waiter's lock.
#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/object/object_state.hpp"

namespace weft::detail {

// A group is one allocation, its waiters trailing it, and counts references
// to itself: one per waiter still registered, plus the one that completion
// hands to complete(). Whoever lets go of the last frees it.
//
// Threads: make, watch and finish_arming on one thread (the armer); seals,
// and so complete(), on any. Registration holds completion back, so
// complete() never runs while the armer still touches the group.
class SealGroup {
 public:
  SealGroup(const SealGroup&) = delete;
  SealGroup& operator=(const SealGroup&) = delete;

  // A group of type G (final, derived from SealGroup, built from `args`)
  // with room for `objects` waiters, complete once `needed` (at most
  // `objects`) of them are sealed. It starts arming, and the caller holds
  // the completion's reference until finish_arming().
  template <typename G, typename... Args>
  static G* make(std::size_t objects, std::size_t needed, Args&&... args);

  // Registers the next waiter on `object` (one found sealed counts as a
  // seal). The object must outlive the group's completion, and for a group
  // completed early, its cancel(). Armer only.
  void watch(ObjectState* object) noexcept;
  // Completes the group as soon as one object is sealed with an error.
  // Armer only, before the first watch().
  void complete_on_error() noexcept { complete_on_error_ = true; }

  // Ends registration; room not watched counts as objects found sealed. True
  // if the group is complete: complete() is then not called, and the caller
  // keeps the reference it would have handed over. False: complete() runs
  // later, where the needed-th seal (or complete_now) happens, and the group
  // may be gone as soon as this returns.
  bool finish_arming() noexcept;

  // Completes the group now unless it is complete already (exactly one of
  // this and the needed-th seal runs complete()). While arming, this makes
  // finish_arming() return true. The caller must hold a reference.
  void complete_now() noexcept;

  // Another reference (a timer's), taken by one who holds a reference.
  void add_ref() noexcept { state_.fetch_add(kRef, std::memory_order_relaxed); }
  void release() noexcept { drop(1); }

  // Once the group is complete, for one that may have waiters left (k of n,
  // complete_now): unregisters those not yet notified and drops the
  // reference complete() or finish_arming() handed over. Notifications
  // already under way finish on their threads; the last one frees the group.
  void cancel() noexcept;

 protected:
  SealGroup() noexcept = default;
  virtual ~SealGroup() = default;
  // make() allocates more than sizeof(G), so deletion must not pass a size.
  static void operator delete(void* p) noexcept { ::operator delete(p); }

  // Runs exactly once, holding the completion's reference; it releases that
  // reference, or hands it on to whoever cancels the group.
  virtual void complete() noexcept = 0;

 private:
  struct Node : ObjectWaiter {
    SealGroup* group;
    ObjectState* object;
  };

  // One word, so that a seal costs one atomic step (as the single counter
  // it replaces did): seals counted, two flags, references.
  static constexpr std::uint64_t kSeal = 1;
  static constexpr std::uint64_t kSealMask = (std::uint64_t{1} << 31) - 1;
  static constexpr std::uint64_t kArming = std::uint64_t{1} << 31;
  static constexpr std::uint64_t kForced = std::uint64_t{1} << 32;
  static constexpr int kRefShift = 33;
  static constexpr std::uint64_t kRef = std::uint64_t{1} << kRefShift;

  static bool complete_in(std::uint64_t s, std::uint64_t needed) noexcept {
    return (s & kArming) == 0 && ((s & kSealMask) >= needed || (s & kForced) != 0);
  }
  static void on_sealed(ObjectWaiter* w) noexcept;
  void drop(std::uint64_t refs) noexcept;

  std::atomic<std::uint64_t> state_{0};
  Node* nodes_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint32_t needed_ = 0;
  std::uint32_t used_ = 0;        // nodes handed out by watch(); armer only
  std::uint32_t registered_ = 0;  // of those, registered on a pending object
  bool complete_on_error_ = false;
};

template <typename G, typename... Args>
G* SealGroup::make(std::size_t objects, std::size_t needed, Args&&... args) {
  static_assert(std::is_base_of_v<SealGroup, G> && std::is_final_v<G>);
  static_assert(alignof(G) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  // 2^31 waiters would take 64 GiB of nodes: no real set comes near.
  assert(objects <= kSealMask && needed <= objects);
  constexpr std::size_t offset = (sizeof(G) + alignof(Node) - 1) / alignof(Node) * alignof(Node);
  void* p = ::operator new(offset + objects * sizeof(Node));
  G* g = nullptr;
  try {
    g = ::new (p) G(std::forward<Args>(args)...);
  } catch (...) {
    ::operator delete(p);
    throw;
  }
  SealGroup& base = *g;
  base.nodes_ = reinterpret_cast<Node*>(static_cast<std::byte*>(p) + offset);
  base.capacity_ = static_cast<std::uint32_t>(objects);
  base.needed_ = static_cast<std::uint32_t>(needed);
  // Every waiter is counted up front; finish_arming takes back the unused.
  base.state_.store(kArming | (objects + 1) * kRef, std::memory_order_relaxed);
  return g;
}

inline void SealGroup::watch(ObjectState* object) noexcept {
  assert(used_ < capacity_ && "SealGroup: more objects watched than it has room for");
  Node* node = ::new (nodes_ + used_++) Node{{nullptr, &SealGroup::on_sealed}, this, object};
  if (object->add_waiter(node)) {
    ++registered_;
  } else if (complete_on_error_ && object->error()) {
    complete_now();
  }
}

// Calls `done()` once every object in `objects` is sealed: at once on the
// caller's thread if they are, else on the thread that seals the last one.
// The group keeps the objects alive until then.
template <typename F>
class WhenSealed final : public SealGroup {
 public:
  WhenSealed(std::vector<ObjectHandle> objects, F done)
      : objects_(std::move(objects)), done_(std::move(done)) {}

  static void start(std::vector<ObjectHandle> objects, F done) {
    const auto pending = static_cast<std::size_t>(std::count_if(
        objects.begin(), objects.end(), [](const ObjectHandle& o) { return !o->ready(); }));
    if (pending == 0) {
      done();
      return;
    }
    auto* g = make<WhenSealed>(pending, pending, std::move(objects), std::move(done));
    for (const ObjectHandle& o : g->objects_) {
      if (!o->ready()) g->watch(o.get());
    }
    if (g->finish_arming()) g->complete();
  }

 private:
  void complete() noexcept override {
    F done = std::move(done_);
    release();  // every waiter has been notified: frees the group, lets the objects go
    done();
  }

  std::vector<ObjectHandle> objects_;
  F done_;
};

template <typename F>
inline void when_sealed(std::vector<ObjectHandle> objects, F done) {
  WhenSealed<F>::start(std::move(objects), std::move(done));
}

}  // namespace weft::detail
