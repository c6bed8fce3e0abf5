// KJ inside the Asio reactor: the event port, the loop, TCP streams.
#include "node/kj_asio.hpp"

#include <fcntl.h>
#include <kj/debug.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>

#include "weft/core/blocking_event.hpp"

namespace weft {

namespace detail {

namespace {
thread_local KjLoop* tls_kj_loop = nullptr;

bool is_disconnect(int err) noexcept {
  switch (err) {
    case ECONNRESET:
    case ECONNABORTED:
    case ECONNREFUSED:
    case EPIPE:
    case ENOTCONN:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case ENETUNREACH:
    case ENETDOWN:
    case ENETRESET:
    case ESHUTDOWN:
      return true;
    default:
      return false;
  }
}

kj::Exception errno_exception(const char* what, int err) {
  auto type = is_disconnect(err) ? kj::Exception::Type::DISCONNECTED : kj::Exception::Type::FAILED;
  return kj::Exception(type, __FILE__, __LINE__,
                       kj::str(what, ": ", std::system_category().message(err).c_str()));
}

kj::Exception asio_exception(const char* what, const asio::error_code& ec) {
  if (ec.category() == asio::system_category()) return errno_exception(what, ec.value());
  return kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                       kj::str(what, ": ", ec.message().c_str()));
}

// At most one readiness wait per direction is in flight. A new wait replaces
// the fulfiller of a dropped one and reuses its asio operation, so dropping
// promises never piles up operations, and no handler refers to the stream.
struct ReadinessWait {
  bool in_flight = false;
  kj::Own<kj::PromiseFulfiller<void>> fulfiller;
};

template <typename AsioObject>
kj::Promise<void> wait_ready(AsioObject& object, const std::shared_ptr<ReadinessWait>& slot,
                             asio::socket_base::wait_type type) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  slot->fulfiller = kj::mv(paf.fulfiller);
  if (!slot->in_flight) {
    slot->in_flight = true;
    object.async_wait(type, [slot](const asio::error_code& ec) {
      KjAsioEventPort::CompletionScope run_kj_after;
      slot->in_flight = false;
      if (slot->fulfiller.get() == nullptr) return;
      auto fulfiller = kj::mv(slot->fulfiller);
      if (ec) {
        fulfiller->reject(asio_exception("waiting for socket readiness", ec));
      } else {
        fulfiller->fulfill();
      }
    });
  }
  return kj::mv(paf.promise);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"  // see kj_asio.hpp
class AsioTcpStream final : public kj::AsyncIoStream {
 public:
  explicit AsioTcpStream(asio::ip::tcp::socket socket)
      : socket_(std::move(socket)), fd_(socket_.native_handle()) {
    socket_.non_blocking(true);
    socket_.set_option(asio::ip::tcp::no_delay(true));
  }

  ~AsioTcpStream() noexcept(false) {
    // Rejects promises still waiting; the socket's destruction then cancels
    // the asio waits, whose handlers find no fulfiller.
    read_wait_->fulfiller = nullptr;
    write_wait_->fulfiller = nullptr;
  }

  kj::Promise<size_t> tryRead(void* buffer, size_t minBytes, size_t maxBytes) override {
    return read_loop(static_cast<kj::byte*>(buffer), minBytes, maxBytes, 0);
  }

  kj::Promise<void> write(const void* buffer, size_t size) override {
    return write_loop(kj::arrayPtr(static_cast<const kj::byte*>(buffer), size), nullptr);
  }

  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override {
    if (pieces.size() == 0) return kj::READY_NOW;
    return write_loop(pieces[0], pieces.slice(1, pieces.size()));
  }

  // TODO(soon): resolve on EPOLLHUP/EPOLLERR; the contract allows a promise
  // that never resolves, and capnp's two-party RPC does not rely on it.
  kj::Promise<void> whenWriteDisconnected() override { return kj::NEVER_DONE; }

  void shutdownWrite() override { shutdown(SHUT_WR); }
  void abortRead() override { shutdown(SHUT_RD); }

  void getsockopt(int level, int option, void* value, kj::uint* length) override {
    socklen_t len = *length;
    KJ_SYSCALL(::getsockopt(fd_, level, option, value, &len));
    *length = len;
  }
  void setsockopt(int level, int option, const void* value, kj::uint length) override {
    KJ_SYSCALL(::setsockopt(fd_, level, option, value, length));
  }
  void getsockname(struct sockaddr* addr, kj::uint* length) override {
    socklen_t len = *length;
    KJ_SYSCALL(::getsockname(fd_, addr, &len));
    *length = len;
  }
  void getpeername(struct sockaddr* addr, kj::uint* length) override {
    socklen_t len = *length;
    KJ_SYSCALL(::getpeername(fd_, addr, &len));
    *length = len;
  }
  kj::Maybe<int> getFd() const override { return fd_; }

