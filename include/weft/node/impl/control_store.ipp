// ControlStore bodies; compiled once into libweft.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/node/control_store.hpp"
#include "weft/object/codec.hpp"

namespace weft::detail {

namespace {

bool same_resources(const Resources& a, const Resources& b) {
  return ResourceSet(a) == ResourceSet(b);
}

bool same_load(const NodeLoad& a, const NodeLoad& b) {
  return same_resources(a.available, b.available) && a.store_used == b.store_used &&
         a.live_objects == b.live_objects && a.tasks_in_flight == b.tasks_in_flight &&
         a.live_actors == b.live_actors;
}

// Before its first heartbeat a node is taken to be idle.

}  // namespace

// --- nodes -------------------------------------------------------------------

NodeId ControlStore::register_node(NodeInfo info, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (auto it = nodes_.find(info.id); info.id != 0 && it != nodes_.end() && it->second.fenced) {
    throw NodeFencedError(fmt::format(
        "node {:x} was declared dead by the head (it missed its heartbeats); it must rejoin as a "
        "new node",
        info.id));
  }
  if (info.id == 0) info.id = next_node_id_;
  next_node_id_ = std::max(next_node_id_, info.id + 1);
  auto& r = nodes_[info.id];
  r.load = idle_load(info);
  r.info = std::move(info);
  r.alive = true;
  r.left = false;
  r.last_heartbeat = now;
  ++version_;
  ++changes_;
  return r.info.id;
}

bool ControlStore::heartbeat(NodeId node, const NodeLoad& load, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(node);
  if (it == nodes_.end() || !it->second.alive) return false;
  auto& r = it->second;
  r.last_heartbeat = now;
  if (!same_load(r.load, load)) {
    r.load = load;
    ++version_;
  }
  return true;
}

void ControlStore::saw_alive(NodeId node, Clock::time_point at) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(node);
  if (it == nodes_.end() || !it->second.alive) return;
  it->second.last_heartbeat = std::max(it->second.last_heartbeat, at);
}

std::vector<NodeId> ControlStore::detect_failures(Clock::time_point now, Clock::duration timeout) {
  std::lock_guard lock(mutex_);
  std::vector<NodeId> died;
  for (auto& [id, r] : nodes_) {
    if (r.alive && now - r.last_heartbeat > timeout) {
      r.alive = false;
      r.fenced = true;
      died.push_back(id);
    }
  }
  for (NodeId id : died) finish_jobs_of(id);
  if (!died.empty()) {
    ++version_;
    ++changes_;
  }
  return died;
}

bool ControlStore::mark_node_dead(NodeId node) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(node);
  if (it == nodes_.end() || !it->second.alive) return false;
  it->second.alive = false;
  it->second.fenced = true;
  finish_jobs_of(node);
  ++version_;
  ++changes_;
  return true;
}

bool ControlStore::mark_node_left(NodeId node) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(node);
  if (it == nodes_.end() || !it->second.alive) return false;
  NodeRecord& r = it->second;
  r.alive = false;
  r.left = true;
  r.load = idle_load(r.info);
  finish_jobs_of(node);
  ++version_;
  ++changes_;
  return true;
}

bool ControlStore::fenced(NodeId node) const {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(node);
  return it != nodes_.end() && it->second.fenced;
}

NodeView ControlStore::view_of(const NodeRecord& r) const {
  NodeView v{.info = r.info,
             .load = r.load,
             .alive = r.alive,
             .left = r.left,
             .last_heartbeat = r.last_heartbeat};
  v.load.available = (ResourceSet(r.load.available) - r.reserved).clamped().to_resources();
  return v;
}

ClusterView ControlStore::view() const {
  std::lock_guard lock(mutex_);
  ClusterView v;
  v.version = version_;
  v.nodes.reserve(nodes_.size());
  for (const auto& [id, r] : nodes_) v.nodes.push_back(view_of(r));
  for (const auto& [id, g] : groups_) v.placement_groups.push_back(g);
  v.last_group_id = next_group_id_ - 1;
  return v;
}

