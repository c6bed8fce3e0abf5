// Cap'n Proto's KJ event loop, run inside a node's Asio reactor (DESIGN.md §7).
//
// The reactor thread owns one KjLoop; KJ's queued events run as handlers
// posted to the reactor's io_context, so KJ never becomes a second event loop.
// Sockets are Asio sockets wrapped as kj::AsyncIoStream, and coroutines on
// executor threads reach KJ code with run_on_kj:
//
//   weft::Reactor reactor;
//   weft::detail::ScopedKjLoop kj_loop(reactor);        // the loop lives on reactor's thread
//   int v = co_await weft::run_on_kj(reactor, [&] {      // f runs on the reactor thread
//     return client.echoRequest().send().then([](auto r) { return r.getValue(); });
//   });                                                  // back on the coroutine's executor
//
// Everything KJ (promises, streams, capabilities) belongs to the reactor
// thread: create, use and destroy it only there.
#pragma once

#include <kj/async-io.h>
#include <kj/async.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "node/wire_error.hpp"
#include "weft/core/executor.hpp"
#include "weft/core/reactor.hpp"
#include "weft/core/task.hpp"
#include "weft/error.hpp"

// KJ's interfaces (EventPort, AsyncIoStream, ...) have no virtual destructor:
// KJ destroys objects through kj::Own, whose disposer knows the concrete type.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

namespace weft {

namespace detail {

// The kj::EventPort that lets a kj::EventLoop live inside an Asio io_context.
// All members except wake() run on the io_context's (single) thread.
//  - setRunnable(true) posts a handler that runs at most kTurnsPerRun turns of
//    the loop, then posts itself again while work remains: KJ work interleaves
//    with I/O completions and never runs re-entrantly inside another handler.
//  - An Asio completion handler that fulfills KJ promises (socket readiness,
//    connect) holds a CompletionScope: the events it makes runnable run when
//    the scope ends, still inside that handler but outside any KJ callback,
//    saving the post and the extra reactor poll a posted run would cost.
//  - wake() (any thread; kj::Executor calls it) posts a WaitScope::poll(),
//    which drains events queued by other threads.
//  - wait() (only reached through Promise::wait() on this thread) runs one
//    io_context handler; poll() never runs handlers, so KJ cannot recurse.
class KjAsioEventPort final : public kj::EventPort {
 public:
  static constexpr unsigned kTurnsPerRun = 128;

  // See above. Construct on the reactor thread in an Asio completion handler
  // (never inside a KJ callback); a no-op where the thread has no KjLoop.
  class CompletionScope {
   public:
    CompletionScope() noexcept;
    ~CompletionScope();
    CompletionScope(const CompletionScope&) = delete;
    CompletionScope& operator=(const CompletionScope&) = delete;

   private:
    KjAsioEventPort* port_ = nullptr;
  };

  explicit KjAsioEventPort(asio::io_context& io);
  ~KjAsioEventPort();
  KjAsioEventPort(const KjAsioEventPort&) = delete;
  KjAsioEventPort& operator=(const KjAsioEventPort&) = delete;

  // Binds the loop this port drives; detach() before the loop is destroyed.
  // Handlers still queued in the io_context afterwards do nothing.
  void attach(kj::EventLoop& loop, kj::WaitScope& scope) noexcept;
  void detach() noexcept;

  bool wait() override;
  bool poll() override;
  void setRunnable(bool runnable) override;
  void wake() const override;

 private:
  // Shared with queued handlers so they can tell that the port is gone.
  struct Link {
    KjAsioEventPort* port;
  };

  void schedule_run();
  void run_turns();
  void on_run();
  void on_wake();

  asio::io_context& io_;
  std::shared_ptr<Link> link_;
  kj::EventLoop* loop_ = nullptr;
  kj::WaitScope* scope_ = nullptr;
  bool run_scheduled_ = false;
  bool run_deferred_ = false;  // a run handler fired inside wait(); re-post it afterwards
  bool in_wait_ = false;
  bool in_completion_ = false;  // a CompletionScope is open
  bool run_pending_ = false;    // setRunnable(true) came while it was
  mutable std::atomic<bool> woken_{false};
};

// The KJ event loop of one reactor thread: the port, the kj::EventLoop and the
// kj::WaitScope that makes the loop current for the thread. Construct and
// destroy it on the thread that runs `io` (a KJ loop is single-threaded), and
// not from inside a KJ callback. Destroy everything built on the loop
// (streams, RPC systems) first; promises still held by add_task() are
// cancelled, which fails pending run_on_kj calls with TransportError.
class KjLoop final : public ReactorStepScope {
 public:
  // Current for the calling thread from now until destroyed.
  explicit KjLoop(asio::io_context& io);
  // For `reactor`, on its thread. A stepped reactor's loop (the simulator's,
  // several on one thread) is current only while that reactor steps: it is
  // the reactor's step scope.
  explicit KjLoop(Reactor& reactor);
  ~KjLoop();
  KjLoop(const KjLoop&) = delete;
  KjLoop& operator=(const KjLoop&) = delete;

