// Liveness: heartbeat datagrams on their own thread and socket.
#include "node/liveness.hpp"

#include "node/auth.hpp"
#include "weft/core/log.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace weft::detail {

namespace {
constexpr std::uint64_t magic = 0x6576696c74666577ULL;         // "weftlive"
constexpr auto receive_poll = std::chrono::milliseconds(100);  // how soon a stop is noticed

// An HMAC of a fixed text keyed with the token (auth.hpp): tells a
// datagram of this cluster from a stray one, and cannot be turned back
// into the token.
std::uint64_t tag_of(const std::string& token) {
  constexpr std::string_view text = "weft liveness";
  const Proof proof =
      prove(token, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  std::uint64_t tag = 0;
  std::memcpy(&tag, proof.data(), sizeof tag);
  return tag;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Liveness::Clock::now().time_since_epoch())
      .count();
}

// A UDP socket bound (`bind_it`) or connected to IPv4 `host`:`port`, or -1
// with errno set.
int open_udp(const std::string& host, std::uint16_t port, bool bind_it) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
    errno = EADDRNOTAVAIL;
    return -1;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && (bind_it ? bind(fd, found->ai_addr, found->ai_addrlen)
                          : connect(fd, found->ai_addr, found->ai_addrlen)) != 0) {
    const int error = errno;
    close(fd);
    fd = -1;
    errno = error;
  }
  freeaddrinfo(found);
  return fd;
}
}  // namespace

Liveness::Liveness(int fd, std::uint64_t tag) : fd_(fd), tag_(tag), reactor_turned_ns_(now_ns()) {}

std::unique_ptr<Liveness> Liveness::receive(const std::string& host, std::uint16_t port,
                                            const std::string& token) {
  const int fd = open_udp(host, port, true);
  if (fd >= 0) {
    timeval poll{.tv_sec = 0, .tv_usec = receive_poll.count() * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &poll, sizeof poll);
  }
  return start(
      fd, token, [](Liveness& self) { self.receive_loop(); },
      fmt::format("receive heartbeat datagrams on UDP {}:{}", host, port),
      "nodes are judged by their RPC heartbeats alone");
}

std::unique_ptr<Liveness> Liveness::send(NodeId node, const std::string& host, std::uint16_t port,
                                         const std::string& token, Clock::duration interval) {
  return start(
      open_udp(host, port, false), token,
      [node, interval](Liveness& self) { self.send_loop(node, interval); },
      fmt::format("send heartbeat datagrams to UDP {}:{}", host, port),
      "the head judges this node by its RPC heartbeats alone");
}

std::unique_ptr<Liveness> Liveness::start(int fd, const std::string& token,
                                          std::function<void(Liveness&)> loop,
                                          const std::string& what, const char* instead) {
  if (fd < 0) {
    log(LogLevel::warn, "cannot {} ({}); {}", what, std::strerror(errno), instead);
    return nullptr;
  }
  std::unique_ptr<Liveness> self(new Liveness(fd, tag_of(token)));
  self->thread_ = std::thread([p = self.get(), loop = std::move(loop)] { loop(*p); });
  return self;
}

Liveness::~Liveness() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stop_changed_.notify_all();
  thread_.join();
  close(fd_);
}

void Liveness::reactor_turned() noexcept {
  reactor_turned_ns_.store(now_ns(), std::memory_order_relaxed);
}

std::vector<std::pair<NodeId, Liveness::Clock::time_point>> Liveness::take_seen() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<NodeId, Clock::time_point>> out(seen_.begin(), seen_.end());
  seen_.clear();
  return out;
}

void Liveness::receive_loop() {
  for (;;) {
    std::array<std::uint64_t, 3> datagram{};
    const ssize_t n = recv(fd_, datagram.data(), sizeof datagram, 0);
    const auto at = Clock::now();
    std::lock_guard lock(mutex_);
    if (stop_) return;
    if (n == sizeof datagram && datagram[0] == magic && datagram[2] == tag_) {
      seen_[datagram[1]] = at;
    }
  }
}

void Liveness::send_loop(NodeId node, Clock::duration interval) {
  const std::array<std::uint64_t, 3> datagram{magic, node, tag_};
  std::unique_lock lock(mutex_);
  while (!stop_) {
    const auto stalled =
        std::chrono::nanoseconds(now_ns() - reactor_turned_ns_.load(std::memory_order_relaxed));
    // A failed send (the head not there yet, or gone) is retried next time.
    if (stalled < reactor_stall_limit) (void)::send(fd_, datagram.data(), sizeof datagram, 0);
    stop_changed_.wait_for(lock, interval, [this] { return stop_; });
  }
}

}  // namespace weft::detail