std::optional<NodeView> ControlStore::node(NodeId id) const {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return std::nullopt;
  return view_of(it->second);
}

std::vector<PlacementCandidate> ControlStore::candidates() const {
  std::vector<PlacementCandidate> out;
  for (const auto& [id, r] : nodes_) {
    if (!r.alive) continue;
    out.push_back({.id = id,
                   .available = (ResourceSet(r.load.available) - r.reserved).clamped(),
                   .total = ResourceSet(r.info.totals),
                   .tasks_in_flight = r.load.tasks_in_flight});
  }
  return out;
}

// --- actors ------------------------------------------------------------------

const ActorEntry* ControlStore::live_actor_named(std::string_view name) const {
  if (name.empty()) return nullptr;
  for (const auto& [id, a] : actors_) {
    if (a.state != ActorState::dead && a.name == name) return &a;
  }
  return nullptr;
}

std::uint64_t ControlStore::register_actor(ActorEntry entry) {
  std::lock_guard lock(mutex_);
  if (entry.actor_id != 0 && actors_.contains(entry.actor_id)) {
    throw UsageError(fmt::format("actor id {} is already registered", entry.actor_id));
  }
  if (entry.state != ActorState::dead) {
    if (const auto* holder = live_actor_named(entry.name)) {
      throw UsageError(fmt::format(
          "an actor named '{}' already exists (actor {} of class {} on node {}); choose another "
          "name, or get_actor('{}') to use the existing one",
          entry.name, holder->actor_id, holder->class_name, holder->node, entry.name));
    }
  }
  if (entry.actor_id == 0) entry.actor_id = next_actor_id_;
  next_actor_id_ = std::max(next_actor_id_, entry.actor_id + 1);
  const auto id = entry.actor_id;
  actors_.emplace(id, std::move(entry));
  ++changes_;
  return id;
}

std::optional<ActorEntry> ControlStore::lookup_actor(std::string_view name) const {
  std::lock_guard lock(mutex_);
  if (const auto* a = live_actor_named(name)) return *a;
  return std::nullopt;
}

std::optional<ActorEntry> ControlStore::actor_by_id(std::uint64_t actor_id) const {
  std::lock_guard lock(mutex_);
  auto it = actors_.find(actor_id);
  if (it == actors_.end()) return std::nullopt;
  return it->second;
}

bool ControlStore::update_actor(const ActorEntry& entry) {
  std::lock_guard lock(mutex_);
  auto it = actors_.find(entry.actor_id);
  if (it == actors_.end()) return false;
  if (entry.state != ActorState::dead) {
    const auto* holder = live_actor_named(entry.name);
    if (holder && holder->actor_id != entry.actor_id) {
      throw UsageError(fmt::format("actor {} cannot take the name '{}': actor {} holds it",
                                   entry.actor_id, entry.name, holder->actor_id));
    }
  }
  it->second = entry;
  ++changes_;
  return true;
}

bool ControlStore::mark_actor_dead(std::uint64_t actor_id) {
  std::lock_guard lock(mutex_);
  auto it = actors_.find(actor_id);
  if (it == actors_.end()) return false;
  it->second.state = ActorState::dead;
  ++changes_;
  return true;
}

std::vector<ActorEntry> ControlStore::actors_on_node(NodeId node) const {
  std::lock_guard lock(mutex_);
  std::vector<ActorEntry> out;
  for (const auto& [id, a] : actors_) {
    if (a.node == node && a.state != ActorState::dead) out.push_back(a);
  }
  return out;
}

std::vector<ActorEntry> ControlStore::actors() const {
  std::lock_guard lock(mutex_);
  std::vector<ActorEntry> out;
  for (const auto& [id, a] : actors_) out.push_back(a);
  return out;
}

// --- jobs --------------------------------------------------------------------

