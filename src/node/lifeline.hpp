// detail::Lifeline: keeps callbacks that may outlive what they call into
// from running once it is gone, such as a seal on an executor after the
// node let its cluster go (an actor call ending during the node's
// shutdown), or a job posted to the reactor.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

#include "node/kj_asio.hpp"
#include "weft/core/reactor.hpp"

namespace weft::detail {

class Lifeline {
 public:
  Lifeline() = default;
  Lifeline(const Lifeline&) = delete;
  Lifeline& operator=(const Lifeline&) = delete;

  // After this no guarded callback runs, and none is running. Its owner
  // calls it before its members go, as they are what callbacks touch.
  void end() {
    std::lock_guard lock(state_->mutex);
    state_->alive = false;
  }

  // `f`, made to run only while this lives (any thread).
  template <typename F>
  auto guard(F f) const {
    return [state = state_, f = std::move(f)]() mutable {
      std::lock_guard lock(state->mutex);
      if (state->alive) f();
    };
  }

  // Runs `f` on `reactor` inside KJ's loop, if this still lives by then
  // (any thread). The events `f` makes runnable run after it, outside the
  // guard.
  template <typename F>
  void post(Reactor& reactor, F f) const {
    reactor.post([guarded = guard(std::move(f))]() mutable {
      KjAsioEventPort::CompletionScope scope;
      guarded();
    });
  }

 private:
  // Recursive, as a callback it guards may seal objects whose callbacks it
  // guards too.
  struct State {
    std::recursive_mutex mutex;
    bool alive = true;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace weft::detail
