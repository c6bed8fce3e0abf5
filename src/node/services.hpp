// The Cap'n Proto servers a node exports (src/weft.capnp): the Gate every
// connection starts at, the Peer other nodes call, and, on the head, the Head
// in front of the control store. All run on the reactor thread.
#pragma once

#include <optional>

#include "node/auth.hpp"
#include "node/cluster.hpp"

// Generated capnp servers are destroyed through kj::Own, whose disposer knows
// the concrete type, so their bases need no virtual destructor.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

namespace weft::detail {

// One per inbound connection: it remembers the nonce its challenge sent.
class GateService final : public wire::Gate::Server {
 public:
  // `from` is set to the id of the node that passed this gate: the
  // connection's owner outlives its gate.
  GateService(Cluster& cluster, NodeId& from) : cluster_(cluster), from_(from) {}

 protected:
  kj::Promise<void> challenge(ChallengeContext context) override;
  kj::Promise<void> hello(HelloContext context) override;

 private:
  Cluster& cluster_;
  NodeId& from_;
  std::optional<Nonce> nonce_;
};

class PeerService final : public wire::Peer::Server {
 public:
  explicit PeerService(Cluster& cluster) : cluster_(cluster) {}

 protected:
  kj::Promise<void> pullObject(PullObjectContext context) override;
  kj::Promise<void> freeObjects(FreeObjectsContext context) override;
  kj::Promise<void> createActor(CreateActorContext context) override;
  kj::Promise<void> killActor(KillActorContext context) override;
  kj::Promise<void> updateView(UpdateViewContext context) override;
  kj::Promise<void> stop(StopContext context) override;

 private:
  kj::Promise<void> answer_pull(PullObjectContext context, const ObjectHandle& object);
  Cluster& cluster_;
};

class HeadService final : public wire::Head::Server {
 public:
  explicit HeadService(Cluster& cluster) : cluster_(cluster), store_(cluster.store()) {}

 protected:
  kj::Promise<void> register_(RegisterContext context) override;
  kj::Promise<void> heartbeat(HeartbeatContext context) override;
  kj::Promise<void> registerActor(RegisterActorContext context) override;
  kj::Promise<void> lookupActor(LookupActorContext context) override;
  kj::Promise<void> updateActor(UpdateActorContext context) override;
  kj::Promise<void> kvPut(KvPutContext context) override;
  kj::Promise<void> kvGet(KvGetContext context) override;
  kj::Promise<void> kvDelete(KvDeleteContext context) override;
  kj::Promise<void> kvKeys(KvKeysContext context) override;
  kj::Promise<void> createPlacementGroup(CreatePlacementGroupContext context) override;
  kj::Promise<void> removePlacementGroup(RemovePlacementGroupContext context) override;
  kj::Promise<void> startJob(StartJobContext context) override;
  kj::Promise<void> finishJob(FinishJobContext context) override;
  kj::Promise<void> status(StatusContext context) override;
  kj::Promise<void> stopCluster(StopClusterContext context) override;
  kj::Promise<void> leave(LeaveContext context) override;

 private:
  Cluster& cluster_;
  ControlStore& store_;
};

}  // namespace weft::detail

#pragma GCC diagnostic pop
