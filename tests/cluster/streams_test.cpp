// The task stream (weft.capnp StreamFrame) spoken to raw: whatever does not
// belong on it (no hello, a wrong token, bytes that are no frame, a frame
// larger than a node takes) closes that connection, and the node goes on
// serving its peers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "cluster_remotes.hpp"
#include "local_cluster.hpp"
#include "node/auth.hpp"
#include "weft.capnp.h"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using cluster_test::LocalCluster;
using cluster_test::on;
using cluster_test::within;

namespace {

// A plain TCP client of a node's stream port.
class RawStream {
 public:
  explicit RawStream(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawStream() { ::close(fd_); }
  RawStream(const RawStream&) = delete;
  RawStream& operator=(const RawStream&) = delete;

  void send(const void* data, std::size_t n) {
    REQUIRE(::send(fd_, data, n, MSG_NOSIGNAL) == static_cast<ssize_t>(n));
  }
  void send(capnp::MessageBuilder& message) {
    auto words = capnp::messageToFlatArray(message);
    send(words.asBytes().begin(), words.asBytes().size());
  }

  // True once the node has closed the connection (end of stream or reset),
  // false if it is still open after `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    char byte;
    return ::recv(fd_, &byte, 1, 0) <= 0;
  }

 private:
  int fd_;
};

void hello(capnp::MallocMessageBuilder& message, const std::string& token) {
  auto h = message.initRoot<weft::wire::StreamFrame>().initHello();
  const auto proof = weft::detail::prove_stream_hello(token, 0x5eed);
  h.setTokenProof(kj::arrayPtr(proof.data(), proof.size()));
  h.setNodeId(0x5eed);
}

// The cluster still runs work both ways between the head and a worker.
bool still_serving(LocalCluster& cluster) {
  const weft::NodeId worker = cluster.worker_id(0);
  const int sum = cluster.head().run([&](weft::Runtime&) -> weft::Task<int> {
    co_return co_await within(weft::submit<&cluster_add>(on(worker), 40, 2));
  });
  return sum == 42;
}

}  // namespace

TEST_CASE("a task stream with the wrong token, or without a hello, is closed") {
  LocalCluster cluster(2);
  const std::uint16_t port = cluster.link().stream_port();
  {
    RawStream wrong_token(port);
    capnp::MallocMessageBuilder message;
    hello(message, "not-" + cluster.token());
    wrong_token.send(message);
    CHECK(wrong_token.closed_within(5s));
  }
  {
    RawStream tasks_first(port);
    capnp::MallocMessageBuilder message;
    message.initRoot<weft::wire::StreamFrame>().initTasks(1);
    tasks_first.send(message);
    CHECK(tasks_first.closed_within(5s));
  }
  CHECK(still_serving(cluster));
}

TEST_CASE("a task stream that sends bytes that are no frame, or too large a frame, is closed") {
  LocalCluster cluster(2);
  const std::uint16_t port = cluster.link().stream_port();
  {
    RawStream garbage(port);
    capnp::MallocMessageBuilder greeting;
    hello(greeting, cluster.token());
    garbage.send(greeting);
    const std::vector<std::uint8_t> bytes(64, 0xff);  // an impossible segment table
    garbage.send(bytes.data(), bytes.size());
    CHECK(garbage.closed_within(5s));
  }
  {
    RawStream oversized(port);
    capnp::MallocMessageBuilder greeting;
    hello(greeting, cluster.token());
    oversized.send(greeting);
    // One segment of 2^28 words (2 GiB), over the node's 512 MiB limit: the
    // header alone must be refused, the body is never sent.
    const std::uint32_t header[2] = {0, 1u << 28};
    oversized.send(header, sizeof header);
    CHECK(oversized.closed_within(5s));
  }
  {
    // The hello alone is held to a few words.
    RawStream long_hello(port);
    capnp::MallocMessageBuilder greeting;
    hello(greeting, std::string(64 * 1024, 'x'));
    long_hello.send(greeting);
    CHECK(long_hello.closed_within(5s));
  }
  CHECK(still_serving(cluster));
}
