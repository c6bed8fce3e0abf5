// weft::wait's untyped core; compiled once into libweft.
#include "weft/error.hpp"
#include "weft/object/wait.hpp"

namespace weft::detail {

namespace {
void on_sealed(ObjectWaiter* w) noexcept {
  auto* node = static_cast<WaitNode*>(w);
  auto wait = std::move(node->keep);  // may free the node (and WaitState) at scope end
  if (wait->still_needed.fetch_sub(1, std::memory_order_acq_rel) == 1) wait->trigger();
}

void start_timer(Reactor& reactor, const std::shared_ptr<WaitState>& wait,
                 std::chrono::nanoseconds timeout) {
  reactor.post([&reactor, w = std::weak_ptr<WaitState>(wait), timeout] {
    reactor.call_after(std::chrono::duration_cast<Clock::duration>(timeout), [w] {
      if (auto s = w.lock()) s->trigger();
    });
  });
}
}  // namespace

// Registers the waiters and arms the timer as the coroutine suspends.
struct WaitArm {
  std::shared_ptr<WaitState> wait;
  const std::vector<ObjectState*>& states;
  Reactor* reactor;
  std::optional<std::chrono::nanoseconds> timeout;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    wait->handle = h;
    wait->executor = current_executor();
    std::size_t i = 0;
    for (auto* s : states) {
      WaitNode& node = wait->nodes[i++];
      node.notify = &on_sealed;
      node.state = s;
      node.keep = wait;
      if (!s->add_waiter(&node)) {
        node.keep.reset();
        node.state = nullptr;
        if (wait->still_needed.fetch_sub(1, std::memory_order_acq_rel) == 1) wait->trigger();
      }
    }
    if (timeout) start_timer(*reactor, wait, *timeout);
    return !wait->pass_gate_inline();  // after this, the frame may already be resumed
  }
  void await_resume() const noexcept {}
};

Task<void> wait_sealed(std::vector<ObjectState*> states, std::size_t num_returns,
                       std::optional<std::chrono::nanoseconds> timeout) {
  // Only refs still pending are watched; one sealed from here on is counted
  // through add_waiter's refusal, so none is missed.
  std::vector<ObjectState*> pending;
  for (auto* s : states) {
    if (!s->ready()) pending.push_back(s);
  }
  const std::size_t sealed = states.size() - pending.size();
  if (sealed >= num_returns) co_return;
  if (timeout && timeout->count() <= 0) co_return;

  Reactor* reactor = current_reactor();
  if (timeout && reactor == nullptr) {
    throw UsageError("weft::wait with a timeout needs a running node on this thread");
  }
  auto wait = std::make_shared<WaitState>(num_returns - sealed);
  wait->nodes.resize(pending.size());  // never reallocated: waiters point into it

  // Named, not a braced temporary: GCC 12 destroys a braced aggregate awaiter
  // twice when it suspends, which would drop `wait` once too often.
  WaitArm arm{wait, pending, reactor, timeout};
  co_await arm;

  // Unregister the waiters that were not notified; notified ones let go themselves.
  for (auto& node : wait->nodes) {
    if (node.state != nullptr && node.state->remove_waiter(&node)) node.keep.reset();
  }
}

}  // namespace weft::detail
