// detail::Cluster: actors on other nodes.
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
      std::size_t inline_left = message_inline_bytes;
      for (unsigned i = 0; i < args.nested_refs.size(); ++i)
        fill_ref(nested[i], args.nested_refs[i], inline_left);
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

void Cluster::forward_call(ActorRecord& proxy, TaskSpecPtr call) {
  const NodeId home = proxy.home();
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

void Cluster::host_actor(std::shared_ptr<ActorRecord> record) {
  std::lock_guard lock(hosted_mutex_);
  const std::uint64_t id = record->id();
  hosted_actors_[id] = std::move(record);
}

std::shared_ptr<ActorRecord> Cluster::unhost_actor(std::uint64_t actor_id) {
  std::lock_guard lock(hosted_mutex_);
  auto it = hosted_actors_.find(actor_id);
  if (it == hosted_actors_.end()) return nullptr;
  auto record = std::move(it->second);
  hosted_actors_.erase(it);
  return record;
}

}  // namespace weft::detail