 private:
  void shutdown(int how) {
    if (::shutdown(fd_, how) < 0 && errno != ENOTCONN) {
      kj::throwFatalException(errno_exception("shutdown", errno));
    }
  }

  // `done` bytes are already in the caller's buffer; `buffer` points past them.
  kj::Promise<size_t> read_loop(kj::byte* buffer, size_t min_bytes, size_t max_bytes, size_t done) {
    for (;;) {
      // Also keeps memcpy from a zero-length read's null buffer (a peer's
      // message may declare empty segments).
      if (max_bytes == 0) return done;
      if (buffered_begin_ < buffered_end_) {
        size_t n = std::min(max_bytes, buffered_end_ - buffered_begin_);
        std::memcpy(buffer, read_buffer_.get() + buffered_begin_, n);
        buffered_begin_ += n;
        consumed(buffer, min_bytes, max_bytes, done, n);
        if (min_bytes == 0) return done;
      }
      if (drained_) break;
      // Small reads go through the buffer, so a message's header and body
      // (and often the next message) come in one syscall.
      bool direct = max_bytes >= kReadBufferSize;
      if (!direct && !read_buffer_) read_buffer_ = std::make_unique<kj::byte[]>(kReadBufferSize);
      kj::byte* target = direct ? buffer : read_buffer_.get();
      size_t want = direct ? max_bytes : kReadBufferSize;
      ssize_t n = ::recv(fd_, target, want, 0);
      if (n > 0) {
        auto got = static_cast<size_t>(n);
        // A short read emptied the socket: wait for readiness rather than
        // spend a syscall on EAGAIN. (asio re-arms epoll on each wait, so a
        // byte that arrived since is reported at once.)
        drained_ = got < want;
        if (direct) {
          consumed(buffer, min_bytes, max_bytes, done, got);
          if (min_bytes == 0) return done;
        } else {
          buffered_begin_ = 0;
          buffered_end_ = got;
        }
        continue;
      }
      if (n == 0) return done;  // EOF: fewer than minBytes
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        drained_ = true;
        break;
      }
      return errno_exception("recv", err);
    }
    if (min_bytes == 0) return done;
    return wait_ready(socket_, read_wait_, asio::socket_base::wait_read)
        .then([this, buffer, min_bytes, max_bytes, done]() {
          drained_ = false;
          return read_loop(buffer, min_bytes, max_bytes, done);
        });
  }

  static void consumed(kj::byte*& buffer, size_t& min_bytes, size_t& max_bytes, size_t& done,
                       size_t n) noexcept {
    buffer += n;
    done += n;
    max_bytes -= n;
    min_bytes -= std::min(min_bytes, n);
  }

  // Writes `first`, then every piece of `rest`, gathering up to kMaxIov per syscall.
  kj::Promise<void> write_loop(kj::ArrayPtr<const kj::byte> first,
                               kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> rest) {
    constexpr size_t kMaxIov = 64;
    for (;;) {
      while (first.size() == 0 && rest.size() > 0) {
        first = rest[0];
        rest = rest.slice(1, rest.size());
      }
      if (first.size() == 0) return kj::READY_NOW;

      struct iovec iov[kMaxIov];
      size_t count = 0;
      iov[count++] = {const_cast<kj::byte*>(first.begin()), first.size()};
      for (size_t i = 0; i < rest.size() && count < kMaxIov; ++i) {
        if (rest[i].size() == 0) continue;
        iov[count++] = {const_cast<kj::byte*>(rest[i].begin()), rest[i].size()};
      }
      struct msghdr msg = {};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        return errno_exception("send", err);
      }
      auto sent = static_cast<size_t>(n);
      size_t total = 0;
      for (size_t i = 0; i < count; ++i) total += iov[i].iov_len;
      // Advance past what the kernel took.
      while (sent > 0) {
        if (sent < first.size()) {
          first = first.slice(sent, first.size());
          sent = 0;
        } else {
          sent -= first.size();
          first = nullptr;
          while (first.size() == 0 && rest.size() > 0) {
            first = rest[0];
            rest = rest.slice(1, rest.size());
          }
        }
      }
      // A short write means the send buffer is full: wait for room.
      if (static_cast<size_t>(n) < total) break;
    }
    return wait_ready(socket_, write_wait_, asio::socket_base::wait_write)
        .then([this, first, rest]() { return write_loop(first, rest); });
  }

  static constexpr size_t kReadBufferSize = 16 * 1024;

  asio::ip::tcp::socket socket_;
  int fd_;
  std::unique_ptr<kj::byte[]> read_buffer_;
  size_t buffered_begin_ = 0;
  size_t buffered_end_ = 0;
  bool drained_ = false;  // the socket had nothing more at the last recv
  std::shared_ptr<ReadinessWait> read_wait_ = std::make_shared<ReadinessWait>();
  std::shared_ptr<ReadinessWait> write_wait_ = std::make_shared<ReadinessWait>();
};
#pragma GCC diagnostic pop

