// detail::PeerLinks: listening, the links to other nodes and their Gate
// handshake, and deliveries. Task streams are in task_streams.cpp.
#include "node/peer_links.hpp"

#include <algorithm>
#include <cstring>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "node/kj_asio.hpp"
#include "node/link_retry.hpp"
#include "node/wire.hpp"
#include "node/wire_error.hpp"
#include "weft/core/log.hpp"
#include "weft/remote/registry.hpp"

namespace weft::detail {

PeerLinks::PeerLinks(NodeId self, const std::string& token, Transport& transport, Reactor& reactor,
                     Owner& owner)
    : self_(self), token_(token), transport_(transport), reactor_(reactor), owner_(owner) {}

PeerLinks::~PeerLinks() = default;

void PeerLinks::open(kj::TaskSet::ErrorHandler& errors, const std::string& host,
                     std::uint16_t port) {
  tasks_ = kj::heap<kj::TaskSet>(errors);
  try {
    listener_ = transport_.listen(host, port);
    stream_listener_ = transport_.listen(host, 0);
  } catch (const std::system_error& e) {
    throw Error(
        fmt::format("cannot listen on {}:{}: {} (give another --port, or none for a free one)",
                    host, port, e.code().message()));
  }
  port_ = static_cast<std::uint16_t>(listener_->getPort());
  accept_loop(*listener_, &PeerLinks::on_inbound);
  stream_port_ = static_cast<std::uint16_t>(stream_listener_->getPort());
  accept_loop(*stream_listener_, &PeerLinks::on_stream);
}

void PeerLinks::close() {
  closed_ = true;
  for (auto timer : delivery_timers_) reactor_.cancel(timer);
  delivery_timers_.clear();
  links_.clear();
  inbound_.clear();
  inbound_frames_.clear();
  listener_ = nullptr;
  stream_listener_ = nullptr;
  tasks_ = nullptr;
}

// --- inbound ------------------------------------------------------------------------

void PeerLinks::accept_loop(kj::ConnectionReceiver& listener, AcceptHandler on_accept) {
  tasks_->add(listener.accept().then([this, &listener, on_accept](kj::Own<kj::AsyncIoStream> s) {
    (this->*on_accept)(kj::mv(s));
    accept_loop(listener, on_accept);
  }));
}

void PeerLinks::on_inbound(kj::Own<kj::AsyncIoStream> stream) {
  auto in = std::make_unique<Inbound>();
  in->stream = kj::mv(stream);
  in->network = kj::heap<capnp::TwoPartyVatNetwork>(*in->stream, capnp::rpc::twoparty::Side::SERVER,
                                                    reader_options());
  in->rpc = kj::heap(capnp::makeRpcServer(*in->network, owner_.gate(in->from)));
  Inbound* raw = in.get();
  tasks_->add(in->network->onDisconnect().then(
      [this, raw] { std::erase_if(inbound_, [raw](const auto& p) { return p.get() == raw; }); },
      [](kj::Exception&&) {}));  // closed by us (drop_node): already erased
  inbound_.push_back(std::move(in));
}

void PeerLinks::drop_node(NodeId node, bool keep_control) {
  links_.erase(node);
  // On a later turn: this may run in a call on one of them.
  tasks_->add(kj::evalLater([this, node, keep_control] {
    if (!keep_control) std::erase_if(inbound_, [node](const auto& in) { return in->from == node; });
    std::erase_if(inbound_frames_, [node](const auto& in) { return in->from == node; });
  }));
}

std::string PeerLinks::check_hello(wire::Hello::Reader hello,
                                   const std::optional<Nonce>& nonce) const {
  if (hello.getProtocolVersion() != wire::PROTOCOL_VERSION) {
    return fmt::format("protocol version {} is not this node's {}", hello.getProtocolVersion(),
                       wire::PROTOCOL_VERSION);
  }
  if (!nonce) return "a hello without a challenge first";
  const auto proof = hello.getTokenProof();
  if (!verify(token_, *nonce, std::span(proof.begin(), proof.size()))) {
    return "wrong cluster token";
  }
  if (hello.getRole() == wire::Role::TOOL) return {};
  if (hello.getBuildFingerprint() == registry_fingerprint()) return {};
  // Name the first difference, so the operator knows which build is which.
  std::map<std::string, std::string> theirs;
  for (auto e : hello.getRegistry()) {
    std::string line = e.cStr();
    auto tab = line.find('\t');  // names hold spaces (a constructor's argument types)
    theirs[line.substr(0, tab)] = tab == std::string::npos ? "" : line.substr(tab + 1);
  }
  for (const auto& e : registry_entries()) {
    auto it = theirs.find(e.name);
    if (it == theirs.end()) return fmt::format("different build: it lacks '{}'", e.name);
    if (it->second != e.signature) {
      return fmt::format("different build: '{}' is `{}` there but `{}` here", e.name, it->second,
                         e.signature);
    }
    theirs.erase(it);
  }
  if (!theirs.empty()) {
    return fmt::format("different build: it has '{}', which this node lacks",
                       theirs.begin()->first);
  }
  return "different build (registry fingerprints differ)";
}

// --- outbound -----------------------------------------------------------------------

void PeerLinks::connect_head(const std::string& host, std::uint16_t port) {
  auto& slot = links_[0];
  slot = std::make_unique<Link>();
  slot->generation = ++link_generations_;
  slot->host = host;
  connect_link(*slot, host, port);
}

wire::Head::Client* PeerLinks::head() {
  if (auto it = links_.find(0); it != links_.end()) {
    KJ_IF_MAYBE (h, it->second->head) return h;
  }
  return nullptr;
}

std::vector<wire::Peer::Client> PeerLinks::connected_peers() {
  std::vector<wire::Peer::Client> peers;
  for (const auto& [id, link] : links_) {
    KJ_IF_MAYBE (peer, link->peer) peers.emplace_back(*peer);
  }
  return peers;
}

PeerLinks::Link& PeerLinks::link_to(NodeId node) {
  auto& slot = links_[node];
  if (!slot) {
    slot = std::make_unique<Link>();
    slot->id = node;
    slot->generation = ++link_generations_;
    if (auto address = owner_.address_of(node); address && address->second != 0) {
      slot->host = address->first;
      connect_link(*slot, address->first, address->second);
    } else {
      // Not in the view (yet): what is sent now is dropped, and a later
      // send, once the view knows the node, tries again.
      slot->broken = true;
      tasks_->add(kj::evalLater([this, node, generation = slot->generation] {
        if (live_link(node, generation) != nullptr) links_.erase(node);
      }));
    }
  }
  return *slot;
}

PeerLinks::Link* PeerLinks::live_link(NodeId node, std::uint64_t generation) {
  auto it = links_.find(node);
  return it != links_.end() && it->second->generation == generation ? it->second.get() : nullptr;
}

void PeerLinks::connect_link(Link& link, const std::string& host, std::uint16_t port) {
  const NodeId id = link.id;
  const std::uint64_t gen = link.generation;
  tasks_->add(transport_.connect(host, port)
                  .then([this, id, gen](kj::Own<kj::AsyncIoStream> stream) -> kj::Promise<void> {
                    Link* live = live_link(id, gen);
                    if (live == nullptr) return kj::READY_NOW;  // replaced or dropped meanwhile
                    Link& l = *live;
                    l.stream = kj::mv(stream);
                    l.network = kj::heap<capnp::TwoPartyVatNetwork>(
                        *l.stream, capnp::rpc::twoparty::Side::CLIENT, reader_options());
                    l.rpc = kj::heap(capnp::makeRpcClient(*l.network));
                    capnp::word scratch[4];
                    std::memset(scratch, 0, sizeof scratch);
                    capnp::MallocMessageBuilder vat(scratch);
                    auto vat_id = vat.getRoot<capnp::rpc::twoparty::VatId>();
                    vat_id.setSide(capnp::rpc::twoparty::Side::SERVER);
                    auto gate = l.rpc->bootstrap(vat_id).castAs<wire::Gate>();
                    tasks_->add(l.network->onDisconnect().then([this, id, gen] {
                      link_failed(id, gen, KJ_EXCEPTION(DISCONNECTED, "peer connection closed"));
                    }));
                    return gate.challengeRequest()
                        .send()
                        .then(
                            [this, gate](capnp::Response<wire::Gate::ChallengeResults> c) mutable {
                              auto req = gate.helloRequest();
                              fill_hello(req.initHello(), c.getNonce());
                              return req.send();
                            })
                        .then([this, id, gen](capnp::Response<wire::Gate::HelloResults> r) {
                          Link* answered = live_link(id, gen);
                          if (answered == nullptr) return;
                          Link& ready = *answered;
                          ready.peer = r.getPeer();
                          ready.head = r.getHead();
                          if (id == 0) {
                            owner_.head_connected(r.getHead());
                          } else {
                            connect_frames(id, r.getStreamPort());
                          }
                          auto waiting = std::move(ready.waiting);
                          KJ_IF_MAYBE (peer, ready.peer) {
                            for (auto& send : waiting) send(*peer);
                          }
                        });
                  })
                  .catch_([this, id, gen](kj::Exception&& e) { link_failed(id, gen, e); }));
}

void PeerLinks::fill_hello(wire::Hello::Builder hello, capnp::Data::Reader nonce) const {
  hello.setProtocolVersion(wire::PROTOCOL_VERSION);
  const Proof proof = prove(token_, std::span(nonce.begin(), nonce.size()));
  hello.setTokenProof(kj::arrayPtr(proof.data(), proof.size()));
  hello.setBuildFingerprint(registry_fingerprint());
  const auto entries = registry_entries();
  auto list = hello.initRegistry(static_cast<unsigned>(entries.size()));
  for (unsigned i = 0; i < entries.size(); ++i) {
    list.set(i, entries[i].name + '\t' + entries[i].signature);
  }
  hello.setRole(wire::Role::NODE);
  to_wire(hello.initInfo(), owner_.local_info());
}

void PeerLinks::link_failed(NodeId node, std::uint64_t generation, const kj::Exception& e) {
  Link* link = live_link(node, generation);
  if (link == nullptr || link->broken) return;
  link->broken = true;
  const std::string reason = describe(e);
  if (node == 0) {
    owner_.head_link_failed(reason, link->stream.get() != nullptr);
    return;
  }
  log(LogLevel::debug, "connection to node {:x} closed: {}", node, reason);
  owner_.link_broke(node);
  // Forget the link so a later send reconnects if the node is still alive.
  tasks_->add(kj::evalLater([this, node, generation] {
    if (live_link(node, generation) != nullptr) links_.erase(node);
    owner_.link_forgotten(node);
  }));
}

void PeerLinks::with_peer(NodeId node, kj::Function<void(wire::Peer::Client&)> send) {
  Link& link = link_to(node);
  if (link.broken) return;
  KJ_IF_MAYBE (peer, link.peer) {
    send(*peer);
  } else {
    link.waiting.push_back(kj::mv(send));
  }
}

kj::Promise<wire::Peer::Client> PeerLinks::peer(NodeId node) {
  // Rejected as disconnected, rather than dropped, if the link breaks first.
  struct Connected {
    kj::Own<kj::PromiseFulfiller<wire::Peer::Client>> fulfiller;
    ~Connected() {
      if (fulfiller->isWaiting()) {
        fulfiller->reject(KJ_EXCEPTION(DISCONNECTED, "the link broke before it connected"));
      }
    }
  };
  auto paf = kj::newPromiseAndFulfiller<wire::Peer::Client>();
  auto connected = kj::heap<Connected>();
  connected->fulfiller = kj::mv(paf.fulfiller);
  with_peer(node, [c = kj::mv(connected)](wire::Peer::Client& peer) mutable {
    c->fulfiller->fulfill(kj::cp(peer));
  });
  return kj::mv(paf.promise);
}

// --- deliveries -------------------------------------------------------------------

// One sending of a message `deliver` sends until it is answered.
struct PeerLinks::Delivery {
  PeerLinks* links = nullptr;
  NodeId node = 0;
  Request request;
  unsigned broken = 0;  // links that broke under it, in a row
  bool settled = false;
  // Dropped unsent (its link broke first), or sent and disconnected.
  void broke() {
    if (std::exchange(settled, true) || links->closed_ || links->declared_dead(node)) return;
    if (broken + 1 >= max_broken_links) return;  // the peer cleans up when this node dies
    links->deliver_after_backoff(node, std::move(request), broken + 1);
  }
  ~Delivery() { broke(); }
};

void PeerLinks::deliver(NodeId node, Request request) {
  send_delivery(node, std::move(request), 0);
}

void PeerLinks::send_delivery(NodeId node, Request request, unsigned broken) {
  auto d = std::make_shared<Delivery>();
  d->links = this;
  d->node = node;
  d->request = std::move(request);
  d->broken = broken;
  with_peer(node, [this, d](wire::Peer::Client& peer) {
    tasks_->add(d->request(peer).then([d] { d->settled = true; }).catch_([d](kj::Exception&& e) {
      if (e.getType() == kj::Exception::Type::DISCONNECTED) d->broke();
      d->settled = true;  // refused: the peer's answer, not a broken link
    }));
  });
}

void PeerLinks::deliver_after_backoff(NodeId node, Request request, unsigned broken) {
  auto timer = std::make_shared<Reactor::TimerId>();
  *timer = reactor_.call_after(link_backoff(broken),
                               [this, node, request = std::move(request), broken, timer]() mutable {
                                 KjAsioEventPort::CompletionScope scope;
                                 delivery_timers_.erase(*timer);
                                 send_delivery(node, std::move(request), broken);
                               });
  delivery_timers_.insert(*timer);
}

}  // namespace weft::detail
