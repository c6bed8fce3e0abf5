// detail::Cluster: set-up, tear-down and connections. Membership (the
// head, heartbeats, the view, node deaths) is in cluster_view.cpp, tasks
// in cluster_tasks.cpp, objects in object_transfer.cpp, actors in
// cluster_actors.cpp, the control plane and snapshots in
// cluster_control.cpp, fencing in cluster_fencing.cpp.
#include "node/cluster.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "node/link_retry.hpp"
#include "node/services.hpp"
#include "node/wire.hpp"
#include "weft/core/detached.hpp"
#include "weft/object/put_get.hpp"
#include "weft/remote/invoke.hpp"
#include "weft/remote/registry.hpp"

namespace weft::detail {

std::unique_ptr<ClusterLink> make_cluster(Node& node, const ClusterOptions& options) {
  return std::make_unique<Cluster>(node, options);
}

std::unique_ptr<ClusterLink> make_cluster(Node& node, const ClusterOptions& options,
                                          Transport& transport) {
  return std::make_unique<Cluster>(node, options, transport);
}

template <typename Pred>
bool Cluster::wait_changed(std::unique_lock<std::mutex>& lock,
                           std::optional<std::chrono::milliseconds> timeout, Pred pred) {
  if (BlockingPump* pump = tls_blocking_pump) {
    lock.unlock();
    const bool held = pump->run_until(
        [&] {
          std::lock_guard relock(mutex_);
          return pred();
        },
        timeout ? std::optional(weft::Clock::now() + *timeout) : std::nullopt);
    lock.lock();
    return held;
  }
  if (!timeout) {
    changed_.wait(lock, pred);
    return true;
  }
  return changed_.wait_for(lock, *timeout, pred);
}

// --- set-up and tear-down -----------------------------------------------------

Cluster::Cluster(Node& node, const ClusterOptions& options)
    : node_(node),
      own_transport_(std::make_unique<TcpTransport>(node.reactor().context())),
      transport_(*own_transport_),
      options_(options),
      is_head_(options.head) {}

Cluster::Cluster(Node& node, const ClusterOptions& options, Transport& transport)
    : node_(node), transport_(transport), options_(options), is_head_(options.head) {}

void Cluster::start() {
  transport_.check_bind("bind address", options_.bind_host);
  advertise_host_ = options_.advertise_host.empty()
                        ? transport_.default_advertise(
                              options_.bind_host, is_head_ ? std::string() : options_.head_host,
                              options_.head_port)
                        : options_.advertise_host;
  kj_ = std::make_unique<ScopedKjLoop>(node_.reactor());
  std::exception_ptr failure;
  BlockingEvent done;
  node_.reactor().post([&] {
    try {
      start_on_reactor(options_);
    } catch (const kj::Exception& e) {
      failure = error_from_kj(e);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure || is_head_) done.set();
  });
  if (!is_head_) {
    // Registration completes asynchronously; adopt_view signals it.
    std::unique_lock lock(mutex_);
    const bool registered = wait_changed(lock, std::chrono::seconds(30), [&] {
      return failure != nullptr || stopped_ || !view_.nodes.empty();
    });
    lock.unlock();
    if (!failure && !registered)
      failure = std::make_exception_ptr(Error("the head did not answer within 30 s"));
    if (!failure && stopped_) failure = std::make_exception_ptr(Error(refusal_));
  } else {
    done.wait();
  }
  if (failure) {
    stop_on_reactor_sync();
    std::rethrow_exception(failure);
  }
}

Cluster::~Cluster() noexcept {
  leave();
  stop_on_reactor_sync();
  std::lock_guard lock(lifeline_->mutex);
  lifeline_->alive = false;
}

void Cluster::leave() noexcept {
  if (is_head_ || !kj_) return;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;  // the cluster stopped, or the head is gone
    stopped_ = true;       // from now on a closing connection is expected
  }
  auto answered = std::make_shared<BlockingEvent>();
  node_.reactor().post([this, answered] {
    KjAsioEventPort::CompletionScope scope;
    auto it = links_.find(0);
    wire::Head::Client* head = nullptr;
    if (tasks_ && it != links_.end()) {
      KJ_IF_MAYBE (h, it->second->head) head = h;
    }
    if (head == nullptr) {
      answered->set();
      return;
    }
    auto req = head->leaveRequest();
    req.setNodeId(node_.node_id());
    tasks_->add(req.send().then([answered](auto&&) { answered->set(); },
                                [answered](kj::Exception&&) { answered->set(); }));
  });
  // A head that does not answer declares this node dead after its timeout.
  answered->wait_until(weft::Clock::now() + std::chrono::seconds(2));
}

