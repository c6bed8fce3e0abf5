// KJ inside the Asio reactor: raw TCP streams and connects between two
// reactors over real loopback, driven from weft coroutines, and a 64 MiB
// transfer measured against blocking sockets on the same loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "kj_asio_fixture.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/when_all.hpp"
#include "weft_test.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using kj_asio_test::on_reactor;
using kj_asio_test::TwoNodes;
using weft::TransportError;
using weft::detail::loopback;

std::vector<kj::byte> pattern(std::size_t n, std::uint64_t seed) {
  std::vector<kj::byte> v(n);
  std::uint64_t x = seed;
  for (std::size_t i = 0; i < n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(v.data() + i, &x, std::min<std::size_t>(8, n - i));
  }
  return v;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// --- raw blocking-socket baselines on the same loopback

struct RawPair {
  RawPair() {
    int listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd, 1) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    client = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    server = ::accept(listen_fd, nullptr, nullptr);
    ::close(listen_fd);
    int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawPair() {
    ::close(client);
    ::close(server);
  }
  int client = -1;
  int server = -1;
};

bool read_exact(int fd, void* buf, std::size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}
bool write_all(int fd, const void* buf, std::size_t n) {
  auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// Mean microseconds per 64-byte ping-pong between two blocking threads.
double raw_round_trip_us(int rounds) {
  RawPair pair;
  std::thread echo([&] {
    char buf[64];
    for (int i = 0; i < rounds; ++i) {
      if (!read_exact(pair.server, buf, sizeof buf) || !write_all(pair.server, buf, sizeof buf)) {
        return;
      }
    }
  });
  char buf[64] = {};
  auto t0 = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    write_all(pair.client, buf, sizeof buf);
    read_exact(pair.client, buf, sizeof buf);
  }
  double us = seconds_since(t0) * 1e6 / rounds;
  echo.join();
  return us;
}

// GB/s of one blocking writer thread to one blocking reader thread.
double raw_bandwidth_gbs(const std::vector<kj::byte>& src, std::vector<kj::byte>& dst) {
  RawPair pair;
  auto t0 = Clock::now();
  std::thread writer([&] { write_all(pair.server, src.data(), src.size()); });
  read_exact(pair.client, dst.data(), dst.size());
  double s = seconds_since(t0);
  writer.join();
  return static_cast<double>(src.size()) / s / 1e9;
}

}  // namespace