// connect_tcp's pending connection; the asio handler shares it with the promise.
struct PendingConnect {
  PendingConnect(asio::io_context& io, kj::PromiseFulfiller<kj::Own<kj::AsyncIoStream>>& f)
      : socket(io), fulfiller(&f) {}
  asio::ip::tcp::socket socket;
  kj::PromiseFulfiller<kj::Own<kj::AsyncIoStream>>* fulfiller;  // null once settled or dropped
};

class ConnectAdapter {
 public:
  ConnectAdapter(kj::PromiseFulfiller<kj::Own<kj::AsyncIoStream>>& fulfiller, asio::io_context& io,
                 const asio::ip::tcp::endpoint& endpoint)
      : pending_(std::make_shared<PendingConnect>(io, fulfiller)) {
    pending_->socket.async_connect(endpoint, [p = pending_](const asio::error_code& ec) {
      KjAsioEventPort::CompletionScope run_kj_after;
      auto* f = std::exchange(p->fulfiller, nullptr);
      if (f == nullptr) return;
      if (ec) {
        f->reject(asio_exception("connect", ec));
        return;
      }
      try {
        f->fulfill(wrap_tcp_socket(std::move(p->socket)));
      } catch (const std::system_error& e) {
        f->reject(asio_exception("connect", e.code()));
      }
    });
  }
  ~ConnectAdapter() {
    if (std::exchange(pending_->fulfiller, nullptr) != nullptr) {
      asio::error_code ignored;
      pending_->socket.close(ignored);  // the handler runs later with operation_aborted
    }
  }
  ConnectAdapter(const ConnectAdapter&) = delete;
  ConnectAdapter& operator=(const ConnectAdapter&) = delete;

 private:
  std::shared_ptr<PendingConnect> pending_;
};
}  // namespace

// --- KjAsioEventPort

KjAsioEventPort::KjAsioEventPort(asio::io_context& io)
    : io_(io), link_(std::make_shared<Link>(Link{this})) {}

KjAsioEventPort::~KjAsioEventPort() { link_->port = nullptr; }

void KjAsioEventPort::attach(kj::EventLoop& loop, kj::WaitScope& scope) noexcept {
  loop_ = &loop;
  scope_ = &scope;
}

void KjAsioEventPort::detach() noexcept {
  loop_ = nullptr;
  scope_ = nullptr;
}

bool KjAsioEventPort::wait() {
  in_wait_ = true;
  std::size_t ran = io_.run_one();
  in_wait_ = false;
  if (run_deferred_) {
    run_deferred_ = false;
    schedule_run();
  }
  if (ran == 0) {
    KJ_FAIL_REQUIRE("the reactor stopped while a KJ promise was being waited on");
  }
  return woken_.exchange(false, std::memory_order_acq_rel);
}

bool KjAsioEventPort::poll() { return woken_.exchange(false, std::memory_order_acq_rel); }

void KjAsioEventPort::setRunnable(bool runnable) {
  if (!runnable) return;
  if (in_completion_) {
    run_pending_ = true;
  } else {
    schedule_run();
  }
}

KjAsioEventPort::CompletionScope::CompletionScope() noexcept {
  KjLoop* loop = KjLoop::current();
  if (loop == nullptr) return;
  KjAsioEventPort& port = loop->port();
  if (port.in_completion_ || port.in_wait_) return;
  port_ = &port;
  port_->in_completion_ = true;
}

KjAsioEventPort::CompletionScope::~CompletionScope() {
  if (port_ == nullptr) return;
  port_->in_completion_ = false;
  if (std::exchange(port_->run_pending_, false)) port_->run_turns();
}

void KjAsioEventPort::wake() const {
  if (woken_.exchange(true, std::memory_order_acq_rel)) return;  // a poll is already queued
  asio::post(io_, [link = link_] {
    if (link->port != nullptr) link->port->on_wake();
  });
}

void KjAsioEventPort::schedule_run() {
  if (run_scheduled_) return;
  run_scheduled_ = true;
  asio::post(io_, [link = link_] {
    if (link->port != nullptr) link->port->on_run();
  });
}

void KjAsioEventPort::on_run() {
  run_scheduled_ = false;
  if (loop_ == nullptr) return;
  if (in_wait_) {
    // Promise::wait() is turning the loop itself; run again once it is done.
    run_deferred_ = true;
    return;
  }
  run_turns();
}

void KjAsioEventPort::run_turns() {
  if (loop_ == nullptr) return;
  loop_->run(kTurnsPerRun);
  // run() reports only transitions, so a loop left runnable says nothing more.
  if (loop_->isRunnable()) schedule_run();
}