void Cluster::stop_on_reactor_sync() {
  if (!kj_) return;
  BlockingEvent done;
  node_.reactor().post([&] {
    stop_on_reactor();
    done.set();
  });
  done.wait();
  kj_.reset();
}

void Cluster::start_on_reactor(const ClusterOptions& options) {
  tasks_ = kj::heap<kj::TaskSet>(task_logger_);
  transfer_.open(task_logger_);
  try {
    listener_ = transport_.listen(options.bind_host, options.listen_port);
    stream_listener_ = transport_.listen(options.bind_host, 0);
  } catch (const std::system_error& e) {
    throw Error(
        fmt::format("cannot listen on {}:{}: {} (give another --port, or none for a free one)",
                    options.bind_host, options.listen_port, e.code().message()));
  }
  port_ = static_cast<std::uint16_t>(listener_->getPort());
  accept_loop(*listener_, &Cluster::on_inbound);
  stream_port_ = static_cast<std::uint16_t>(stream_listener_->getPort());
  accept_loop(*stream_listener_, &Cluster::on_stream);
  // From now on the head's view says which bundles this node holds; until
  // the first arrives, work placed in any group waits for it.
  node_.scheduler_.hold_bundles({}, 0);
  if (is_head_) {
    store_ = std::make_unique<ControlStore>();
    load_snapshot();
    NodeInfo self = local_info();
    store_->register_node(self, ControlStore::Clock::now());
    control_ = make_head_control(*store_, [this] { publish_view(); });
    adopt_view(store_->view());
    // On the address the listener binds, beside its TCP port.
    if (transport_.datagrams())
      liveness_ = Liveness::receive(options.bind_host, port_, options.token);
  } else {
    control_ = make_remote_control(*this);
    PeerLink& head = link_to(0);
    connect_link(head, options.head_host, options.head_port);
    if (transport_.datagrams())
      liveness_ = Liveness::send(node_.node_id(), options.head_host, options.head_port,
                                 options.token, heartbeat_interval);
  }
  heartbeat();
}

void Cluster::stop_on_reactor() {
  // Pulls dropped from here on fail their objects and start no others;
  // deliveries are not sent again.
  deliveries_closed_ = true;
  for (auto timer : delivery_timers_) node_.reactor().cancel(timer);
  delivery_timers_.clear();
  transfer_.close();
  tasks_sending_.clear();
  results_sending_.clear();
  in_doubt_.clear();
  if (store_) save_snapshot(true);
  if (heartbeat_timer_) node_.reactor().cancel(*heartbeat_timer_);
  heartbeat_timer_.reset();
  liveness_.reset();
  hosted_actors_.clear();
  actor_creations_.clear();
  {
    std::lock_guard lock(mutex_);
    results_out_.clear();
  }
  links_.clear();
  inbound_.clear();
  inbound_frames_.clear();
  listener_ = nullptr;
  stream_listener_ = nullptr;
  tasks_ = nullptr;
}

void Cluster::TaskLogger::taskFailed(kj::Exception&& e) {
  log(LogLevel::warn, "transport: {}", describe(e));
}

NodeInfo Cluster::local_info() const {
  NodeInfo info;
  info.id = node_.node_id();
  info.host = advertise_host_;
  info.port = port_;
  info.totals = Resources{.cpu = 0};
  for (const auto& [name, amounts] : node_.scheduler_.resources()) {
    if (amounts.second > 0) set_resource(info.totals, name, amounts.second);
  }
  info.store_capacity = node_.store().capacity();
  info.pid = getpid();
  return info;
}

NodeLoad Cluster::local_load() const {
  NodeLoad load;
  load.available = Resources{.cpu = 0};
  for (const auto& [name, amounts] : node_.scheduler_.resources()) {
    if (amounts.second > 0) set_resource(load.available, name, amounts.first);
  }
  load.store_used = node_.store().arena_bytes_used();
  load.live_objects = node_.store().live_objects();
  load.tasks_in_flight = node_.scheduler_.tasks_in_flight();
  load.live_actors = node_.live_actors();
  return load;
}

// --- connections --------------------------------------------------------------

void Cluster::accept_loop(kj::ConnectionReceiver& listener, AcceptHandler on_accept) {
  tasks_->add(listener.accept().then([this, &listener, on_accept](kj::Own<kj::AsyncIoStream> s) {
    (this->*on_accept)(kj::mv(s));
    accept_loop(listener, on_accept);
  }));
}

