// The Gate, Peer and Head servers.
#include "node/services.hpp"

#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "node/seal_watch.hpp"
#include "node/wire.hpp"
#include "weft/core/detached.hpp"
#include "weft/object/object_ref.hpp"
#include "weft/remote/kv.hpp"

namespace weft::detail {

namespace {
// Runs `f`; an error it throws fails the request as a refusal, which the
// caller rethrows as the same weft error.
template <typename F>
kj::Promise<void> answer(F&& f) {
  try {
    f();
    return kj::READY_NOW;
  } catch (const std::exception& e) {
    return refusal(e);
  }
}
// Why the head refuses a node it declared dead, for that node to show.
std::string fenced_reason(NodeId node) {
  return fmt::format(
      "the head declared node {:x} dead after {} ms without its heartbeats (a partition or a "
      "stall)",
      node, std::chrono::duration_cast<std::chrono::milliseconds>(failure_timeout).count());
}
}  // namespace

// --- Gate ----------------------------------------------------------------------

kj::Promise<void> GateService::challenge(ChallengeContext context) {
  nonce_ = fresh_nonce();
  context.getResults().setNonce(kj::arrayPtr(nonce_->data(), nonce_->size()));
  return kj::READY_NOW;
}

kj::Promise<void> GateService::hello(HelloContext context) {
  auto hello = context.getParams().getHello();
  // A nonce proves one hello: a second on this connection needs a new challenge.
  const std::optional<Nonce> nonce = std::exchange(nonce_, std::nullopt);
  std::string reason = cluster_.peers().check_hello(hello, nonce);
  if (reason.empty() && hello.getRole() == wire::Role::NODE &&
      cluster_.declared_dead(hello.getInfo().getNodeId())) {
    reason = fmt::format("node {:x} was declared dead by the head; it must rejoin as a new node",
                         hello.getInfo().getNodeId());
  }
  if (!reason.empty()) {
    const auto& info = hello.getInfo();
    log(LogLevel::warn, "refused a connection from {}:{} (pid {}): {}",
        info.getAddress().getHost().cStr(), info.getAddress().getPort(), info.getPid(), reason);
    return refusal(
        Error(fmt::format("refused by node {:x}: {}", cluster_.node().node_id(), reason)));
  }
  if (hello.getRole() == wire::Role::NODE) from_ = hello.getInfo().getNodeId();
  auto results = context.getResults();
  results.setPeer(kj::heap<PeerService>(cluster_));
  if (cluster_.is_head()) results.setHead(kj::heap<HeadService>(cluster_));
  results.setNodeId(cluster_.node().node_id());
  results.setStreamPort(cluster_.stream_port());
  return kj::READY_NOW;
}

// --- Peer --------------------------------------------------------------------------

kj::Promise<void> PeerService::pullObject(PullObjectContext context) {
  auto params = context.getParams();
  const ObjectId id = from_wire(params.getId());
  ObjectState* found = cluster_.node().store().acquire_exported(id);
  if (found == nullptr) {
    return refusal(Error(fmt::format("object {} is not held by node {:x}", id.to_string(),
                                     cluster_.node().node_id())));
  }
  auto object = ObjectHandle::adopt(found);
  if (!object->ready()) {
    // A ref sent before its task finished: answer once it is sealed.
    auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
    // (Held by a shared_ptr: KJ's Own may throw from its destructor, a group's may not.)
    auto sealed =
        std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<void>>>(kj::mv(paf.fulfiller));
    when_sealed({object}, [sealed] { (*sealed)->fulfill(); });
    return paf.promise.then(
        [this, context, object]() mutable { return answer_pull(context, object); });
  }
  return answer_pull(context, object);
}

kj::Promise<void> PeerService::answer_pull(PullObjectContext context, const ObjectHandle& object) {
  auto params = context.getParams();
  const ObjectId id = object->id();
  if (object->error()) {
    object->mark_error_read();  // the reader learns of it
    return refusal(Error(fmt::format("object {} failed: it holds an error", id.to_string())));
  }
  auto payload = object->payload();
  const std::uint64_t offset = std::min<std::uint64_t>(params.getOffset(), payload.size());
  const std::uint64_t length = std::min<std::uint64_t>(params.getLength(), payload.size() - offset);
  auto results = context.getResults();
  results.setTotalSize(payload.size());
  if (offset == 0) {
    const auto& nested = object->nested();
    auto list = results.initNestedRefs(static_cast<unsigned>(nested.size()));
    std::size_t inline_left = ObjectTransfer::message_inline_bytes;
    for (unsigned i = 0; i < nested.size(); ++i)
      cluster_.transfer().fill_ref(list[i], nested[i], inline_left);
  }
  auto chunk = payload.subspan(offset, length);
  if (object->in_arena()) {
    // Written from the arena without a copy. The arena stays mapped while
    // the node lives, and the puller keeps the object alive until it has
    // every chunk (a holder waits for freeObjects; a submitter for the task's
    // result, which is sent only after its pulls), so each chunk is on the
    // socket before its bytes can be reused.
    results.adoptData(capnp::Orphanage::getForMessageContaining(results).referenceExternalData(
        capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(chunk.data()), chunk.size())));
  } else {
    results.setData(
        capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(chunk.data()), chunk.size()));
  }
  return kj::READY_NOW;
}

