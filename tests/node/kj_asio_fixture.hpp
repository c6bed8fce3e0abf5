// Two reactors ("nodes") over real loopback TCP, each with its KJ loop, for
// the tests of KJ inside the Asio reactor (kj_asio_*_test.cpp): reactor A
// serves EchoTest (echo_test.capnp) to a client on reactor B, or the two hold
// the ends of a raw stream, and the test coroutines run on an executor pool.
//
//   kj_asio_test::TwoNodes n;
//   n.start_rpc();                                   // or n.start_stream()
//   CHECK(weft::sync_wait(n.echo(41)) == 41);
#pragma once

#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "node/echo_test.capnp.h"
#include "node/kj_asio.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/thread_pool.hpp"

namespace kj_asio_test {

// capnp's Server classes have no virtual destructor; kj::Own disposes of them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class EchoServer final : public EchoTest::Server {
 public:
  explicit EchoServer(kj::Own<kj::PromiseFulfiller<void>>& hang_seen) : hang_seen_(hang_seen) {}

  kj::Promise<void> echo(EchoContext context) override {
    context.getResults().setValue(context.getParams().getValue());
    return kj::READY_NOW;
  }
  kj::Promise<void> hang(HangContext) override {
    hang_seen_->fulfill();
    return kj::NEVER_DONE;
  }

 private:
  kj::Own<kj::PromiseFulfiller<void>>& hang_seen_;
};
#pragma GCC diagnostic pop

// One end of a two-party RPC connection.
struct RpcPeer {
  RpcPeer(kj::Own<kj::AsyncIoStream> s, capnp::rpc::twoparty::Side side,
          kj::Maybe<capnp::Capability::Client> bootstrap)
      : stream(kj::mv(s)), network(*stream, side), rpc(make_rpc(network, kj::mv(bootstrap))) {}

  static capnp::RpcSystem<capnp::rpc::twoparty::VatId> make_rpc(
      capnp::TwoPartyVatNetwork& network, kj::Maybe<capnp::Capability::Client> bootstrap) {
    KJ_IF_MAYBE (b, bootstrap) {
      return capnp::makeRpcServer(network, kj::mv(*b));
    }
    return capnp::makeRpcClient(network);
  }

  EchoTest::Client bootstrap() {
    capnp::word scratch[4] = {};
    capnp::MallocMessageBuilder message(scratch);
    auto vat = message.getRoot<capnp::rpc::twoparty::VatId>();
    vat.setSide(capnp::rpc::twoparty::Side::SERVER);
    return rpc.bootstrap(vat).castAs<EchoTest>();
  }

  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
};

// Lives on reactor A: accepts connections and serves EchoTest on each.
struct Server {
  explicit Server(asio::io_context& io) : listener(io, 0), accepting(accept_next()) {}

  kj::Promise<void> accept_next() {
    return listener.accept()
        .then([this](kj::Own<kj::AsyncIoStream> stream) {
          peers.push_back(kj::heap<RpcPeer>(
              kj::mv(stream), capnp::rpc::twoparty::Side::SERVER,
              capnp::Capability::Client(kj::heap<EchoServer>(hang_seen.fulfiller))));
          return accept_next();
        })
        .eagerlyEvaluate(nullptr);
  }

  weft::detail::TcpListener listener;
  std::vector<kj::Own<RpcPeer>> peers;
  kj::PromiseFulfillerPair<void> hang_seen = kj::newPromiseAndFulfiller<void>();
  kj::Promise<void> accepting;
};

// Lives on reactor B.
struct Client {
  explicit Client(kj::Own<kj::AsyncIoStream> stream)
      : peer(kj::mv(stream), capnp::rpc::twoparty::Side::CLIENT, nullptr), echo(peer.bootstrap()) {}
  RpcPeer peer;
  EchoTest::Client echo;
};

// Runs f on the reactor thread from the test thread and waits for it.
template <typename F>
void on_reactor(weft::Reactor& reactor, F f) {
  weft::sync_wait(weft::run_on_kj(reactor, std::move(f)));
}

// Two nodes (reactors A and B, each with its KJ loop) and an executor pool
// on which the test coroutines run. Objects of each reactor die on it.
struct TwoNodes {
  TwoNodes() = default;
  ~TwoNodes() {
    on_reactor(b, [this] {
      client.reset();
      b_stream = nullptr;
    });
    on_reactor(a, [this] {
      server.reset();
      a_stream = nullptr;
      listener.reset();
    });
  }

  // A serves EchoTest; B connects a client to it.
  void start_rpc() {
    on_reactor(a, [this] { server = std::make_unique<Server>(a.context()); });
    connect_client();
  }
  void connect_client() {
    auto port = server_port();
    weft::sync_wait(weft::run_on_kj(b, [this, port] {
      return weft::detail::connect_tcp(b.context(), weft::detail::loopback(port))
          .then([this](kj::Own<kj::AsyncIoStream> s) {
            client = std::make_unique<Client>(kj::mv(s));
          });
    }));
  }
  std::uint16_t server_port() {
    std::uint16_t port = 0;
    on_reactor(a, [&] { port = server->listener.port(); });
    return port;
  }

  // A raw stream between A (a_stream) and B (b_stream).
  void start_stream() {
    std::uint16_t port = 0;
    on_reactor(a, [&] {
      listener = std::make_unique<weft::detail::TcpListener>(a.context(), 0);
      port = listener->port();
    });
    weft::sync_wait(weft::run_on_kj(b, [&] {
      return weft::detail::connect_tcp(b.context(), weft::detail::loopback(port))
          .then([this](kj::Own<kj::AsyncIoStream> s) { b_stream = kj::mv(s); });
    }));
    weft::sync_wait(weft::run_on_kj(a, [&] {
      return listener->accept().then(
          [this](kj::Own<kj::AsyncIoStream> s) { a_stream = kj::mv(s); });
    }));
  }

  weft::Task<std::uint64_t> echo(std::uint64_t v) {
    return weft::run_on_kj(b, [this, v] {
      auto request = client->echo.echoRequest();
      request.setValue(v);
      return request.send().then(
          [](capnp::Response<EchoTest::EchoResults>&& r) { return r.getValue(); });
    });
  }

  weft::ThreadPool pool{{.threads = 2, .name = "kj-test"}};
  weft::Reactor a{"kj-node-a"};
  weft::Reactor b{"kj-node-b"};
  weft::detail::ScopedKjLoop kj_a{a};
  weft::detail::ScopedKjLoop kj_b{b};
  std::unique_ptr<Server> server;                       // on a
  std::unique_ptr<Client> client;                       // on b
  std::unique_ptr<weft::detail::TcpListener> listener;  // on a
  kj::Own<kj::AsyncIoStream> a_stream;                  // on a
  kj::Own<kj::AsyncIoStream> b_stream;                  // on b
};

// The kind of the TransportError `t` fails with. Any other failure propagates;
// std::logic_error if `t` succeeds.
inline weft::Task<weft::TransportError::Kind> transport_error_kind(weft::Task<void> t) {
  try {
    co_await std::move(t);
  } catch (const weft::TransportError& e) {
    co_return e.kind();
  }
  throw std::logic_error("expected a TransportError");
}

}  // namespace kj_asio_test
