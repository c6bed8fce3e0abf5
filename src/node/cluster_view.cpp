// detail::Cluster: membership. Registration with the head, heartbeats, the
// head's tick (failure detection, view broadcasts, snapshots), adopting a
// view, the bundles it places here, and what a node's death undoes.
#include <fmt/format.h>

#include "node/cluster.hpp"
#include "node/wire.hpp"

namespace weft::detail {

// --- head registration and heartbeats ------------------------------------------

void Cluster::register_with_head(wire::Head::Client head) {
  auto req = head.registerRequest();
  to_wire(req.initInfo(), local_info());
  tasks_->add(req.send().then(
      [this](capnp::Response<wire::Head::RegisterResults> r) {
        adopt_view(from_wire(r.getView()));
      },
      [this](kj::Exception&& e) {
        // A refusal is the head's answer (it declared this id dead, say):
        // the node does not start. Any other failure is the link's, and
        // link_failed stops the node.
        std::string why;
        try {
          std::rethrow_exception(error_from_kj(e));
        } catch (const TransportError&) {
          kj::throwFatalException(kj::mv(e));  // logged, as any failed request
        } catch (const Error& refused) {
          why = refused.what();
        }
        {
          std::lock_guard lock(mutex_);
          refusal_ = "the head refused this node: " + why;
          stopped_ = true;
        }
        changed_.notify_all();
        release_bundles();
      }));
}

void Cluster::with_head(kj::Function<kj::Promise<void>(wire::Head::Client&)> send) {
  on_reactor([this, send = kj::mv(send)]() mutable {
    if (wire::Head::Client* head = peers_.head()) tasks_->add(send(*head));
  });
}

wire::Head::Client& Cluster::head_client() {
  if (wire::Head::Client* head = peers_.head()) return *head;
  kj::throwFatalException(KJ_EXCEPTION(DISCONNECTED, "not connected to the head"));
}

void Cluster::heartbeat() {
  heartbeat_timer_ = node_.reactor().call_after(heartbeat_interval, [this] {
    KjAsioEventPort::CompletionScope scope;
    if (liveness_) liveness_->reactor_turned();
    router_.recheck_in_doubt();
    if (is_head_) {
      head_tick();
    } else if (wire::Head::Client* head = peers_.head()) {
      auto req = head->heartbeatRequest();
      req.setNodeId(node_.node_id());
      to_wire(req.initLoad(), local_load());
      tasks_->add(req.send().ignoreResult().catch_([this](kj::Exception&& e) {
        try {
          std::rethrow_exception(error_from_kj(e));
        } catch (const NodeFencedError& verdict) {
          fence(verdict.what());
        } catch (const Error&) {
          kj::throwFatalException(kj::mv(e));  // logged, as any failed request
        }
      }));
    }
    // Unless the tick stopped the cluster (its timer is gone then).
    if (heartbeat_timer_) heartbeat();
  });
}

void Cluster::head_tick() {
  const auto now = ControlStore::Clock::now();
  store_->heartbeat(node_.node_id(), local_load(), now);
  if (liveness_) {
    for (const auto& [node, at] : liveness_->take_seen()) store_->saw_alive(node, at);
  }
  for (NodeId dead : store_->detect_failures(now, failure_timeout)) {
    log(LogLevel::warn, "node {:x} missed its heartbeats: marked dead", dead);
  }
  if (now - last_broadcast_ >= view_interval || store_->version() != broadcast_version_) {
    broadcast_view();
    last_broadcast_ = now;
  }
  save_snapshot(false);
}

void Cluster::broadcast_view() {
  ClusterView v = store_->view();
  broadcast_version_ = v.version;
  adopt_view(v);
  for (const auto& n : v.nodes) {
    if (!n.alive || n.info.id == node_.node_id()) continue;
    peers_.with_peer(n.info.id, [v](wire::Peer::Client& peer) {
      auto req = peer.updateViewRequest();
      to_wire(req.initView(), v);
      req.send().detach([](kj::Exception&&) {});
    });
  }
}

void Cluster::publish_view() {
  // One broadcast carries every change made before it runs.
  if (publish_pending_.exchange(true, std::memory_order_acq_rel)) return;
  on_reactor([this] {
    publish_pending_.store(false, std::memory_order_release);
    broadcast_view();
  });
}

void Cluster::adopt_view(ClusterView v) {
  {
    // A fenced node's last view (fence) says everyone else is dead; views
    // sent before the head declared it dead must not bring them back.
    std::lock_guard lock(mutex_);
    if (!fenced_.empty() && v.version != UINT64_MAX) return;
  }
  hold_bundles(v);
  std::vector<NodeId> died;
  {
    std::lock_guard lock(mutex_);
    for (const auto& old : view_.nodes) {
      if (!old.alive) continue;
      for (const auto& n : v.nodes) {
        if (n.info.id != old.info.id || n.alive) continue;
        died.push_back(n.info.id);
        // The head logs its own verdicts (head_tick, HeadService::leave).
        if (!is_head_ && !n.left) {
          log(LogLevel::warn, "node {:x} is dead: the head stopped hearing from it", n.info.id);
        }
      }
    }
    view_ = std::move(v);
    view_version_.store(view_.version, std::memory_order_release);
  }
  changed_.notify_all();
  for (NodeId d : died) node_died(d);
}

void Cluster::hold_bundles(const ClusterView& view) {
  std::vector<LocalScheduler::HeldBundle> mine;
  for (const auto& g : view.placement_groups) {
    for (std::uint32_t i = 0; i < g.bundle_nodes.size() && i < g.bundles.size(); ++i) {
      if (g.bundle_nodes[i] == node_.node_id()) mine.push_back({{g.id, i}, g.bundles[i]});
    }
  }
  std::lock_guard lock(bundles_mutex_);
  if (view.version < bundles_version_) return;
  bundles_version_ = view.version;
  node_.scheduler_.hold_bundles(std::move(mine), view.last_group_id);
}

void Cluster::release_bundles() {
  std::lock_guard lock(bundles_mutex_);
  bundles_version_ = UINT64_MAX;  // no view applies after this
  node_.scheduler_.hold_bundles({}, UINT64_MAX);
}

void Cluster::node_died(NodeId node) {
  peers_.drop_node(node, is_head_);
  // Handles to actors that lived there now fail their calls at once.
  std::vector<std::shared_ptr<ActorRecord>> orphans;
  {
    std::lock_guard lock(node_.actors_mutex_);
    for (auto& [id, weak] : node_.actors_by_id_) {
      if (auto record = weak.lock(); record && record->home() == node) orphans.push_back(record);
    }
  }
  for (auto& record : orphans) record->kill();
  // Its results held here will never be copied, nor what it held pulled.
  transfer_.node_died(node);
  // Send again, elsewhere, every task that was running there (lineage).
  router_.node_died(node);
}

const NodeView* Cluster::listed_locked(NodeId node) const {
  for (const auto& n : view_.nodes) {
    if (n.info.id == node) return &n;
  }
  return nullptr;
}

bool Cluster::alive(NodeId node) const {
  std::lock_guard lock(mutex_);
  const NodeView* n = listed_locked(node);
  return n != nullptr && n->alive;
}

bool Cluster::listed_dead(NodeId node) const {
  std::lock_guard lock(mutex_);
  const NodeView* n = listed_locked(node);
  return n != nullptr && !n->alive;
}

std::optional<ClusterView> Cluster::view_unless(std::optional<std::uint64_t> version) const {
  // Every placement asks; the view rarely changes between two.
  if (version == view_version_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (version == view_.version) return std::nullopt;
  return view_;
}

}  // namespace weft::detail
