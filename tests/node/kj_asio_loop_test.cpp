// KJ inside the Asio reactor: run_on_kj, the hop from a weft coroutine to the
// reactor's KJ loop and back, how its failures arrive, and kj::Executor calls
// into the loop from other threads.
#include <memory>
#include <stdexcept>

#include "kj_asio_fixture.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/thread_pool.hpp"
#include "weft/core/when_all.hpp"
#include "weft_test.hpp"

namespace {
using kj_asio_test::transport_error_kind;
using weft::TransportError;
}  // namespace

TEST_CASE("an exception thrown by run_on_kj's function reaches the coroutine as it is") {
  weft::Reactor reactor{"kj-throw"};
  weft::detail::ScopedKjLoop loop(reactor);
  CHECK_THROWS_AS(weft::sync_wait(weft::run_on_kj(
                      reactor, []() -> kj::Promise<int> { throw std::out_of_range("bad index"); })),
                  std::out_of_range);
  CHECK_THROWS_AS(weft::sync_wait(weft::run_on_kj(
                      reactor, []() -> kj::Promise<int> { KJ_FAIL_REQUIRE("kj says no"); })),
                  TransportError);
  CHECK(weft::sync_wait(weft::run_on_kj(reactor, [] { return 7; })) == 7);
}

TEST_CASE("run_on_kj on a reactor without a KJ loop throws UsageError") {
  weft::Reactor reactor{"kj-none"};
  CHECK_THROWS_AS(weft::sync_wait(weft::run_on_kj(reactor, [] { return kj::Promise<int>(1); })),
                  weft::UsageError);
}

TEST_CASE("destroying the KJ loop fails a pending run_on_kj with TransportError") {
  weft::ThreadPool pool({.threads = 2, .name = "kj-test"});
  weft::Reactor reactor{"kj-stop"};
  auto loop = std::make_unique<weft::detail::ScopedKjLoop>(reactor);
  auto pending = [&]() -> weft::Task<TransportError::Kind> {
    co_await weft::resume_on(pool);
    co_return co_await transport_error_kind(
        weft::run_on_kj(reactor, [] { return kj::Promise<void>(kj::NEVER_DONE); }));
  };
  auto stop = [&]() -> weft::Task<void> {
    co_await weft::resume_on(pool);
    co_await weft::run_on_kj(reactor, [] {});  // the reactor is FIFO: the pending call started
    loop.reset();
  };
  auto [kind, stopped] = weft::sync_wait(weft::when_all(pending(), stop()));
  (void)stopped;
  CHECK(kind == TransportError::Kind::disconnected);
}

TEST_CASE("a kj::Executor call from another thread runs on the reactor's KJ loop") {
#if defined(__SANITIZE_THREAD__)
  // kj::Mutex waits on raw futexes, which TSan cannot see in the uninstrumented
  // libkj: every cross-thread hand-off here is reported as a race.
  WARN("skipped under ThreadSanitizer (false positives inside libkj)");
  return;
#endif
  weft::Reactor reactor{"kj-exec"};
  weft::detail::ScopedKjLoop loop(reactor);
  auto executor = weft::sync_wait(
      weft::run_on_kj(reactor, [] { return kj::getCurrentThreadExecutor().addRef(); }));
  bool on_reactor_thread = executor->executeSync([&] { return reactor.on_reactor_thread(); });
  CHECK(on_reactor_thread);
  // executeAsync's promise belongs to the calling thread's own KJ loop.
  kj::EventLoop caller_loop;
  kj::WaitScope caller_scope(caller_loop);
  int sum = executor->executeAsync([] { return kj::evalLater([] { return 2; }); })
                .then([](int v) { return v + 1; })
                .wait(caller_scope);
  CHECK(sum == 3);
}
