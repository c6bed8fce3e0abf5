// Conversions between weft's C++ types and the wire schema.
#include "node/wire.hpp"

#include <algorithm>

namespace weft::detail {

std::vector<std::pair<std::string, double>> amounts_of(const Resources& r) {
  std::vector<std::pair<std::string, double>> out;
  for_each_resource(r, [&](std::string_view name, double amount) {
    if (amount != 0) out.emplace_back(name, amount);
  });
  return out;
}

void to_wire(capnp::List<wire::Resource>::Builder b,
             const std::vector<std::pair<std::string, double>>& amounts) {
  for (unsigned i = 0; i < amounts.size(); ++i) {
    b[i].setName(amounts[i].first);
    b[i].setMilli(to_milli(amounts[i].second));
  }
}

Resources resources_from_wire(capnp::List<wire::Resource>::Reader list) {
  Resources r{.cpu = 0};
  for (auto e : list) set_resource(r, e.getName().cStr(), from_milli(e.getMilli()));
  return r;
}

void resources_to_wire(wire::TaskOptions::Builder b, const Resources& r) {
  auto amounts = amounts_of(r);
  to_wire(b.initResources(static_cast<unsigned>(amounts.size())), amounts);
}

void to_wire(wire::NodeInfo::Builder b, const NodeInfo& info) {
  b.setNodeId(info.id);
  b.initAddress().setHost(info.host);
  b.getAddress().setPort(info.port);
  auto amounts = amounts_of(info.totals);
  to_wire(b.initResources(static_cast<unsigned>(amounts.size())), amounts);
  b.setStoreCapacity(info.store_capacity);
  b.setPid(info.pid);
}

NodeInfo from_wire(wire::NodeInfo::Reader r) {
  NodeInfo info;
  info.id = r.getNodeId();
  info.host = r.getAddress().getHost();
  info.port = r.getAddress().getPort();
  info.totals = resources_from_wire(r.getResources());
  info.store_capacity = r.getStoreCapacity();
  info.pid = r.getPid();
  return info;
}

void to_wire(wire::NodeLoad::Builder b, const NodeLoad& load) {
  auto amounts = amounts_of(load.available);
  to_wire(b.initAvailable(static_cast<unsigned>(amounts.size())), amounts);
  b.setStoreUsed(load.store_used);
  b.setLiveObjects(load.live_objects);
  b.setTasksInFlight(load.tasks_in_flight);
  b.setLiveActors(load.live_actors);
}

NodeLoad from_wire(wire::NodeLoad::Reader r) {
  NodeLoad load;
  load.available = resources_from_wire(r.getAvailable());
  load.store_used = r.getStoreUsed();
  load.live_objects = r.getLiveObjects();
  load.tasks_in_flight = r.getTasksInFlight();
  load.live_actors = r.getLiveActors();
  return load;
}

wire::PlacementStrategy to_wire(PlacementStrategy s) {
  switch (s) {
    case PlacementStrategy::spread:
      return wire::PlacementStrategy::SPREAD;
    case PlacementStrategy::strict_pack:
      return wire::PlacementStrategy::STRICT_PACK;
    case PlacementStrategy::strict_spread:
      return wire::PlacementStrategy::STRICT_SPREAD;
    case PlacementStrategy::pack:
      break;
  }
  return wire::PlacementStrategy::PACK;
}

PlacementStrategy from_wire(wire::PlacementStrategy s) {
  switch (s) {
    case wire::PlacementStrategy::SPREAD:
      return PlacementStrategy::spread;
    case wire::PlacementStrategy::STRICT_PACK:
      return PlacementStrategy::strict_pack;
    case wire::PlacementStrategy::STRICT_SPREAD:
      return PlacementStrategy::strict_spread;
    case wire::PlacementStrategy::PACK:
      break;
  }
  return PlacementStrategy::pack;
}

void to_wire(capnp::List<wire::Bundle>::Builder b, const std::vector<Resources>& bundles) {
  for (unsigned i = 0; i < bundles.size(); ++i) {
    auto amounts = amounts_of(bundles[i]);
    to_wire(b[i].initResources(static_cast<unsigned>(amounts.size())), amounts);
  }
}

std::vector<Resources> from_wire(capnp::List<wire::Bundle>::Reader r) {
  std::vector<Resources> bundles;
  for (auto b : r) bundles.push_back(resources_from_wire(b.getResources()));
  return bundles;
}

void to_wire(wire::ClusterView::Builder b, const ClusterView& view) {
  b.setVersion(view.version);
  auto nodes = b.initNodes(static_cast<unsigned>(view.nodes.size()));
  for (unsigned i = 0; i < view.nodes.size(); ++i) {
    to_wire(nodes[i].initInfo(), view.nodes[i].info);
    to_wire(nodes[i].initLoad(), view.nodes[i].load);
    nodes[i].setAlive(view.nodes[i].alive);
    nodes[i].setLeft(view.nodes[i].left);
  }
  auto groups = b.initPlacementGroups(static_cast<unsigned>(view.placement_groups.size()));
  for (unsigned i = 0; i < view.placement_groups.size(); ++i) {
    const PlacementGroup& g = view.placement_groups[i];
    groups[i].setGroupId(g.id);
    groups[i].setStrategy(to_wire(g.strategy));
    to_wire(groups[i].initBundles(static_cast<unsigned>(g.bundles.size())), g.bundles);
    auto where = groups[i].initNodes(static_cast<unsigned>(g.bundle_nodes.size()));
    for (unsigned j = 0; j < g.bundle_nodes.size(); ++j) where.set(j, g.bundle_nodes[j]);
  }
  b.setLastGroupId(view.last_group_id);
}

ClusterView from_wire(wire::ClusterView::Reader r) {
  ClusterView view;
  view.version = r.getVersion();
  for (auto n : r.getNodes()) {
    NodeView v;
    v.info = from_wire(n.getInfo());
    v.load = from_wire(n.getLoad());
    v.alive = n.getAlive();
    v.left = n.getLeft();
    view.nodes.push_back(std::move(v));
  }
  for (auto g : r.getPlacementGroups()) {
    PlacementGroup group{.id = g.getGroupId(),
                         .strategy = from_wire(g.getStrategy()),
                         .bundles = from_wire(g.getBundles()),
                         .bundle_nodes = {}};
    for (auto n : g.getNodes()) group.bundle_nodes.push_back(n);
    view.placement_groups.push_back(std::move(group));
  }
  view.last_group_id = r.getLastGroupId();
  return view;
}

void to_wire(wire::ActorEntry::Builder b, const ActorEntry& e) {
  b.setActorId(e.actor_id);
  b.setName(e.name);
  b.setClassName(e.class_name);
  b.setNode(e.node);
  b.setState(e.state == ActorState::alive        ? wire::ActorState::ALIVE
             : e.state == ActorState::restarting ? wire::ActorState::RESTARTING
                                                 : wire::ActorState::DEAD);
  b.setRestarts(e.restarts);
}

ActorEntry from_wire(wire::ActorEntry::Reader r) {
  ActorEntry e;
  e.actor_id = r.getActorId();
  e.name = r.getName();
  e.class_name = r.getClassName();
  e.node = r.getNode();
  e.state = r.getState() == wire::ActorState::ALIVE        ? ActorState::alive
            : r.getState() == wire::ActorState::RESTARTING ? ActorState::restarting
                                                           : ActorState::dead;
  e.restarts = r.getRestarts();
  return e;
}

void to_wire(wire::TaskOptions::Builder b, const TaskOptions& o) {
  resources_to_wire(b, o.resources);
  b.setMaxRetries(o.max_retries);
  b.setRetryExceptions(o.retry_exceptions);
  auto strategy = b.initStrategy();
  if (std::holds_alternative<SpreadStrategy>(o.strategy)) {
    strategy.setSpread();
  } else if (auto* a = std::get_if<NodeAffinity>(&o.strategy)) {
    auto affinity = strategy.initNodeAffinity();
    affinity.setNode(a->node);
    affinity.setSoft(a->soft);
  } else {
    strategy.setHybrid();
  }
  b.setName(o.name.str());
  b.setPlacementGroup(o.placement.group);
  b.setBundleIndex(static_cast<std::int32_t>(o.placement.index));
}

TaskOptions from_wire(wire::TaskOptions::Reader r) {
  TaskOptions o;
  o.resources = resources_from_wire(r.getResources());
  o.max_retries = r.getMaxRetries();
  o.retry_exceptions = r.getRetryExceptions();
  auto strategy = r.getStrategy();
  if (strategy.isSpread()) {
    o.strategy = SpreadStrategy{};
  } else if (strategy.isNodeAffinity()) {
    o.strategy =
        NodeAffinity{strategy.getNodeAffinity().getNode(), strategy.getNodeAffinity().getSoft()};
  }
  o.name = Name(std::string_view(r.getName().cStr()));
  // The executing node needs no `node`: the task is there.
  o.placement.group = r.getPlacementGroup();
  o.placement.index = static_cast<std::uint32_t>(std::max(r.getBundleIndex(), 0));
  return o;
}

void to_wire(wire::Failure::Builder b, const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const TaskError& e) {
    b.setKind(wire::ErrorKind::TASK);
    b.setTypeName(e.type_name());
    b.setTaskName(e.task_name());
    b.setMessage(e.what());
  } catch (const ActorDiedError& e) {
    b.setKind(wire::ErrorKind::ACTOR_DIED);
    b.setMessage(e.what());
  } catch (const InfeasibleError& e) {
    b.setKind(wire::ErrorKind::INFEASIBLE);
    b.setMessage(e.what());
  } catch (const TypeMismatchError& e) {
    b.setKind(wire::ErrorKind::TYPE_MISMATCH);
    b.setMessage(e.what());
  } catch (const ObjectStoreFullError& e) {
    b.setKind(wire::ErrorKind::STORE_FULL);
    b.setMessage(e.what());
  } catch (const ReturnCountError& e) {
    b.setKind(wire::ErrorKind::RETURN_COUNT);
    b.setMessage(e.what());
  } catch (const std::exception& e) {
    b.setKind(wire::ErrorKind::OBJECT_LOST);
    b.setMessage(e.what());
  } catch (...) {
    b.setKind(wire::ErrorKind::OBJECT_LOST);
    b.setMessage("unknown failure");
  }
}

std::exception_ptr from_wire(wire::Failure::Reader r) {
  const std::string message = r.getMessage();
  switch (r.getKind()) {
    case wire::ErrorKind::TASK:
      return std::make_exception_ptr(TaskError(r.getTypeName(), message, r.getTaskName()));
    case wire::ErrorKind::ACTOR_DIED:
      return std::make_exception_ptr(ActorDiedError(message));
    case wire::ErrorKind::INFEASIBLE:
      return std::make_exception_ptr(InfeasibleError(message));
    case wire::ErrorKind::TYPE_MISMATCH:
      return std::make_exception_ptr(TypeMismatchError(message));
    case wire::ErrorKind::STORE_FULL:
      return std::make_exception_ptr(ObjectStoreFullError(message));
    case wire::ErrorKind::RETURN_COUNT:
      return std::make_exception_ptr(ReturnCountError(message));
    default:
      return std::make_exception_ptr(Error(message));
  }
}

}  // namespace weft::detail