kj::Promise<void> PeerService::freeObjects(FreeObjectsContext context) {
  for (auto id : context.getParams().getIds()) cluster_.transfer().release_held(from_wire(id));
  return kj::READY_NOW;
}

kj::Promise<void> PeerService::createActor(CreateActorContext context) {
  auto spec = context.getParams().getSpec();
  KJ_IF_MAYBE (created, cluster_.actor_created(spec.getActorId())) return kj::mv(*created);
  ActorOptions options;
  options.name = Name(std::string_view(spec.getName().cStr()));
  options.resources = resources_from_wire(spec.getResources());
  options.max_concurrency = spec.getMaxConcurrency();
  options.dedicated_thread = spec.getDedicatedThread();
  options.max_restarts = spec.getMaxRestarts();
  options.placement.group = spec.getPlacementGroup();
  options.placement.index = spec.getBundleIndex();
  auto args_reader = spec.getArgs();
  std::vector<std::byte> args(args_reader.size());
  if (!args.empty()) std::memcpy(args.data(), args_reader.begin(), args.size());
  // Objects named in the arguments, copied here before the constructor reads
  // them; the caller keeps its own alive until this call is answered.
  std::vector<ObjectHandle> nested;
  for (auto r : spec.getNestedRefs()) nested.push_back(cluster_.transfer().materialize(r));

  // The constructor runs on an executor; the reply waits for it.
  auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
  auto body = [](Cluster& cluster, ActorOptions o, std::string class_name, std::uint64_t actor_id,
                 std::uint64_t ctor, std::vector<std::byte> a, std::vector<ObjectHandle> refs,
                 kj::Own<kj::CrossThreadPromiseFulfiller<void>> done) -> Task<void> {
    for (const auto& r : refs) co_await SealedAwaiter(r.get());
    kj::Maybe<kj::Exception> failure;
    try {
      auto record = co_await cluster.node().create_local_actor(std::move(o), std::move(class_name),
                                                               ctor, std::move(a), actor_id);
      cluster.host_actor(std::move(record));
    } catch (const std::exception& e) {
      failure = refusal(e);
    }
    KJ_IF_MAYBE (e, failure) {
      done->reject(kj::mv(*e));
    } else {
      done->fulfill();
    }
  };
  spawn_detached(
      cluster_.node().executor(),
      body(cluster_, std::move(options), spec.getClassName(), spec.getActorId(),
           spec.getConstructorId(), std::move(args), std::move(nested), kj::mv(paf.fulfiller)));
  return cluster_.creating_actor(spec.getActorId(), kj::mv(paf.promise));
}

kj::Promise<void> PeerService::killActor(KillActorContext context) {
  const std::uint64_t id = context.getParams().getActorId();
  if (auto record = cluster_.unhost_actor(id)) record->kill();
  return kj::READY_NOW;
}

kj::Promise<void> PeerService::updateView(UpdateViewContext context) {
  cluster_.adopt_view(from_wire(context.getParams().getView()));
  return kj::READY_NOW;
}

kj::Promise<void> PeerService::stop(StopContext) {
  cluster_.mark_stopped();
  return kj::READY_NOW;
}

// --- Head --------------------------------------------------------------------------

kj::Promise<void> HeadService::register_(RegisterContext context) {
  const NodeInfo info = from_wire(context.getParams().getInfo());
  NodeId id = 0;
  try {
    id = store_.register_node(info, ControlStore::Clock::now());
  } catch (const Error& e) {
    log(LogLevel::warn, "refused node {:x} from {}:{} (pid {}): {}", info.id, info.host, info.port,
        info.pid, e.what());
    return refusal(e);
  }
  log(LogLevel::info, "node {:x} joined from {}:{} (pid {})", id, info.host, info.port, info.pid);
  auto results = context.getResults();
  results.setNodeId(id);
  cluster_.broadcast_view();
  to_wire(results.initView(), store_.view());
  return kj::READY_NOW;
}

kj::Promise<void> HeadService::heartbeat(HeartbeatContext context) {
  auto params = context.getParams();
  const NodeId node = params.getNodeId();
  if (!store_.heartbeat(node, from_wire(params.getLoad()), ControlStore::Clock::now()) &&
      store_.fenced(node)) {
    return refusal(NodeFencedError(fenced_reason(node)));
  }
  return kj::READY_NOW;
}

kj::Promise<void> HeadService::registerActor(RegisterActorContext context) {
  return answer([&] { store_.register_actor(from_wire(context.getParams().getEntry())); });
}