void Cluster::on_inbound(kj::Own<kj::AsyncIoStream> stream) {
  auto in = std::make_unique<Inbound>();
  in->stream = kj::mv(stream);
  in->network = kj::heap<capnp::TwoPartyVatNetwork>(*in->stream, capnp::rpc::twoparty::Side::SERVER,
                                                    reader_options());
  in->rpc = kj::heap(capnp::makeRpcServer(
      *in->network, wire::Gate::Client(kj::heap<GateService>(*this, in->from))));
  Inbound* raw = in.get();
  tasks_->add(in->network->onDisconnect().then(
      [this, raw] { std::erase_if(inbound_, [raw](const auto& p) { return p.get() == raw; }); },
      [](kj::Exception&&) {}));  // closed by us (node_died): already erased
  inbound_.push_back(std::move(in));
}

void Cluster::fill_hello(wire::Hello::Builder hello, capnp::Data::Reader nonce) const {
  hello.setProtocolVersion(wire::PROTOCOL_VERSION);
  const Proof proof = prove(options_.token, std::span(nonce.begin(), nonce.size()));
  hello.setTokenProof(kj::arrayPtr(proof.data(), proof.size()));
  hello.setBuildFingerprint(registry_fingerprint());
  const auto entries = registry_entries();
  auto list = hello.initRegistry(static_cast<unsigned>(entries.size()));
  for (unsigned i = 0; i < entries.size(); ++i) {
    list.set(i, entries[i].name + '\t' + entries[i].signature);
  }
  hello.setRole(wire::Role::NODE);
  to_wire(hello.initInfo(), local_info());
}

