// detail::PeerLinks: a node's connections to the other nodes (DESIGN §3),
// the peer transport under the Cluster.
//
// To each node it talks to, a node keeps one outbound link: a Cap'n Proto
// RPC connection that starts at the peer's Gate (token, protocol version,
// build) and, once let in, a task stream beside it (StreamFrame frames:
// specs and results, one way). Inbound, it serves the Gate on every
// connection and reads the task streams others open to it. A broken link is
// forgotten, and the next send makes a new one; whether the node behind it
// died is the head's call, not the link's.
//
// Reactor thread only, inside KJ's loop, between open() and close().
#pragma once

#include <capnp/rpc-twoparty.h>
#include <kj/async.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/auth.hpp"
#include "node/object_transfer.hpp"
#include "node/transport.hpp"
#include "weft.capnp.h"
#include "weft/core/reactor.hpp"
#include "weft/node/control_store.hpp"

namespace weft::detail {

class PeerLinks final : public ObjectTransfer::Peers {
 public:
  // What the links need of the node they connect, and what they tell it.
  class Owner {
   public:
    // This node, as its hello describes it.
    virtual NodeInfo local_info() const = 0;
    // Where `node` listens, from the view; nothing if the view lacks it.
    virtual std::optional<std::pair<std::string, std::uint16_t>> address_of(NodeId node) const = 0;
    virtual bool declared_dead(NodeId node) const = 0;
    // A new inbound connection's first capability; `from` becomes the node
    // that passed it, and outlives the connection's capabilities.
    virtual wire::Gate::Client gate(NodeId& from) = 0;
    // The link to the head is in, with the head's capability.
    virtual void head_connected(wire::Head::Client head) = 0;
    // The link to the head failed: `reason`, and whether it had connected.
    virtual void head_link_failed(const std::string& reason, bool connected) = 0;
    // The link to `node` (not the head) broke; on a later turn, once it is
    // forgotten, link_forgotten.
    virtual void link_broke(NodeId node) = 0;
    virtual void link_forgotten(NodeId node) = 0;
    // Frames from a task stream.
    virtual void tasks_arrived(capnp::List<wire::TaskSpec>::Reader tasks) = 0;
    virtual void results_arrived(capnp::List<wire::TaskResult>::Reader results) = 0;

   protected:
    ~Owner() = default;
  };

  PeerLinks(NodeId self, const std::string& token, Transport& transport, Reactor& reactor,
            Owner& owner);
  PeerLinks(const PeerLinks&) = delete;
  PeerLinks& operator=(const PeerLinks&) = delete;
  ~PeerLinks();

  // Listens for RPC on `host`:`port` (0: a free one) and for task streams
  // on a free port beside it; throws weft::Error if it cannot.
  void open(kj::TaskSet::ErrorHandler& errors, const std::string& host, std::uint16_t port);
  // Drops every connection and stops listening; nothing is sent again.
  void close();
  std::uint16_t port() const noexcept { return port_; }
  std::uint16_t stream_port() const noexcept { return stream_port_; }

  // Not on the head: connects to the head, whose id is 0 here.
  void connect_head(const std::string& host, std::uint16_t port);
  // The head's capability while connected to it, else null.
  wire::Head::Client* head();

  // `node`'s capability once connected; rejected as DISCONNECTED if the
  // link breaks first.
  kj::Promise<wire::Peer::Client> peer(NodeId node);
  // ObjectTransfer::Peers.
  void with_peer(NodeId node, kj::Function<void(wire::Peer::Client&)> send) override;
  void deliver(NodeId node, std::function<kj::Promise<void>(wire::Peer::Client&)> request) override;
  bool declared_dead(NodeId node) const override { return owner_.declared_dead(node); }

  // Sends `frame` on `node`'s task stream, after those sent before it;
  // drops it if the link is broken (the node's death re-sends or fails
  // what it carried).
  void send_frame(NodeId node, kj::Own<capnp::MallocMessageBuilder> frame);
  // The peers this node is connected to now.
  std::vector<wire::Peer::Client> connected_peers();
  // The head declared `node` dead: its links go, and so do its connections
  // here, so that a node that was only cut off cannot act as its old self
  // when the link heals (it reconnects, and the Gate refuses it). With
  // `keep_control` (the head) its RPC connection in stays, for its next
  // heartbeat to learn it was fenced.
  void drop_node(NodeId node, bool keep_control);

