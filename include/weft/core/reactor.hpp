// The reactor: one thread running an asio::io_context that owns every socket
// and timer of a node. Coroutines never run here; completions hop back to the
// executor the awaiting coroutine came from.
//
//   weft::Reactor reactor;                // starts its thread
//   co_await weft::sleep_for(reactor, 10ms);
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <string>
#include <thread>

namespace weft {

class Reactor {
 public:
  explicit Reactor(std::string name = "weft-reactor");
  // Stops the io_context (pending handlers are dropped) and joins the thread.
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  asio::io_context& context() noexcept { return io_; }

  // Runs `f` on the reactor thread. Callable from any thread.
  template <typename F>
  void post(F&& f) {
    asio::post(io_, std::forward<F>(f));
  }

  bool on_reactor_thread() const noexcept { return std::this_thread::get_id() == thread_.get_id(); }

  // The I/O backend Asio was compiled with ("epoll" or "io_uring"), for start-up logs.
  static const char* backend_name() noexcept;

 private:
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

namespace detail {
inline thread_local Reactor* tls_current_reactor = nullptr;
}

// The reactor of the node the calling thread belongs to, or nullptr.
inline Reactor* current_reactor() noexcept { return detail::tls_current_reactor; }

}  // namespace weft