std::uint64_t ControlStore::start_job(NodeId driver_node, std::int64_t started_ms) {
  std::lock_guard lock(mutex_);
  const auto id = next_job_id_++;
  jobs_.emplace(id, JobEntry{.job_id = id, .driver_node = driver_node, .started_ms = started_ms});
  ++changes_;
  return id;
}

bool ControlStore::finish_job(std::uint64_t job_id) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return false;
  if (!it->second.finished) ++changes_;
  it->second.finished = true;
  return true;
}

void ControlStore::finish_jobs_of(NodeId node) {
  for (auto& [id, j] : jobs_) {
    if (j.driver_node == node) j.finished = true;
  }
}

std::optional<JobEntry> ControlStore::job(std::uint64_t job_id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

std::vector<JobEntry> ControlStore::jobs() const {
  std::lock_guard lock(mutex_);
  std::vector<JobEntry> out;
  for (const auto& [id, j] : jobs_) out.push_back(j);
  return out;
}

// --- key-value ---------------------------------------------------------------

void ControlStore::kv_put(std::string key, std::string value) {
  std::lock_guard lock(mutex_);
  kv_.insert_or_assign(std::move(key), std::move(value));
  ++changes_;
}

std::optional<std::string> ControlStore::kv_get(std::string_view key) const {
  std::lock_guard lock(mutex_);
  auto it = kv_.find(key);
  if (it == kv_.end()) return std::nullopt;
  return it->second;
}

bool ControlStore::kv_erase(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto it = kv_.find(key);
  if (it == kv_.end()) return false;
  kv_.erase(it);
  ++changes_;
  return true;
}

std::vector<std::string> ControlStore::kv_keys(std::string_view prefix) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (auto it = kv_.lower_bound(prefix); it != kv_.end() && it->first.starts_with(prefix); ++it) {
    out.push_back(it->first);
  }
  return out;
}

// --- placement groups --------------------------------------------------------

void ControlStore::reserve(const PlacementGroup& g, bool add) {
  for (std::size_t i = 0; i < g.bundles.size(); ++i) {
    auto it = nodes_.find(g.bundle_nodes[i]);
    if (it == nodes_.end()) continue;
    if (add) {
      it->second.reserved += ResourceSet(g.bundles[i]);
    } else {
      it->second.reserved -= ResourceSet(g.bundles[i]);
    }
  }
}

PlacementGroup ControlStore::create_placement_group(PlacementStrategy strategy,
                                                    const std::vector<Resources>& bundles) {
  std::lock_guard lock(mutex_);
  std::vector<ResourceSet> sets(bundles.begin(), bundles.end());
  const auto nodes = candidates();
  PlacementGroup g{.id = 0,
                   .strategy = strategy,
                   .bundles = bundles,
                   .bundle_nodes = place_bundles(strategy, sets, nodes)};
  g.id = next_group_id_++;
  reserve(g, true);
  groups_.emplace(g.id, g);
  ++version_;
  ++changes_;
  return g;
}

bool ControlStore::remove_placement_group(std::uint64_t group_id) {
  std::lock_guard lock(mutex_);
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return false;
  reserve(it->second, false);
  groups_.erase(it);
  ++version_;
  ++changes_;
  return true;
}

std::optional<PlacementGroup> ControlStore::placement_group(std::uint64_t group_id) const {
  std::lock_guard lock(mutex_);
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return std::nullopt;
  return it->second;
}

std::vector<PlacementGroup> ControlStore::placement_groups() const {
  std::lock_guard lock(mutex_);
  std::vector<PlacementGroup> out;
  for (const auto& [id, g] : groups_) out.push_back(g);
  return out;
}

std::vector<std::uint64_t> ControlStore::placement_groups_on_node(NodeId node) const {
  std::lock_guard lock(mutex_);
  std::vector<std::uint64_t> out;
  for (const auto& [id, g] : groups_) {
    if (std::find(g.bundle_nodes.begin(), g.bundle_nodes.end(), node) != g.bundle_nodes.end()) {
      out.push_back(id);
    }
  }
  return out;
}

}  // namespace weft::detail