  // The Gate's check of a hello: why it is refused ("" if it is not);
  // `nonce` is what this connection's challenge sent, if one did.
  std::string check_hello(wire::Hello::Reader hello, const std::optional<Nonce>& nonce) const;

 private:
  // The outbound connections to another node: RPC, and beside it the task
  // stream once the Gate has let us in.
  struct Link {
    NodeId id = 0;
    // Tells this link from a later one to the same node: a connect or a
    // failure that outlives its link must not touch the next.
    std::uint64_t generation = 0;
    std::string host;
    kj::Own<kj::AsyncIoStream> stream;
    kj::Own<capnp::TwoPartyVatNetwork> network;
    kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
    kj::Maybe<wire::Peer::Client> peer;
    kj::Maybe<wire::Head::Client> head;
    bool broken = false;
    // Sends queued while the connection is being set up, in order.
    std::vector<kj::Function<void(wire::Peer::Client&)>> waiting;
    kj::Own<kj::AsyncIoStream> frames;
    kj::Promise<void> frame_writes = kj::READY_NOW;  // chained: one write at a time, in order
    std::vector<kj::Own<capnp::MallocMessageBuilder>> frames_waiting;
    kj::Promise<void> frames_watch = nullptr;  // see watch_frames; ends before `frames`
  };
  // One inbound RPC connection.
  struct Inbound {
    NodeId from = 0;  // the node that passed the Gate; 0 for a tool, or before
    kj::Own<kj::AsyncIoStream> stream;
    kj::Own<capnp::TwoPartyVatNetwork> network;
    kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
  };
  // An inbound task stream: its hello, then frames until it ends.
  struct InboundFrames {
    NodeId from = 0;  // from its hello
    kj::Own<kj::AsyncIoStream> stream;
    kj::Promise<void> reading = nullptr;
  };
  using Request = std::function<kj::Promise<void>(wire::Peer::Client&)>;
  struct Delivery;
  using AcceptHandler = void (PeerLinks::*)(kj::Own<kj::AsyncIoStream>);

  // Hands every connection `listener` accepts to `on_accept`.
  void accept_loop(kj::ConnectionReceiver& listener, AcceptHandler on_accept);
  void on_inbound(kj::Own<kj::AsyncIoStream> stream);
  Link& link_to(NodeId node);
  // The link to `node` if it is still the one made as `generation`, else null.
  Link* live_link(NodeId node, std::uint64_t generation);
  void connect_link(Link& link, const std::string& host, std::uint16_t port);
  void link_failed(NodeId node, std::uint64_t generation, const kj::Exception& e);
  // A hello proving the token over the gate's `nonce` (auth.hpp).
  void fill_hello(wire::Hello::Builder hello, capnp::Data::Reader nonce) const;
  void send_delivery(NodeId node, Request request, unsigned broken);
  void deliver_after_backoff(NodeId node, Request request, unsigned broken);

  // Task streams (task_streams.cpp).
  void on_stream(kj::Own<kj::AsyncIoStream> stream);
  kj::Promise<void> read_frames(InboundFrames& in);
  void connect_frames(NodeId node, std::uint16_t stream_port);
  void write_frame(Link& link, kj::Own<capnp::MallocMessageBuilder> frame);
  // Watches the task stream to `link`'s node: the receiver never writes on
  // it, so a read that ends means the receiver dropped it.
  void watch_frames(Link& link);

  const NodeId self_;
  const std::string token_;
  Transport& transport_;
  Reactor& reactor_;
  Owner& owner_;
  std::uint16_t port_ = 0;
  std::uint16_t stream_port_ = 0;
  bool closed_ = false;         // no delivery is sent again
  kj::Own<kj::TaskSet> tasks_;  // while open
  kj::Own<kj::ConnectionReceiver> listener_;
  kj::Own<kj::ConnectionReceiver> stream_listener_;
  std::map<NodeId, std::unique_ptr<Link>> links_;
  std::uint64_t link_generations_ = 0;
  std::vector<std::unique_ptr<Inbound>> inbound_;
  std::vector<std::unique_ptr<InboundFrames>> inbound_frames_;
  std::set<Reactor::TimerId> delivery_timers_;  // deliveries waiting to go again
};

}  // namespace weft::detail
