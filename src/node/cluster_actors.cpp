// detail::Cluster: actors on other nodes.
#include <fmt/format.h>

#include "node/cluster.hpp"
#include "node/link_retry.hpp"
#include "node/wire.hpp"
#include "weft/core/timer.hpp"

namespace weft::detail {

// --- actors -------------------------------------------------------------------

Task<std::shared_ptr<ActorRecord>> Cluster::create_remote_actor(NodeId target, ActorOptions options,
                                                                std::string class_name,
                                                                std::uint64_t constructor_id,
                                                                ActorArguments args) {
  const std::uint64_t actor_id = node_.next_actor_id();
  // Sent again over a new link if one breaks: the target creates each
  // actor id once, and answers a repeat when that creation ends.
  for (unsigned broken = 0;;) {
    bool disconnected = false;
    try {
      co_await send_create_actor(target, actor_id, options, class_name, constructor_id, args);
    } catch (const TransportError& e) {
      if (e.kind() != TransportError::Kind::disconnected) throw;
      disconnected = true;
    }
    if (!disconnected) break;
    if (declared_dead(target)) {
      throw ActorDiedError(
          fmt::format("node {:x} died while actor {} was being created there", target, class_name));
    }
    if (++broken >= max_broken_links) {
      throw TransportError(
          TransportError::Kind::disconnected,
          fmt::format("actor {} could not be created on node {:x}: the connection to it broke {} "
                      "times in a row",
                      class_name, target, broken));
    }
    co_await sleep_for(link_backoff(broken));
  }
  co_return node_.make_record(options, class_name, actor_id, target);
}

Task<void> Cluster::send_create_actor(NodeId target, std::uint64_t actor_id,
                                      const ActorOptions& options, const std::string& class_name,
                                      std::uint64_t constructor_id, const ActorArguments& args) {
  co_await run_on_kj(node_.reactor(), [&] {
    return peers_.peer(target).then([&](wire::Peer::Client peer) {
      auto req = peer.createActorRequest();
      auto spec = req.initSpec();
      spec.setActorId(actor_id);
      spec.setClassName(class_name);
      spec.setConstructorId(constructor_id);
      spec.setArgs(
          kj::arrayPtr(reinterpret_cast<const capnp::byte*>(args.bytes.data()), args.bytes.size()));
      auto nested = spec.initNestedRefs(static_cast<unsigned>(args.nested_refs.size()));
      std::size_t inline_left = ObjectTransfer::message_inline_bytes;
      for (unsigned i = 0; i < args.nested_refs.size(); ++i)
        transfer_.fill_ref(nested[i], args.nested_refs[i], inline_left);
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
}

kj::Maybe<kj::Promise<void>> Cluster::actor_created(std::uint64_t actor_id) {
  {
    std::lock_guard lock(hosted_mutex_);
    if (hosted_actors_.count(actor_id) > 0) return kj::Promise<void>(kj::READY_NOW);
  }
  if (auto it = actor_creations_.find(actor_id); it != actor_creations_.end()) {
    return it->second.addBranch();
  }
  return nullptr;
}

kj::Promise<void> Cluster::creating_actor(std::uint64_t actor_id, kj::Promise<void> created) {
  auto [it, added] = actor_creations_.emplace(actor_id, created.fork());
  tasks_->add(it->second.addBranch()
                  .catch_([](kj::Exception&&) {})  // the creator hears of it
                  .then([this, actor_id] { actor_creations_.erase(actor_id); }));
  return it->second.addBranch();
}

void Cluster::kill_remote(NodeId home, std::uint64_t actor_id) {
  if (!alive(home)) return;  // nothing left to tell
  on_reactor([this, home, actor_id] {
    peers_.deliver(home, [actor_id](wire::Peer::Client& peer) {
      auto req = peer.killActorRequest();
      req.setActorId(actor_id);
      return req.send().ignoreResult();
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
