// Waiting for a set of objects to seal without a thread or a coroutine:
// used where the reactor hands objects on once they are complete. Callable
// from any thread; `done` runs on the thread that seals the last object (or
// at once on the caller's if all are sealed).
#pragma once

#include <utility>
#include <vector>

#include "weft/object/object_state.hpp"

namespace weft::detail {

// Calls `done()` once every object in `objects` is sealed: at once if they
// are, else on the thread that seals the last.
template <typename F>
class SealWatch final : ObjectWaiter {
 public:
  static void start(std::vector<ObjectHandle> objects, F done) {
    (new SealWatch(std::move(objects), std::move(done)))->step();
  }

 private:
  SealWatch(std::vector<ObjectHandle> objects, F done)
      : objects_(std::move(objects)), done_(std::move(done)) {
    notify = [](ObjectWaiter* w) noexcept {
      auto* self = static_cast<SealWatch*>(w);
      ++self->next_;
      self->step();
    };
  }
  void step() noexcept {
    for (; next_ < objects_.size(); ++next_) {
      if (objects_[next_]->add_waiter(this)) return;
    }
    F done = std::move(done_);
    delete this;
    done();
  }

  std::vector<ObjectHandle> objects_;
  std::size_t next_ = 0;
  F done_;
};

template <typename F>
inline void when_sealed(std::vector<ObjectHandle> objects, F done) {
  SealWatch<F>::start(std::move(objects), std::move(done));
}

// Seals a copied object once every object its value names is here too, so
// that whoever reads it can read those as well.
inline void seal_once_named_arrive(ObjectHandle object, PayloadBuffer payload,
                                   std::vector<ObjectHandle> named) {
  std::vector<ObjectHandle> waiting = named;
  when_sealed(std::move(waiting), [object = std::move(object), payload = std::move(payload),
                                   named = std::move(named)]() mutable {
    object->seal(std::move(payload), std::move(named));
  });
}
}  // namespace weft::detail