void KjAsioEventPort::on_wake() {
  if (scope_ == nullptr || in_wait_) return;  // wait() reports the wake-up itself
  scope_->poll();
}

// --- KjLoop

KjLoop::KjLoop(asio::io_context& io)
    : io_(io), port_(io), loop_(port_), tasks_(kj::heap<kj::TaskSet>(logger_)) {
  enter();
}

KjLoop::KjLoop(Reactor& reactor) : KjLoop(reactor.context()) {
  if (!reactor.stepped()) return;
  leave();
  stepped_ = &reactor;
  stepped_->set_step_scope(this);
}

KjLoop::~KjLoop() {
  // A stepped reactor's loop may be destroyed between its steps.
  if (!scope_) enter();
  if (stepped_ != nullptr) stepped_->set_step_scope(nullptr);
  // Cancels add_task() promises (pending run_on_kj calls fail), then runs what
  // that cancellation queued, so the EventLoop is destroyed empty.
  tasks_ = nullptr;
  scope_->cancelAllDetached();
  scope_->poll();
  leave();
}

void KjLoop::enter() noexcept {
  saved_current_ = tls_kj_loop;
  scope_.emplace(loop_);
  port_.attach(loop_, *scope_);
  tls_kj_loop = this;
}

void KjLoop::leave() noexcept {
  port_.detach();
  scope_.reset();
  tls_kj_loop = saved_current_;
}

KjLoop* KjLoop::current() noexcept { return tls_kj_loop; }

void KjLoop::add_task(kj::Promise<void> promise) { tasks_->add(kj::mv(promise)); }

void KjLoop::TaskErrorLogger::taskFailed(kj::Exception&& exception) {
  KJ_LOG(ERROR, "a task on the reactor's KJ loop failed", exception);
}

// --- ScopedKjLoop

ScopedKjLoop::ScopedKjLoop(Reactor& reactor) : reactor_(reactor) {
  if (reactor_.on_reactor_thread()) {
    loop_ = std::make_unique<KjLoop>(reactor_);
    return;
  }
  BlockingEvent done;
  reactor_.post([this, &done] {
    loop_ = std::make_unique<KjLoop>(reactor_);
    done.set();
  });
  done.wait();
}

ScopedKjLoop::~ScopedKjLoop() {
  if (reactor_.on_reactor_thread()) {
    loop_.reset();
    return;
  }
  BlockingEvent done;
  reactor_.post([this, &done] {
    loop_.reset();
    done.set();
  });
  done.wait();
}

// --- TCP

kj::Own<kj::AsyncIoStream> wrap_tcp_socket(asio::ip::tcp::socket socket) {
  return kj::heap<AsioTcpStream>(std::move(socket));
}

struct TcpListener::Waits {
  std::shared_ptr<ReadinessWait> accept = std::make_shared<ReadinessWait>();
};

TcpListener::TcpListener(asio::io_context& io, const asio::ip::tcp::endpoint& endpoint)
    : acceptor_(io, endpoint),
      port_(acceptor_.local_endpoint().port()),
      waits_(std::make_shared<Waits>()) {
  acceptor_.non_blocking(true);
}

TcpListener::TcpListener(asio::io_context& io, std::uint16_t port)
    : TcpListener(io, loopback(port)) {}

TcpListener::~TcpListener() noexcept(false) { waits_->accept->fulfiller = nullptr; }

kj::Promise<kj::Own<kj::AsyncIoStream>> TcpListener::accept() {
  for (;;) {
    asio::error_code ec;
    asio::ip::tcp::socket peer = acceptor_.accept(ec);
    if (!ec) return wrap_tcp_socket(std::move(peer));
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    // A connection reset before it was accepted is not the listener's failure.
    if (ec == asio::error::interrupted || ec == asio::error::connection_aborted) continue;
    return asio_exception("accept", ec);
  }
  return wait_ready(acceptor_, waits_->accept, asio::socket_base::wait_read).then([this]() {
    return accept();
  });
}

kj::Promise<kj::Own<kj::AsyncIoStream>> connect_tcp(asio::io_context& io,
                                                    const asio::ip::tcp::endpoint& endpoint) {
  return kj::newAdaptedPromise<kj::Own<kj::AsyncIoStream>, ConnectAdapter>(io, endpoint);
}

// --- run_on_kj

void throw_no_kj_loop() {
  throw UsageError(
      "weft::run_on_kj: the reactor has no KJ loop; create a detail::ScopedKjLoop for it first");
}

std::exception_ptr kj_loop_destroyed_error() {
  return std::make_exception_ptr(TransportError(
      TransportError::Kind::disconnected,
      "transport disconnected: the node's KJ loop shut down before the call completed"));
}

}  // namespace detail
}  // namespace weft
