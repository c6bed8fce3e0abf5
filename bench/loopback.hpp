// The machine's limits that the cluster benchmark sets its figures beside:
// plain blocking TCP over 127.0.0.1 between two threads.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "timing.hpp"

namespace weft_bench::loopback {

class Socket {
 public:
  explicit Socket(int fd = -1) noexcept : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Socket& operator=(Socket&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

[[noreturn]] inline void fail(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

// A connected pair over 127.0.0.1, both ends with TCP_NODELAY.
inline std::pair<Socket, Socket> tcp_pair() {
  Socket listener(::socket(AF_INET, SOCK_STREAM, 0));
  if (listener.fd() < 0) fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listener.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("bind");
  if (::listen(listener.fd(), 1) != 0) fail("listen");
  socklen_t len = sizeof addr;
  if (::getsockname(listener.fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    fail("getsockname");
  }
  Socket client(::socket(AF_INET, SOCK_STREAM, 0));
  if (client.fd() < 0) fail("socket");
  if (::connect(client.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("connect");
  Socket server(::accept(listener.fd(), nullptr, nullptr));
  if (server.fd() < 0) fail("accept");
  const int one = 1;
  for (int fd : {client.fd(), server.fd()}) {
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) fail("TCP_NODELAY");
  }
  return {std::move(client), std::move(server)};
}

// False at end of stream.
inline bool read_full(int fd, void* data, std::size_t n) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t got = ::recv(fd, p, n, 0);
    if (got == 0) return false;
    if (got < 0) {
      if (errno == EINTR) continue;
      fail("recv");
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

// False if the peer went away.
inline bool write_full(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t put = ::send(fd, p, n, MSG_NOSIGNAL);
    if (put < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += put;
    n -= static_cast<std::size_t>(put);
  }
  return true;
}

// Round trips per second of a 64-byte message, `batch` per body call: the
// floor under any remote call.
inline double round_trips_per_second(std::size_t batch) {
  auto [client, server] = tcp_pair();
  constexpr std::size_t kMessage = 64;
  std::thread echo([fd = server.fd()] {
    char buf[kMessage];
    while (read_full(fd, buf, sizeof buf)) {
      if (!write_full(fd, buf, sizeof buf)) break;
    }
  });
  char buf[kMessage] = {};
  const double rate = rate_on_thread([&]() -> std::uint64_t {
    for (std::size_t i = 0; i < batch; ++i) {
      if (!write_full(client.fd(), buf, sizeof buf) || !read_full(client.fd(), buf, sizeof buf)) {
        throw std::runtime_error("loopback echo ended early");
      }
    }
    return batch;
  });
  ::shutdown(client.fd(), SHUT_WR);  // the echo thread sees end of stream
  echo.join();
  return rate;
}

// Streaming bytes per second: one thread writes 4 MiB at a time, this one
// reads `bytes_per_call` per body call.
inline double bytes_per_second(std::size_t bytes_per_call) {
  auto [writer_end, reader_end] = tcp_pair();
  constexpr std::size_t kChunk = std::size_t{4} << 20;
  std::atomic<bool> stop{false};
  std::thread writer([fd = writer_end.fd(), &stop] {
    const std::vector<char> chunk(kChunk, 'x');
    while (!stop.load(std::memory_order_relaxed)) {
      if (!write_full(fd, chunk.data(), chunk.size())) break;
    }
    ::shutdown(fd, SHUT_WR);
  });
  std::vector<char> buf(kChunk);
  const double rate = rate_on_thread([&]() -> std::uint64_t {
    std::size_t left = bytes_per_call;
    while (left > 0) {
      const ssize_t got = ::recv(reader_end.fd(), buf.data(), std::min(left, buf.size()), 0);
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        throw std::runtime_error("loopback stream ended early");
      }
      left -= static_cast<std::size_t>(got);
    }
    return bytes_per_call;
  });
  stop.store(true);
  while (::recv(reader_end.fd(), buf.data(), buf.size(), 0) > 0) {
  }
  writer.join();
  return rate;
}

}  // namespace weft_bench::loopback
