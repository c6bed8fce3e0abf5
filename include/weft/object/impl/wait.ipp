// weft::wait's untyped core; compiled once into libweft.
#include <coroutine>
#include <memory>

#include "weft/core/executor.hpp"
#include "weft/core/reactor.hpp"
#include "weft/core/spinlock.hpp"
#include "weft/error.hpp"
#include "weft/object/seal_group.hpp"
#include "weft/object/wait.hpp"

namespace weft::detail {

// WaitGroup, WaitTimerLink and WaitArm are not in an anonymous namespace:
// wait_sealed's coroutine frame holds them.

// Resumes the waiting coroutine, handing it the completion's reference: it
// cancels the group once it runs.
class WaitGroup final : public SealGroup {
 public:
  WaitGroup(Executor* executor, std::coroutine_handle<> handle) noexcept
      : executor_(executor), handle_(handle) {}

 private:
  void complete() noexcept override { resume_or_post(executor_, handle_); }

  Executor* executor_;
  std::coroutine_handle<> handle_;
};

// What the timeout holds of a wait: the group, linked in while the wait is
// suspended, so that a long timeout keeps only this link alive. The timer is
// started before the group exists (so nothing can fail once waiters are
// registered); a group linked after it fired completes at once.
class WaitTimerLink {
 public:
  void link(SealGroup* g) noexcept {
    lock_.lock();
    group_ = g;
    const bool fired = fired_;
    lock_.unlock();
    if (fired) g->complete_now();
  }
  void unlink() noexcept {
    lock_.lock();
    group_ = nullptr;
    lock_.unlock();
  }
  void fire() noexcept {
    lock_.lock();
    fired_ = true;
    SealGroup* g = group_;
    if (g != nullptr) g->add_ref();
    lock_.unlock();
    if (g != nullptr) {
      g->complete_now();
      g->release();
    }
  }

 private:
  SpinLock lock_;
  SealGroup* group_ = nullptr;
  bool fired_ = false;
};

namespace {
void start_timer(Reactor& reactor, std::shared_ptr<WaitTimerLink> link,
                 std::chrono::nanoseconds timeout) {
  reactor.post([&reactor, link = std::move(link), timeout] {
    reactor.call_after(std::chrono::duration_cast<Clock::duration>(timeout),
                       [link] { link->fire(); });
  });
}
}  // namespace

// Makes the group and registers the waiters as the coroutine suspends.
struct WaitArm {
  const std::vector<ObjectState*>& pending;
  std::size_t needed;
  WaitTimerLink* link;
  bool fail_fast;
  WaitGroup* group = nullptr;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    group = SealGroup::make<WaitGroup>(pending.size(), needed, current_executor(), h);
    if (fail_fast) group->complete_on_error();
    if (link != nullptr) link->link(group);
    for (auto* s : pending) group->watch(s);
    return !group->finish_arming();  // after this, the frame may already be resumed
  }
  void await_resume() const noexcept {}
};

Task<void> wait_sealed(std::vector<ObjectState*> states, std::size_t num_returns,
                       std::optional<std::chrono::nanoseconds> timeout, bool fail_fast) {
  // Only refs still pending are watched; one sealed from here on is counted
  // through add_waiter's refusal, so none is missed.
  std::vector<ObjectState*> pending;
  for (auto* s : states) {
    if (!s->ready()) {
      pending.push_back(s);
    } else if (fail_fast && s->error()) {
      co_return;
    }
  }
  const std::size_t sealed = states.size() - pending.size();
  if (sealed >= num_returns) co_return;
  if (timeout && timeout->count() <= 0) co_return;

  std::shared_ptr<WaitTimerLink> link;
  if (timeout) {
    Reactor* reactor = current_reactor();
    if (reactor == nullptr) {
      throw UsageError("weft::wait with a timeout needs a running node on this thread");
    }
    link = std::make_shared<WaitTimerLink>();
    start_timer(*reactor, link, *timeout);
  }

  // Named, not a braced temporary: GCC 12 destroys a braced aggregate awaiter
  // twice when it suspends.
  WaitArm arm{pending, num_returns - sealed, link.get(), fail_fast};
  co_await arm;

  if (link) link->unlink();
  arm.group->cancel();  // the waiters not notified are let go
}

}  // namespace weft::detail
