// detail::Cluster: actors on other nodes, names, placement groups.
#include <fmt/format.h>

#include "node/cluster.hpp"
#include "node/wire.hpp"

namespace weft::detail {

// --- actors -------------------------------------------------------------------

kj::Promise<wire::Peer::Client> Cluster::peer_of(NodeId node) {
  auto paf = kj::newPromiseAndFulfiller<wire::Peer::Client>();
  with_peer(node, [f = kj::mv(paf.fulfiller)](wire::Peer::Client& peer) mutable {
    f->fulfill(kj::cp(peer));
  });
  return kj::mv(paf.promise);
}

Task<std::shared_ptr<ActorRecord>> Cluster::create_remote_actor(NodeId target, ActorOptions options,
                                                                std::string class_name,
                                                                std::uint64_t constructor_id,
                                                                ActorArguments args) {
  const std::uint64_t actor_id = node_.next_actor_id();
  co_await run_on_kj(node_.reactor(), [&] {
    return peer_of(target).then([&](wire::Peer::Client peer) {
      auto req = peer.createActorRequest();
      auto spec = req.initSpec();
      spec.setActorId(actor_id);
      spec.setClassName(class_name);
      spec.setConstructorId(constructor_id);
      spec.setArgs(
          kj::arrayPtr(reinterpret_cast<const capnp::byte*>(args.bytes.data()), args.bytes.size()));
      auto nested = spec.initNestedRefs(static_cast<unsigned>(args.nested_refs.size()));
      for (unsigned i = 0; i < args.nested_refs.size(); ++i)
        fill_ref(nested[i], args.nested_refs[i]);
      spec.setName(options.name.str());
      auto amounts = amounts_of(options.resources);
      to_wire(spec.initResources(static_cast<unsigned>(amounts.size())), amounts);
      spec.setMaxConcurrency(options.max_concurrency);
      spec.setDedicatedThread(options.dedicated_thread);
      spec.setMaxRestarts(options.max_restarts);
      spec.setOwner(node_.node_id());
      spec.setPlacementGroup(options.placement.group);
      spec.setBundleIndex(options.placement.index);
      return req.send().ignoreResult();
    });
  });
  co_return node_.make_record(options, class_name, actor_id, target);
}

Task<void> Cluster::register_name(ActorLocation where, std::string name) {
  std::string refused;
  co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<void> {
    ActorEntry e;
    e.actor_id = where.actor_id;
    e.name = name;
    e.class_name = where.class_name;
    e.node = where.home;
    if (is_head_) {
      try {
        store_->register_actor(e);
      } catch (const std::exception& ex) {
        refused = ex.what();
      }
      return kj::READY_NOW;
    }
    auto req = head_client().registerActorRequest();
    to_wire(req.initEntry(), e);
    return req.send().then(
        [&](capnp::Response<wire::Head::RegisterActorResults> r) { refused = r.getError(); });
  });
  if (!refused.empty()) throw Error(refused);
}

Task<std::optional<ActorLocation>> Cluster::lookup_name(std::string name) {
  // actor_id 0 stands for "no such actor" inside the KJ promise.
  ActorLocation where = co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<ActorLocation> {
    auto found = [](const ActorEntry& e) {
      return e.state == ActorState::dead ? ActorLocation{}
                                         : ActorLocation{e.node, e.actor_id, e.class_name};
    };
    if (is_head_) {
      auto e = store_->lookup_actor(name);
      return e ? found(*e) : ActorLocation{};
    }
    auto req = head_client().lookupActorRequest();
    req.setName(name);
    return req.send().then([found](capnp::Response<wire::Head::LookupActorResults> r) {
      return r.getFound() ? found(from_wire(r.getEntry())) : ActorLocation{};
    });
  });
  if (where.actor_id == 0) co_return std::nullopt;
  co_return where;
}

void Cluster::forget_name(std::uint64_t actor_id) {
  on_reactor([this, actor_id] {
    if (is_head_) {
      store_->mark_actor_dead(actor_id);
      return;
    }
    auto it = links_.find(0);
    if (it == links_.end()) return;
    KJ_IF_MAYBE (head, it->second->head) {
      ActorEntry e;
      e.actor_id = actor_id;
      e.state = ActorState::dead;
      auto req = head->updateActorRequest();
      to_wire(req.initEntry(), e);
      tasks_->add(req.send().ignoreResult());
    }
  });
}

void Cluster::forward_call(ActorRecord& proxy, TaskSpecPtr call) {
  const NodeId home = proxy.home();
  call->runner = nullptr;
  enqueue(home, std::move(call));
}

void Cluster::kill_remote(NodeId home, std::uint64_t actor_id) {
  {
    std::lock_guard lock(mutex_);
    if (!alive_locked(home)) return;  // nothing left to tell
  }
  on_reactor([this, home, actor_id] {
    with_peer(home, [actor_id](wire::Peer::Client& peer) {
      auto req = peer.killActorRequest();
      req.setActorId(actor_id);
      req.send().detach([](kj::Exception&&) {});
    });
  });
}

// --- placement groups ----------------------------------------------------------

Task<PlacementGroup> Cluster::create_placement_group(PlacementStrategy strategy,
                                                     std::vector<Resources> bundles) {
  // The head's store is thread-safe: a driver on the head calls it from
  // here, then tells the nodes their bundles without waiting for the tick.
  if (is_head_) {
    PlacementGroup group = store_->create_placement_group(strategy, bundles);
    publish_view();
    co_return group;
  }
  // A refusal comes back as text (group id 0), so it can be thrown as the
  // InfeasibleError it is rather than as a transport failure.
  std::string refused;
  PlacementGroup group = co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<PlacementGroup> {
    auto req = head_client().createPlacementGroupRequest();
    req.setStrategy(to_wire(strategy));
    to_wire(req.initBundles(static_cast<unsigned>(bundles.size())), bundles);
    return req.send().then(
        [&, strategy, bundles](capnp::Response<wire::Head::CreatePlacementGroupResults> r) {
          refused = r.getError();
          PlacementGroup g{r.getGroupId(), strategy, bundles, {}};
          for (auto n : r.getNodes()) g.bundle_nodes.push_back(n);
          return g;
        });
  });
  if (!refused.empty()) throw InfeasibleError(refused);
  co_return group;
}

Task<void> Cluster::remove_placement_group(std::uint64_t group_id) {
  if (is_head_) {
    if (store_->remove_placement_group(group_id)) publish_view();
    co_return;
  }
  // Like Ray's, removal is asynchronous: sent, not awaited. This node's later
  // requests reach the head after it on the same connection, so they see the
  // resources freed.
  on_reactor([this, group_id] {
    auto it = links_.find(0);
    if (it == links_.end()) return;
    KJ_IF_MAYBE (head, it->second->head) {
      auto req = head->removePlacementGroupRequest();
      req.setGroupId(group_id);
      tasks_->add(req.send().ignoreResult());
    }
  });
  co_return;
}

}  // namespace weft::detail