kj::Promise<void> HeadService::lookupActor(LookupActorContext context) {
  auto entry = store_.lookup_actor(context.getParams().getName().cStr());
  auto results = context.getResults();
  results.setFound(entry.has_value());
  if (entry) to_wire(results.initEntry(), *entry);
  return kj::READY_NOW;
}

kj::Promise<void> HeadService::updateActor(UpdateActorContext context) {
  const ActorEntry entry = from_wire(context.getParams().getEntry());
  return answer([&] {
    if (entry.state == ActorState::dead) {
      store_.mark_actor_dead(entry.actor_id);
    } else {
      store_.update_actor(entry);
    }
  });
}

kj::Promise<void> HeadService::kvPut(KvPutContext context) {
  auto params = context.getParams();
  const std::string_view key = params.getKey().cStr();
  auto value = params.getValue();
  // Nodes check these limits before sending; this guards against other clients.
  return answer([&] {
    check_kv_key(key);
    check_kv_value(key, value.size());
    store_.kv_put(std::string(key), std::string(value.asChars().begin(), value.size()));
  });
}

kj::Promise<void> HeadService::kvGet(KvGetContext context) {
  auto value = store_.kv_get(context.getParams().getKey().cStr());
  auto results = context.getResults();
  results.setFound(value.has_value());
  if (value)
    results.setValue(
        kj::arrayPtr(reinterpret_cast<const capnp::byte*>(value->data()), value->size()));
  return kj::READY_NOW;
}

kj::Promise<void> HeadService::kvDelete(KvDeleteContext context) {
  context.getResults().setExisted(store_.kv_erase(context.getParams().getKey().cStr()));
  return kj::READY_NOW;
}

kj::Promise<void> HeadService::kvKeys(KvKeysContext context) {
  const auto keys = store_.kv_keys(context.getParams().getPrefix().cStr());
  auto list = context.getResults().initKeys(static_cast<unsigned>(keys.size()));
  for (unsigned i = 0; i < keys.size(); ++i) list.set(i, keys[i]);
  return kj::READY_NOW;
}

kj::Promise<void> HeadService::createPlacementGroup(CreatePlacementGroupContext context) {
  auto params = context.getParams();
  return answer([&] {
    PlacementGroup group = store_.create_placement_group(from_wire(params.getStrategy()),
                                                         from_wire(params.getBundles()));
    auto results = context.getResults();
    results.setGroupId(group.id);
    auto nodes = results.initNodes(static_cast<unsigned>(group.bundle_nodes.size()));
    for (unsigned i = 0; i < group.bundle_nodes.size(); ++i) nodes.set(i, group.bundle_nodes[i]);
    cluster_.broadcast_view();  // the nodes learn their bundles now
  });
}

kj::Promise<void> HeadService::removePlacementGroup(RemovePlacementGroupContext context) {
  if (store_.remove_placement_group(context.getParams().getGroupId())) cluster_.broadcast_view();
  return kj::READY_NOW;
}

kj::Promise<void> HeadService::startJob(StartJobContext context) {
  context.getResults().setJobId(start_job_now(store_, context.getParams().getDriverNode()));
  return kj::READY_NOW;
}

kj::Promise<void> HeadService::finishJob(FinishJobContext context) {
  auto params = context.getParams();
  store_.finish_job(params.getJobId());
  if (store_.fenced(params.getDriverNode())) {
    return refusal(NodeFencedError(fenced_reason(params.getDriverNode())));
  }
  return kj::READY_NOW;
}

kj::Promise<void> HeadService::status(StatusContext context) {
  auto s = context.getResults().initStatus();
  to_wire(s.initView(), store_.view());
  const auto actors = store_.actors();
  auto list = s.initActors(static_cast<unsigned>(actors.size()));
  for (unsigned i = 0; i < actors.size(); ++i) to_wire(list[i], actors[i]);
  const auto jobs = store_.jobs();
  auto jl = s.initJobs(static_cast<unsigned>(jobs.size()));
  for (unsigned i = 0; i < jobs.size(); ++i) {
    jl[i].setJobId(jobs[i].job_id);
    jl[i].setDriverNode(jobs[i].driver_node);
    jl[i].setStartedMs(jobs[i].started_ms);
    jl[i].setFinished(jobs[i].finished);
  }
  s.setPlacementGroups(static_cast<std::uint32_t>(store_.placement_groups().size()));
  return kj::READY_NOW;
}

kj::Promise<void> HeadService::stopCluster(StopClusterContext) { return cluster_.stop_peers(); }

kj::Promise<void> HeadService::leave(LeaveContext context) {
  const NodeId node = context.getParams().getNodeId();
  if (store_.mark_node_left(node)) {
    log(LogLevel::info, "node {:x} left the cluster", node);
    cluster_.broadcast_view();
  }
  return kj::READY_NOW;
}

}  // namespace weft::detail
