// The transport seam (DESIGN §3): how a node listens for and reaches its
// peers. Everything above it (the Cluster, Cap'n Proto RPC, the task
// streams) is the same code in production, over TCP, and in the simulator
// (src/sim/sim_network.hpp), over in-memory streams.
#pragma once

#include <kj/async-io.h>

#include <asio/io_context.hpp>
#include <cstdint>
#include <string>
#include <string_view>

// KJ's interfaces have no virtual destructor (see kj_asio.hpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

namespace weft::detail {

class Transport {
 public:
  virtual ~Transport() = default;

  // Before the reactor serves (these may block on name lookups).
  // Throws weft::UsageError naming `flag` unless this host can listen on `host`.
  virtual void check_bind(std::string_view flag, const std::string& host) const = 0;
  // The address peers reach a node at that listens on `bind` (addresses.hpp).
  virtual std::string default_advertise(const std::string& bind, const std::string& head_host,
                                        std::uint16_t head_port) const = 0;

  // On the reactor thread, inside its KJ loop.
  // Listens on `host`:`port` (0: a free port). Throws std::system_error if it cannot.
  virtual kj::Own<kj::ConnectionReceiver> listen(const std::string& host, std::uint16_t port) = 0;
  // Connects to a peer; a refused or unreachable one rejects with DISCONNECTED.
  virtual kj::Promise<kj::Own<kj::AsyncIoStream>> connect(const std::string& host,
                                                          std::uint16_t port) = 0;

  // Whether heartbeats may also travel as UDP datagrams (liveness.hpp).
  virtual bool datagrams() const noexcept = 0;
};

// TCP over the host's network stack, on the reactor's io_context.
class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(asio::io_context& io) : io_(io) {}

  void check_bind(std::string_view flag, const std::string& host) const override;
  std::string default_advertise(const std::string& bind, const std::string& head_host,
                                std::uint16_t head_port) const override;
  kj::Own<kj::ConnectionReceiver> listen(const std::string& host, std::uint16_t port) override;
  kj::Promise<kj::Own<kj::AsyncIoStream>> connect(const std::string& host,
                                                  std::uint16_t port) override;
  bool datagrams() const noexcept override { return true; }

 private:
  asio::io_context& io_;
};

}  // namespace weft::detail

#pragma GCC diagnostic pop
