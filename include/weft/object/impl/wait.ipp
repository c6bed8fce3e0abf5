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
    auto timer = std::make_unique<asio::steady_timer>(reactor.context(), timeout);
    auto& t = *timer;
    t.async_wait([timer = std::move(timer), w](const asio::error_code&) {
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
      if (s->ready()) continue;
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
  std::size_t sealed = 0;
  for (auto* s : states) sealed += s->ready() ? 1 : 0;
  if (sealed >= num_returns) co_return;
  if (timeout && timeout->count() <= 0) co_return;

  Reactor* reactor = current_reactor();
  if (timeout && reactor == nullptr) {
    throw UsageError("weft::wait with a timeout needs a running node on this thread");
  }
  auto wait = std::make_shared<WaitState>(num_returns - sealed);
  wait->nodes.resize(states.size() - sealed);  // never reallocated: waiters point into it

  co_await WaitArm{wait, states, reactor, timeout};

  // Unregister the waiters that were not notified; notified ones let go themselves.
  for (auto& node : wait->nodes) {
    if (node.state != nullptr && node.state->remove_waiter(&node)) node.keep.reset();
  }
}

}  // namespace weft::detail
