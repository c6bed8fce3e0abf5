// detail::Cluster: set-up, tear-down, and what its links ask of it.
// Membership (the head, heartbeats, the view, node deaths) is in
// cluster_view.cpp, tasks in cluster_tasks.cpp, objects in
// object_transfer.cpp, actors in cluster_actors.cpp, the control plane and
// snapshots in cluster_control.cpp, fencing in cluster_fencing.cpp, the
// connections themselves in peer_links.cpp.
#include "node/cluster.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include <fmt/format.h>

#include "node/services.hpp"
#include "node/wire.hpp"

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
      is_head_(options.head),
      peers_(node.node_id(), options.token, transport_, node.reactor(), *this) {}

Cluster::Cluster(Node& node, const ClusterOptions& options, Transport& transport)
    : node_(node),
      transport_(transport),
      options_(options),
      is_head_(options.head),
      peers_(node.node_id(), options.token, transport_, node.reactor(), *this) {}

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
  lifeline_.end();
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
    wire::Head::Client* head = tasks_ ? peers_.head() : nullptr;
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
  peers_.open(task_logger_, options.bind_host, options.listen_port);
  router_.open(task_logger_);
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
      liveness_ = Liveness::receive(options.bind_host, peers_.port(), options.token);
  } else {
    control_ = make_remote_control(*this);
    peers_.connect_head(options.head_host, options.head_port);
    if (transport_.datagrams())
      liveness_ = Liveness::send(node_.node_id(), options.head_host, options.head_port,
                                 options.token, heartbeat_interval);
  }
  heartbeat();
}

void Cluster::stop_on_reactor() {
  // Pulls dropped from here on fail their objects and start no others.
  transfer_.close();
  router_.close();
  if (store_) save_snapshot(true);
  if (heartbeat_timer_) node_.reactor().cancel(*heartbeat_timer_);
  heartbeat_timer_.reset();
  liveness_.reset();
  hosted_actors_.clear();
  actor_creations_.clear();
  peers_.close();
  tasks_ = nullptr;
}

void Cluster::TaskLogger::taskFailed(kj::Exception&& e) {
  log(LogLevel::warn, "transport: {}", describe(e));
}

NodeInfo Cluster::local_info() const {
  NodeInfo info;
  info.id = node_.node_id();
  info.host = advertise_host_;
  info.port = peers_.port();
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

// --- what the links ask ------------------------------------------------------

std::optional<std::pair<std::string, std::uint16_t>> Cluster::address_of(NodeId node) const {
  std::lock_guard lock(mutex_);
  const NodeView* n = listed_locked(node);
  if (n == nullptr) return std::nullopt;
  return std::pair(n->info.host, n->info.port);
}

wire::Gate::Client Cluster::gate(NodeId& from) { return kj::heap<GateService>(*this, from); }

void Cluster::head_connected(wire::Head::Client head) { register_with_head(kj::mv(head)); }

void Cluster::head_link_failed(const std::string& reason, bool connected) {
  {
    std::lock_guard lock(mutex_);
    if (view_.nodes.empty()) {
      refusal_ = connected ? "the head refused this node: " + reason
                           : fmt::format(
                                 "cannot reach the head at {}:{}: {} (is it running there? "
                                 "check --address)",
                                 options_.head_host, options_.head_port, reason);
    }
    stopped_ = true;
    changed_.notify_all();
  }
  release_bundles();
}

void Cluster::link_broke(NodeId node) {
#ifdef WEFT_PLANTED_BUG
  // The simulation's planted bug (src/sim/CMakeLists.txt builds weft-sim-planted
  // with it): a dropped connection makes this node forget the results it
  // holds for that owner. No real build defines it.
  for (const auto& result : transfer_.held_for(node)) transfer_.release_held(result->id());
#endif
  if (!stopped()) router_.link_broke(node);
}

void Cluster::link_forgotten(NodeId node) {
  // Announce again the results held for `node`: the announcements may have
  // gone with the link.
  if (stopped()) return;
  for (auto& result : transfer_.held_for(node)) router_.send_result(node, std::move(result));
}

// --- tasks and actors -----------------------------------------------------------

void Cluster::submit(TaskSpecPtr spec) { router_.submit(std::move(spec)); }

NodeId Cluster::place_actor(const ActorOptions& options) {
  // The constructor's arguments are not known here: actors are placed by
  // resources and strategy alone.
  return router_.place(
      PlacementRequest{.demand = ResourceSet(options.resources),
                       .strategy = options.strategy,
                       .bundle_node = options.placement.group != 0 ? options.placement.node : 0,
                       .what = "actor",
                       .name = options.name.view()});
}

void Cluster::forward_call(ActorRecord& proxy, TaskSpecPtr call) {
  router_.send(proxy.home(), std::move(call));
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
  for (auto& peer : peers_.connected_peers()) {
    acks.add(peer.stopRequest().send().ignoreResult().catch_([](kj::Exception&&) {}));
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
