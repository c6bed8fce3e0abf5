// detail::SealGroup's untyped core; compiled once into libweft.
#include "weft/object/seal_group.hpp"

namespace weft::detail {

void SealGroup::on_sealed(ObjectWaiter* w) noexcept {
  SealGroup* g = static_cast<Node*>(w)->group;
  // While this waiter still holds its reference.
  if (g->complete_on_error_ && static_cast<Node*>(w)->object->error()) g->complete_now();
  // Read first: once this waiter lets go of its reference, the group may be
  // freed by another thread unless this seal completes it.
  const std::uint64_t needed = g->needed_;
  // One more seal, one waiter fewer (unsigned: adding kSeal - kRef wraps to both).
  constexpr std::uint64_t delta = kSeal - kRef;
  const std::uint64_t old = g->state_.fetch_add(delta, std::memory_order_acq_rel);
  const std::uint64_t now = old + delta;
  if (!complete_in(old, needed) && complete_in(now, needed)) {
    g->complete();
  } else if ((now >> kRefShift) == 0) {
    delete g;
  }
}

bool SealGroup::finish_arming() noexcept {
  const std::uint64_t needed = needed_;  // read first, as in on_sealed
  const std::uint64_t unwatched = capacity_ - registered_;
  const std::uint64_t delta = unwatched * kSeal - unwatched * kRef - kArming;
  const std::uint64_t now = state_.fetch_add(delta, std::memory_order_acq_rel) + delta;
  return complete_in(now, needed);
}

void SealGroup::complete_now() noexcept {
  const std::uint64_t old = state_.fetch_or(kForced, std::memory_order_acq_rel);
  if (!complete_in(old, needed_) && complete_in(old | kForced, needed_)) complete();
}

void SealGroup::cancel() noexcept {
  std::uint64_t refs = 1;
  for (Node* node = nodes_; node != nodes_ + used_; ++node) {
    // A sealed object has taken its waiters: those notify, and let go, themselves.
    if (!node->object->ready() && node->object->remove_waiter(node)) ++refs;
  }
  drop(refs);
}

void SealGroup::drop(std::uint64_t refs) noexcept {
  // Holding every reference left, nobody can race us for the last: skip the write.
  if ((state_.load(std::memory_order_acquire) >> kRefShift) == refs ||
      (state_.fetch_sub(refs * kRef, std::memory_order_acq_rel) >> kRefShift) == refs) {
    delete this;
  }
}

}  // namespace weft::detail
