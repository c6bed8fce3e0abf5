// detail::Cluster: what it asks of the head's tables (the KV, jobs, actor
// names, placement groups), through its ControlPlane, and the head's
// snapshots of its control store.
#include <chrono>
#include <cstdio>

#include "node/cluster.hpp"

namespace weft::detail {

namespace {
constexpr auto snapshot_interval = std::chrono::seconds(1);
}  // namespace

// --- the control plane ------------------------------------------------------------

Task<void> Cluster::kv_put(std::string key, std::string value) {
  return control_->kv_put(std::move(key), std::move(value));
}

Task<std::optional<std::string>> Cluster::kv_get(std::string key) {
  return control_->kv_get(std::move(key));
}

Task<bool> Cluster::kv_delete(std::string key) { return control_->kv_delete(std::move(key)); }

Task<std::vector<std::string>> Cluster::kv_keys(std::string prefix) {
  return control_->kv_keys(std::move(prefix));
}

Task<std::uint64_t> Cluster::start_job() { return control_->start_job(node_.node_id()); }

Task<void> Cluster::finish_job(std::uint64_t job_id) {
  // The head's verdict on this node comes with the answer: a node it
  // declared dead stops as that incarnation.
  std::string verdict;
  try {
    co_await control_->finish_job(job_id, node_.node_id());
  } catch (const NodeFencedError& e) {
    verdict = e.what();
  }
  if (!verdict.empty()) on_reactor([this, verdict = std::move(verdict)] { fence(verdict); });
}

Task<void> Cluster::register_name(ActorLocation where, std::string name) {
  ActorEntry e;
  e.actor_id = where.actor_id;
  e.name = std::move(name);
  e.class_name = std::move(where.class_name);
  e.node = where.home;
  return control_->register_actor(std::move(e));
}

Task<std::optional<ActorLocation>> Cluster::lookup_name(std::string name) {
  const std::optional<ActorEntry> e = co_await control_->lookup_actor(std::move(name));
  if (!e || e->state == ActorState::dead) co_return std::nullopt;
  co_return ActorLocation{e->node, e->actor_id, e->class_name};
}

void Cluster::forget_name(std::uint64_t actor_id) { control_->forget_actor(actor_id); }

Task<PlacementGroup> Cluster::create_placement_group(PlacementStrategy strategy,
                                                     std::vector<Resources> bundles) {
  return control_->create_placement_group(strategy, std::move(bundles));
}

Task<void> Cluster::remove_placement_group(std::uint64_t group_id) {
  control_->remove_placement_group(group_id);
  co_return;
}

// --- snapshots ----------------------------------------------------------------------

void Cluster::load_snapshot() {
  if (options_.snapshot.empty()) return;
  if (store_->load_snapshot(options_.snapshot)) {
    // Their drivers were connected to the old head, which is gone.
    for (const auto& job : store_->jobs()) store_->finish_job(job.job_id);
    log(LogLevel::info, "control store restored from {}: {} keys, {} jobs, {} actors",
        options_.snapshot, store_->kv_keys().size(), store_->jobs().size(),
        store_->actors().size());
  }
  saved_changes_ = store_->changes();
}

void Cluster::save_snapshot(bool stopping) {
  if (options_.snapshot.empty() || store_->changes() == saved_changes_) return;
  const auto now = ControlStore::Clock::now();
  if (!stopping && now - last_save_ < snapshot_interval) return;
  last_save_ = now;
  // TODO(perf): this encodes and writes on the reactor thread; fine for a
  // store of a few MiB, once a second at most.
  try {
    // Read first: a change made while the file is written counts as unsaved.
    const std::uint64_t changes = store_->changes();
    store_->save_snapshot(options_.snapshot);
    saved_changes_ = changes;
  } catch (const std::exception& e) {
    log(LogLevel::warn, "{}; trying again in a second", e.what());
  }
}

}  // namespace weft::detail