  // The loop of the calling thread, or nullptr.
  static KjLoop* current() noexcept;

  asio::io_context& io() noexcept { return io_; }
  kj::EventLoop& event_loop() noexcept { return loop_; }
  kj::WaitScope& wait_scope() noexcept { return *scope_; }
  KjAsioEventPort& port() noexcept { return port_; }

  // Runs `promise` to completion (or until the loop is destroyed); a failure is logged.
  void add_task(kj::Promise<void> promise);

  // Makes the loop the thread's current one, and back (stepped reactors).
  void enter() noexcept override;
  void leave() noexcept override;

 private:
  class TaskErrorLogger final : public kj::TaskSet::ErrorHandler {
   public:
    void taskFailed(kj::Exception&& exception) override;
  };

  asio::io_context& io_;
  Reactor* stepped_ = nullptr;
  KjAsioEventPort port_;
  kj::EventLoop loop_;
  std::optional<kj::WaitScope> scope_;  // engaged while the loop is current
  TaskErrorLogger logger_;
  kj::Own<kj::TaskSet> tasks_;
  KjLoop* saved_current_ = nullptr;
};

// Owns the KjLoop of `reactor`'s thread from any thread: the constructor
// creates it there and the destructor destroys it there, each blocking until
// done (inline when called on the reactor thread). Destroy it before the Reactor.
class ScopedKjLoop {
 public:
  explicit ScopedKjLoop(Reactor& reactor);
  ~ScopedKjLoop();
  ScopedKjLoop(const ScopedKjLoop&) = delete;
  ScopedKjLoop& operator=(const ScopedKjLoop&) = delete;

  Reactor& reactor() noexcept { return reactor_; }
  // Use only on the reactor thread.
  KjLoop& loop() noexcept { return *loop_; }

 private:
  Reactor& reactor_;
  std::unique_ptr<KjLoop> loop_;
};

// --- Sockets as KJ streams. Call on the thread of the current KjLoop; the
// --- asio objects must belong to that loop's io_context.

// Wraps a connected TCP socket (made non-blocking, TCP_NODELAY set).
// Readiness-based: each read or write first tries the syscall and only waits
// for readiness (async_wait) when the kernel has nothing to give or no room,
// so a dropped read that had received nothing consumed nothing (bytes already
// copied into its buffer are lost with it, as with KJ's own streams). Its
// readiness wait stays in flight and is reused by the next call; the stream's
// destruction cancels it. Small reads (capnp's 8-byte message headers) are
// served from a 16 KiB buffer, large ones go straight into the caller's
// memory. Writes of several pieces are gathered (sendmsg). Resets and broken
// pipes are kj DISCONNECTED exceptions; EOF makes tryRead return fewer than
// minBytes.
kj::Own<kj::AsyncIoStream> wrap_tcp_socket(asio::ip::tcp::socket socket);

// A listening TCP socket whose accept() yields KJ streams.
class TcpListener final : public kj::ConnectionReceiver {
 public:
  // Listens on `endpoint`; port 0 picks a free port (see port()).
  TcpListener(asio::io_context& io, const asio::ip::tcp::endpoint& endpoint);
  // Listens on 127.0.0.1:port.
  TcpListener(asio::io_context& io, std::uint16_t port);
  ~TcpListener() noexcept(false);

  kj::Promise<kj::Own<kj::AsyncIoStream>> accept() override;
  kj::uint getPort() override { return port_; }
  std::uint16_t port() const noexcept { return port_; }

