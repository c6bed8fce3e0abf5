// The cluster token never travels: every byte the `weft` tool and the head
// exchange is recorded by a relay between them, and the token is not among
// them, while the tool is let in all the same (and a wrong token is not).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "local_cluster.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using cluster_test::LocalCluster;
using cluster_test::run_process;

namespace {

int listen_on_loopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  port = ntohs(addr.sin_port);
  return fd;
}

int connect_to_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

// Relays one connection to `target`, keeping every byte either side sent,
// until a side closes or 20 s pass. recorded() is read after join().
class RecordingRelay {
 public:
  explicit RecordingRelay(std::uint16_t target)
      : listener_(listen_on_loopback(port_)), thread_([this, target] { relay(target); }) {}
  ~RecordingRelay() {
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }
  std::uint16_t port() const { return port_; }
  const std::string& join() {
    thread_.join();
    return recorded_;
  }

 private:
  void relay(std::uint16_t target) {
    pollfd accepting{listener_, POLLIN, 0};
    if (::poll(&accepting, 1, 20'000) != 1) return;
    const int client = ::accept(listener_, nullptr, nullptr);
    const int server = connect_to_loopback(target);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    bool open = client >= 0 && server >= 0;
    while (open && std::chrono::steady_clock::now() < deadline) {
      if (::poll(fds, 2, 100) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if (fds[i].revents == 0) continue;
        char buf[65536];
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        if (n <= 0) {
          open = false;
          break;
        }
        recorded_.append(buf, static_cast<std::size_t>(n));
        open = ::send(fds[1 - i].fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) == n;
      }
    }
    if (client >= 0) ::close(client);
    if (server >= 0) ::close(server);
  }

  std::uint16_t port_ = 0;
  int listener_;
  std::string recorded_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("the weft tool is let in without the cluster token crossing the wire") {
  LocalCluster cluster(1);
  RecordingRelay relay(cluster.link().port());

  const auto status = run_process(
      WEFT_TOOL_PATH, {"status", "--address", fmt::format("127.0.0.1:{}", relay.port())},
      {cluster.token_env()}, 20s);
  const std::string& wire = relay.join();

  INFO(status.output);
  CHECK(status.status == 0);
  CHECK(status.output.find("cluster: 1 node alive") != std::string::npos);
  CHECK(wire.size() > 100);  // the handshake and the status went through the relay
  CHECK(wire.find(cluster.token()) == std::string::npos);
}

TEST_CASE("a proof made with another token is refused, and names the token as the reason") {
  LocalCluster cluster(1);
  RecordingRelay relay(cluster.link().port());

  const auto status = run_process(
      WEFT_TOOL_PATH, {"status", "--address", fmt::format("127.0.0.1:{}", relay.port())},
      {"WEFT_CLUSTER_TOKEN=not-" + cluster.token()}, 20s);
  const std::string& wire = relay.join();

  INFO(status.output);
  CHECK(status.status != 0);
  CHECK(status.output.find("wrong cluster token") != std::string::npos);
  CHECK(wire.find("not-" + cluster.token()) == std::string::npos);
}