std::string Cluster::check_hello(wire::Hello::Reader hello,
                                 const std::optional<Nonce>& nonce) const {
  if (hello.getProtocolVersion() != wire::PROTOCOL_VERSION) {
    return fmt::format("protocol version {} is not this node's {}", hello.getProtocolVersion(),
                       wire::PROTOCOL_VERSION);
  }
  if (!nonce) return "a hello without a challenge first";
  const auto proof = hello.getTokenProof();
  if (!verify(options_.token, *nonce, std::span(proof.begin(), proof.size()))) {
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

Cluster::PeerLink& Cluster::link_to(NodeId node) {
  auto& slot = links_[node];
  if (!slot) {
    slot = std::make_unique<PeerLink>();
    slot->id = node;
    slot->generation = ++link_generations_;
    if (node != 0) {
      std::string host;
      std::uint16_t port = 0;
      {
        std::lock_guard lock(mutex_);
        for (const auto& n : view_.nodes) {
          if (n.info.id == node) {
            host = n.info.host;
            port = n.info.port;
          }
        }
      }
      slot->host = host;
      if (port == 0) {
        // Not in the view (yet): what is sent now is dropped, and a later
        // send, once the view knows the node, tries again.
        slot->broken = true;
        tasks_->add(kj::evalLater([this, node, generation = slot->generation] {
          if (live_link(node, generation) != nullptr) links_.erase(node);
        }));
      } else {
        connect_link(*slot, host, port);
      }
    }
  }
  return *slot;
}

Cluster::PeerLink* Cluster::live_link(NodeId node, std::uint64_t generation) {
  auto it = links_.find(node);
  return it != links_.end() && it->second->generation == generation ? it->second.get() : nullptr;
}

void Cluster::connect_link(PeerLink& link, const std::string& host, std::uint16_t port) {
  const NodeId id = link.id;
  const std::uint64_t gen = link.generation;
  tasks_->add(transport_.connect(host, port)
                  .then([this, id, gen](kj::Own<kj::AsyncIoStream> stream) -> kj::Promise<void> {
                    PeerLink* live = live_link(id, gen);
                    if (live == nullptr) return kj::READY_NOW;  // replaced or dropped meanwhile
                    PeerLink& l = *live;
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
                          PeerLink* answered = live_link(id, gen);
                          if (answered == nullptr) return;
                          PeerLink& ready = *answered;
                          ready.peer = r.getPeer();
                          ready.head = r.getHead();
                          if (id == 0) {
                            register_with_head(r.getHead());
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

void Cluster::link_failed(NodeId node, std::uint64_t generation, const kj::Exception& e) {
  PeerLink* link = live_link(node, generation);
  if (link == nullptr || link->broken) return;
  link->broken = true;
  const std::string reason = describe(e);
  if (node == 0) {
    {
      std::lock_guard lock(mutex_);
      if (view_.nodes.empty()) {
        refusal_ = link->stream.get() == nullptr
                       ? fmt::format(
                             "cannot reach the head at {}:{}: {} (is it running there? "
                             "check --address)",
                             options_.head_host, options_.head_port, reason)
                       : "the head refused this node: " + reason;
      }
      stopped_ = true;
      changed_.notify_all();
    }
    release_bundles();
    return;
  }
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    stopping = stopped_;
  }
  // A connection is not a node: whether the node is dead is the head's call
  // (adopt_view says so), and a node that stops or leaves closes its own.
  log(LogLevel::debug, "connection to node {:x} closed: {}", node, reason);
#ifdef WEFT_PLANTED_BUG
  // The simulation's planted bug (src/sim/CMakeLists.txt builds weft-sim-planted
  // with it): a dropped connection makes this node forget the results it
  // holds for that owner. No real build defines it.
  for (const auto& result : transfer_.held_for(node)) transfer_.release_held(result->id());
#endif
  if (!stopping) doubt_tasks_on(node);
  // Forget the link so a later send reconnects if the node is still alive;
  // then announce again the results held for it, which may have gone with it.
  tasks_->add(kj::evalLater([this, node, generation, stopping] {
    if (live_link(node, generation) != nullptr) links_.erase(node);
    if (stopping) return;
    for (auto& result : transfer_.held_for(node)) send_result(node, std::move(result));
  }));
}

void Cluster::with_peer(NodeId node, kj::Function<void(wire::Peer::Client&)> send) {
  PeerLink& link = link_to(node);
  if (link.broken) return;
  KJ_IF_MAYBE (peer, link.peer) {
    send(*peer);
  } else {
    link.waiting.push_back(kj::mv(send));
  }
}

// One sending of a message `deliver` sends until it is answered.
struct Cluster::Delivery {
  Cluster* cluster = nullptr;
  NodeId node = 0;
  PeerRequest request;
  unsigned broken = 0;  // links that broke under it, in a row
  bool settled = false;
  // Dropped unsent (its link broke first), or sent and disconnected.
  void broke() {
    if (std::exchange(settled, true) || cluster->deliveries_closed_ ||
        cluster->declared_dead(node)) {
      return;
    }
    if (broken + 1 >= max_broken_links) return;  // the peer cleans up when this node dies
    cluster->deliver_after_backoff(node, std::move(request), broken + 1);
  }
  ~Delivery() { broke(); }
};

void Cluster::deliver(NodeId node, PeerRequest request) {
  send_delivery(node, std::move(request), 0);
}

void Cluster::send_delivery(NodeId node, PeerRequest request, unsigned broken) {
  auto d = std::make_shared<Delivery>();
  d->cluster = this;
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

void Cluster::deliver_after_backoff(NodeId node, PeerRequest request, unsigned broken) {
  auto timer = std::make_shared<Reactor::TimerId>();
  *timer = node_.reactor().call_after(
      link_backoff(broken), [this, node, request = std::move(request), broken, timer]() mutable {
        KjAsioEventPort::CompletionScope scope;
        delivery_timers_.erase(*timer);
        send_delivery(node, std::move(request), broken);
      });
  delivery_timers_.insert(*timer);
}

// --- weft::run and tools ------------------------------------------------------------

ClusterView Cluster::view() const {
  std::lock_guard lock(mutex_);
  return view_;
}

bool Cluster::wait_for_nodes(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return wait_changed(lock, timeout, [&] {
    std::size_t alive = 0;
    for (const auto& v : view_.nodes) alive += v.alive ? 1 : 0;
    return alive >= n;
  });
}

kj::Promise<void> Cluster::stop_peers() {
  kj::Vector<kj::Promise<void>> acks;
  for (auto& [id, link] : links_) {
    KJ_IF_MAYBE (peer, link->peer) {
      acks.add(peer->stopRequest().send().ignoreResult().catch_([](kj::Exception&&) {}));
    }
  }
  return kj::joinPromises(acks.releaseAsArray()).then([this] { mark_stopped(); });
}

void Cluster::mark_stopped() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    changed_.notify_all();
  }
  release_bundles();
}

void Cluster::stop_cluster() {
  auto done = std::make_shared<BlockingEvent>();
  node_.reactor().post([this, done] {
    KjAsioEventPort::CompletionScope scope;
    tasks_->add(stop_peers().then([done] { done->set(); }));
  });
  // Nodes that do not answer are stopped by their parent or by their own heartbeat failure.
  done->wait_until(weft::Clock::now() + std::chrono::seconds(5));
  mark_stopped();
}

void Cluster::wait_until_stopped() {
  std::unique_lock lock(mutex_);
  wait_changed(lock, std::nullopt, [&] { return stopped_; });
}

}  // namespace weft::detail