 private:
  struct Waits;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_;
  std::shared_ptr<Waits> waits_;
};

// Connects to `endpoint`. Dropping the promise closes the half-open socket.
// A refused or unreachable peer rejects it with DISCONNECTED.
kj::Promise<kj::Own<kj::AsyncIoStream>> connect_tcp(asio::io_context& io,
                                                    const asio::ip::tcp::endpoint& endpoint);

// Connects to `host`, an IPv4 address or a host name resolved with asio's
// resolver without blocking the reactor (reactor thread). A name that does
// not resolve rejects the promise with FAILED, naming it.
kj::Promise<kj::Own<kj::AsyncIoStream>> connect_tcp(asio::io_context& io, const std::string& host,
                                                    std::uint16_t port);

inline asio::ip::tcp::endpoint loopback(std::uint16_t port) {
  return {asio::ip::address_v4::loopback(), port};
}

// --- run_on_kj

template <typename P>
struct KjPromiseValue;
template <typename T>
struct KjPromiseValue<kj::Promise<T>> {
  using type = T;
};
// The T of the kj::Promise<T> that f() returns (or of a plain T).
template <typename F>
using kj_value_t = typename KjPromiseValue<kj::PromiseForResult<F&, void>>::type;

template <typename T>
struct KjCallResult {
  std::optional<T> value;
  void set(T&& v) { value.emplace(std::move(v)); }
  bool has_value() const noexcept { return value.has_value(); }
  T take() { return std::move(*value); }
};
template <>
struct KjCallResult<void> {
  bool done = false;
  void set() noexcept { done = true; }
  bool has_value() const noexcept { return done; }
  void take() noexcept {}
};

void throw_no_kj_loop();
std::exception_ptr kj_loop_destroyed_error();

// Awaits f() on the reactor thread. The state lives in the awaiting
// coroutine's frame; only the ResumeGuard (held by the promise chain) resumes
// the coroutine, and nothing touches the state after that.
template <typename T, typename F>
class KjCallAwaiter {
 public:
  KjCallAwaiter(Reactor& reactor, F&& f) : reactor_(reactor), f_(std::move(f)) {}

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    handle_ = h;
    executor_ = current_executor();
    reactor_.post([this] { start(); });
  }
  T await_resume() {
    if (error_) std::rethrow_exception(error_);
    return result_.take();
  }

 private:
  // Resumes the coroutine when destroyed: after the promise chain completed,
  // or when the loop is destroyed first (then with TransportError).
  class ResumeGuard {
   public:
    explicit ResumeGuard(KjCallAwaiter* a) noexcept : a_(a) {}
    ResumeGuard(ResumeGuard&& o) noexcept : a_(std::exchange(o.a_, nullptr)) {}
    ResumeGuard& operator=(ResumeGuard&&) = delete;
    ~ResumeGuard() {
      if (a_ == nullptr) return;
      if (!a_->result_.has_value() && !a_->error_) a_->error_ = kj_loop_destroyed_error();
      a_->resume();
    }

   private:
    KjCallAwaiter* a_;
  };

  // From the promise chain, inside a KJ callback: a coroutine with no
  // executor continues in a handler of its own, outside KJ.
  void resume() noexcept {
    if (executor_ != nullptr) {
      executor_->post(handle_);
    } else {
      asio::post(reactor_.context(), [h = handle_] { h.resume(); });
    }
  }

  // On the reactor thread.
  void start() noexcept {
    KjLoop* loop = KjLoop::current();
    try {
      if (loop == nullptr) throw_no_kj_loop();
      kj::Promise<T> promise = call();
      kj::Promise<void> chain = nullptr;
      if constexpr (std::is_void_v<T>) {
        chain = promise.then([this]() { result_.set(); }, [this](kj::Exception&& e) { fail(e); });
      } else {
        chain = promise.then([this](T&& v) { result_.set(std::move(v)); },
                             [this](kj::Exception&& e) { fail(e); });
      }
      loop->add_task(chain.attach(ResumeGuard(this)));
    } catch (const kj::Exception& e) {
      fail(e);
      resume_or_post(executor_, handle_);
    } catch (...) {
      error_ = std::current_exception();
      resume_or_post(executor_, handle_);
    }
  }

  kj::Promise<T> call() {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      f_();
      return kj::READY_NOW;
    } else {
      return f_();
    }
  }

  void fail(const kj::Exception& e) { error_ = error_from_kj(e); }

  Reactor& reactor_;
  F f_;
  std::coroutine_handle<> handle_;
  Executor* executor_ = nullptr;
  KjCallResult<T> result_;
  std::exception_ptr error_;
};

}  // namespace detail

// Runs f() on `reactor`'s thread, where it starts KJ work and returns a
// kj::Promise<T> (or a plain T), and completes with the promise's value on the
// executor the awaiting coroutine ran on (on the reactor thread, outside KJ,
// for a coroutine with no executor, as under sync_wait). A kj::Exception becomes
// the error error_from_kj makes of it; any other exception f() throws arrives as it is. The reactor
// must have a KjLoop (ScopedKjLoop), else UsageError. T crosses threads:
// return plain data, not KJ objects (promises, capabilities, streams).
// Costs two thread hops (executor -> reactor -> executor).
template <typename F>
Task<detail::kj_value_t<F>> run_on_kj(Reactor& reactor, F f) {
  using T = detail::kj_value_t<F>;
  if constexpr (std::is_void_v<T>) {
    co_await detail::KjCallAwaiter<void, F>(reactor, std::move(f));
  } else {
    co_return co_await detail::KjCallAwaiter<T, F>(reactor, std::move(f));
  }
}

}  // namespace weft

#pragma GCC diagnostic pop
