// detail::TaskRouter: where tasks and actors run. The decision is
// weft::pick_node (placement.hpp); this file only gathers the snapshot it
// decides over.
#include <algorithm>

#include "node/task_router.hpp"

namespace weft::detail {

namespace {

// What this node knows of the copies of `ref`'s value: its own, once sealed
// here, and the owner's (objects live with their owner). A value not here
// yet has no size known here, so it draws nothing.
void add_copies(std::vector<ArgumentCopies>& out, const ObjectHandle& ref, NodeId self) {
  if (!ref->ready() || ref->error()) return;
  ArgumentCopies copies{.bytes = ref->payload().size(), .nodes = {self}};
  if (const NodeId owner = ref->id().owner; owner != self) copies.nodes.push_back(owner);
  out.push_back(std::move(copies));
}

}  // namespace

std::span<const PlacementCandidate> TaskRouter::placement_snapshot_locked() {
  const NodeId self = node_.node_id();
  PlacementSnapshot& p = placement_;
  if (auto view = membership_.view_unless(p.version)) {
    p.version = view->version;
    p.nodes.clear();
    p.reported_in_flight.clear();
    for (const auto& n : view->nodes) {
      if (!n.alive && n.info.id != self) continue;
      p.nodes.push_back({.id = n.info.id,
                         .available = ResourceSet(n.load.available),
                         .total = ResourceSet(n.info.totals)});
      p.reported_in_flight.push_back(n.load.tasks_in_flight);
    }
    p.reserved_here = ResourceSet();
    for (const auto& g : view->placement_groups) {
      for (std::size_t i = 0; i < g.bundle_nodes.size() && i < g.bundles.size(); ++i) {
        if (g.bundle_nodes[i] == self) p.reserved_here += ResourceSet(g.bundles[i]);
      }
    }
  }
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    PlacementCandidate& n = p.nodes[i];
    if (n.id == self) {
      // The view's report of this node is up to a heartbeat old; its own
      // scheduler knows now. Its report counts bundles as free, as the head
      // expects, so they come off here as they do on the head.
      n.available = (ResourceSet(membership_.local_load().available) - p.reserved_here).clamped();
      n.tasks_in_flight = node_.scheduler().tasks_in_flight();
    } else {
      const auto s = sent_.find(n.id);
      const std::uint64_t sent = s == sent_.end() ? 0 : s->second;
      n.tasks_in_flight = std::max(p.reported_in_flight[i], sent);
    }
  }
  return p.nodes;
}

NodeId TaskRouter::place(PlacementRequest request) {
  request.local = node_.node_id();
  std::lock_guard lock(mutex_);
  return pick_node(request, placement_snapshot_locked(), placement_.spread_cursor);
}

NodeId TaskRouter::pick_target(const TaskSpec& spec) {
  const NodeId self = node_.node_id();
  const TaskOptions& o = spec.opts();
  std::vector<ArgumentCopies> arguments;
  for (const auto* refs : {&spec.refs, &spec.nested_refs}) {
    for (const auto& r : *refs) add_copies(arguments, r, self);
  }
  return place({.demand = ResourceSet(o.resources),
                .strategy = o.strategy,
                .bundle_node = o.placement.group != 0 ? o.placement.node : 0,
                .arguments = arguments,
                .what = "task",
                .name = spec.name});
}

}  // namespace weft::detail