TEST_CASE("a connection reset surfaces as a disconnected TransportError from a read") {
  TwoNodes n;
  n.start_stream();
  on_reactor(n.a, [&] {
    struct linger abort_on_close = {1, 0};
    n.a_stream->setsockopt(SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    n.a_stream = nullptr;  // RST
  });
  kj::byte buf[16];
  auto read = weft::run_on_kj(n.b, [&] { return n.b_stream->tryRead(buf, 1, sizeof buf); });
  try {
    weft::sync_wait(std::move(read));
    FAIL("the read after a reset succeeded");
  } catch (const TransportError& e) {
    CHECK(e.kind() == TransportError::Kind::disconnected);
  }
}

TEST_CASE("a read returns fewer than minBytes at EOF") {
  TwoNodes n;
  n.start_stream();
  weft::sync_wait(weft::run_on_kj(
      n.a, [&] { return n.a_stream->write("abc", 3).then([&] { n.a_stream->shutdownWrite(); }); }));
  kj::byte buf[16];
  auto got =
      weft::sync_wait(weft::run_on_kj(n.b, [&] { return n.b_stream->tryRead(buf, 10, 16); }));
  CHECK(got == 3);
  CHECK(std::memcmp(buf, "abc", 3) == 0);
  // shutdownWrite closed one direction only: B can still write to A.
  weft::sync_wait(weft::run_on_kj(n.b, [&] { return n.b_stream->write("xy", 2); }));
  auto back =
      weft::sync_wait(weft::run_on_kj(n.a, [&] { return n.a_stream->tryRead(buf, 2, 16); }));
  CHECK(back == 2);
}

TEST_CASE("a gather write delivers every piece in order") {
  TwoNodes n;
  n.start_stream();
  // 200 pieces (more than one sendmsg takes), some empty.
  std::vector<std::vector<kj::byte>> data;
  std::vector<kj::ArrayPtr<const kj::byte>> pieces;
  std::vector<kj::byte> expected;
  for (std::size_t i = 0; i < 200; ++i) {
    data.push_back(pattern(i % 5 == 0 ? 0 : i * 13, i + 1));
    expected.insert(expected.end(), data.back().begin(), data.back().end());
  }
  for (auto& d : data) pieces.push_back(kj::arrayPtr(d.data(), d.size()));
  std::vector<kj::byte> got(expected.size());
  auto body = [&]() -> weft::Task<std::size_t> {
    co_await weft::resume_on(n.pool);
    auto write = weft::run_on_kj(
        n.a, [&] { return n.a_stream->write(kj::arrayPtr(pieces.data(), pieces.size())); });
    auto read = weft::run_on_kj(
        n.b, [&] { return n.b_stream->tryRead(got.data(), got.size(), got.size()); });
    auto [written, read_bytes] = co_await weft::when_all(std::move(write), std::move(read));
    (void)written;
    co_return read_bytes;
  };
  CHECK(weft::sync_wait(body()) == expected.size());
  CHECK(got == expected);
}

TEST_CASE("dropping a pending read consumes nothing and the next read gets the data") {
  TwoNodes n;
  n.start_stream();
  kj::byte buf[16] = {};
  kj::Promise<std::size_t> second = nullptr;
  on_reactor(n.b, [&] {
    auto first = n.b_stream->tryRead(buf, 1, sizeof buf);  // waits: nothing sent yet
    first = nullptr;                                       // dropped while its wait is in flight
    second = n.b_stream->tryRead(buf, 5, sizeof buf);
  });
  weft::sync_wait(weft::run_on_kj(n.a, [&] { return n.a_stream->write("hello", 5); }));
  auto got = weft::sync_wait(weft::run_on_kj(n.b, [&] { return kj::mv(second); }));
  CHECK(got == 5);
  CHECK(std::memcmp(buf, "hello", 5) == 0);
}

TEST_CASE("destroying a stream with a pending read fails the read and the peer sees EOF") {
  TwoNodes n;
  n.start_stream();
  kj::byte buf[16];
  kj::Promise<std::size_t> pending = nullptr;
  on_reactor(n.b, [&] {
    pending = n.b_stream->tryRead(buf, 1, sizeof buf);
    n.b_stream = nullptr;
  });
  CHECK_THROWS_AS(weft::sync_wait(weft::run_on_kj(n.b, [&] { return kj::mv(pending); })),
                  TransportError);
  auto eof = weft::sync_wait(weft::run_on_kj(n.a, [&] { return n.a_stream->tryRead(buf, 1, 16); }));
  CHECK(eof == 0);
}

TEST_CASE("dropping a pending connect closes its socket safely") {
  weft::Reactor reactor{"kj-connect"};
  weft::detail::ScopedKjLoop loop(reactor);
  std::unique_ptr<weft::detail::TcpListener> listener;
  on_reactor(reactor, [&] {
    listener = std::make_unique<weft::detail::TcpListener>(reactor.context(), 0);
    auto connecting = weft::detail::connect_tcp(reactor.context(), loopback(listener->port()));
    connecting = nullptr;
  });
  // The reactor still works, and a completed connect is accepted.
  auto ok = weft::sync_wait(weft::run_on_kj(reactor, [&] {
    return weft::detail::connect_tcp(reactor.context(), loopback(listener->port()))
        .then([](kj::Own<kj::AsyncIoStream> s) { return s.get() != nullptr; });
  }));
  CHECK(ok);
  on_reactor(reactor, [&] { listener.reset(); });
}

TEST_CASE("connecting to a port nobody listens on fails with a disconnected TransportError") {
  weft::Reactor reactor{"kj-refused"};
  weft::detail::ScopedKjLoop loop(reactor);
  std::uint16_t port = 0;
  on_reactor(reactor, [&] {
    weft::detail::TcpListener closed(reactor.context(), 0);
    port = closed.port();
  });
  try {
    weft::sync_wait(weft::run_on_kj(reactor, [&] {
      return weft::detail::connect_tcp(reactor.context(), loopback(port)).ignoreResult();
    }));
    FAIL("connected to a closed port");
  } catch (const TransportError& e) {
    CHECK(e.kind() == TransportError::Kind::disconnected);
  }
}

TEST_CASE("a 64 MiB stream arrives byte-exact; bandwidth and round trips vs raw loopback") {
  constexpr std::size_t kBytes = 64u << 20;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr int kRounds = 100;  // sanitized timings mean nothing; keep the test fast
#else
  constexpr int kRounds = 1000;
#endif
  TwoNodes n;
  n.start_stream();
  auto src = pattern(kBytes, 42);
  std::vector<kj::byte> dst(kBytes);

  auto transfer = [&]() -> weft::Task<std::pair<std::size_t, std::size_t>> {
    co_await weft::resume_on(n.pool);
    std::size_t reads = 0;
    auto write = weft::run_on_kj(n.a, [&] { return n.a_stream->write(src.data(), src.size()); });
    auto read = weft::run_on_kj(n.b, [&] {
      // Chunked reads, as an object transfer would do them.
      struct Reader {
        kj::AsyncIoStream& s;
        kj::byte* p;
        std::size_t left;
        std::size_t& reads;
        kj::Promise<std::size_t> next(std::size_t total) {
          if (left == 0) return total;
          return s.tryRead(p, 1, std::min<std::size_t>(left, 4u << 20))
              .then([this, total](std::size_t got) -> kj::Promise<std::size_t> {
                ++reads;
                if (got == 0) return total;
                p += got;
                left -= got;
                return next(total + got);
              });
        }
      };
      auto reader = kj::heap<Reader>(Reader{*n.b_stream, dst.data(), dst.size(), reads});
      auto done = reader->next(0);
      return done.attach(kj::mv(reader));
    });
    auto [w, got] = co_await weft::when_all(std::move(write), std::move(read));
    (void)w;
    co_return std::pair{got, reads};
  };
  auto t0 = Clock::now();
  auto [got, reads] = weft::sync_wait(transfer());
  double kj_gbs = static_cast<double>(kBytes) / seconds_since(t0) / 1e9;
  REQUIRE(got == kBytes);
  CHECK(std::memcmp(src.data(), dst.data(), kBytes) == 0);
  std::fill(dst.begin(), dst.end(), kj::byte{0});
  double raw_gbs = raw_bandwidth_gbs(src, dst);
  CHECK(std::memcmp(src.data(), dst.data(), kBytes) == 0);

  // Round trips: RPC echo from a coroutine on the pool (one at a time), the
  // same loop driven inside KJ on reactor B (no executor hops), raw sockets.
  n.start_rpc();
  auto rpc_from_pool = [&]() -> weft::Task<double> {
    co_await weft::resume_on(n.pool);
    auto t = Clock::now();
    for (int i = 0; i < kRounds; ++i) {
      if (co_await n.echo(static_cast<std::uint64_t>(i)) != static_cast<std::uint64_t>(i)) {
        co_return -1;
      }
    }
    co_return seconds_since(t) * 1e6 / kRounds;
  };
  double rpc_us = weft::sync_wait(rpc_from_pool());
  CHECK(rpc_us > 0);
  auto hop_from_pool = [&]() -> weft::Task<double> {
    co_await weft::resume_on(n.pool);
    auto t = Clock::now();
    for (int i = 0; i < kRounds; ++i) co_await weft::run_on_kj(n.b, [] {});
    co_return seconds_since(t) * 1e6 / kRounds;
  };
  double hop_us = weft::sync_wait(hop_from_pool());
  auto rpc_in_kj_us = weft::sync_wait(weft::run_on_kj(n.b, [&] {
    struct Loop {
      EchoTest::Client& echo;
      Clock::time_point t0 = Clock::now();
      kj::Promise<double> next(int i) {
        if (i == kRounds) return seconds_since(t0) * 1e6 / kRounds;
        auto request = echo.echoRequest();
        request.setValue(static_cast<std::uint64_t>(i));
        return request.send().then([this, i](auto&&) { return next(i + 1); });
      }
    };
    auto loop = kj::heap<Loop>(Loop{n.client->echo});
    auto done = loop->next(0);
    return done.attach(kj::mv(loop));
  }));
  double raw_us = raw_round_trip_us(kRounds);

  std::printf(
      "{\"bench\":\"kj_asio\",\"metric\":\"stream_bandwidth\",\"value\":%.3f,\"unit\":\"GB/s\"}\n"
      "{\"bench\":\"kj_asio\",\"metric\":\"raw_bandwidth\",\"value\":%.3f,\"unit\":\"GB/s\"}\n"
      "{\"bench\":\"kj_asio\",\"metric\":\"rpc_rtt_from_coroutine\",\"value\":%.1f,\"unit\":\"us\"}"
      "\n"
      "{\"bench\":\"kj_asio\",\"metric\":\"rpc_rtt_in_kj\",\"value\":%.1f,\"unit\":\"us\"}\n"
      "{\"bench\":\"kj_asio\",\"metric\":\"run_on_kj_hop\",\"value\":%.1f,\"unit\":\"us\"}\n"
      "{\"bench\":\"kj_asio\",\"metric\":\"raw_rtt\",\"value\":%.1f,\"unit\":\"us\"}\n",
      kj_gbs, raw_gbs, rpc_us, rpc_in_kj_us, hop_us, raw_us);
  std::printf(
      "kj_asio: 64 MiB through the KJ stream %.2f GB/s (%zu reads) vs raw blocking %.2f GB/s "
      "(%.2fx); RPC echo RTT %.1f us from a coroutine, %.1f us inside KJ, raw ping-pong %.1f us "
      "(%.2fx / %.2fx); an empty run_on_kj round trip %.1f us\n",
      kj_gbs, reads, raw_gbs, kj_gbs / raw_gbs, rpc_us, rpc_in_kj_us, raw_us, rpc_us / raw_us,
      rpc_in_kj_us / raw_us, hop_us);
}
