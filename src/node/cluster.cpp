// detail::Cluster: connections, the gate, task and result forwarding, pulls.
#include "node/cluster.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "node/services.hpp"
#include "node/wire.hpp"
#include "weft/core/detached.hpp"
#include "weft/object/put_get.hpp"
#include "weft/remote/invoke.hpp"
#include "weft/remote/registry.hpp"

namespace weft::detail {

namespace {
// Payloads up to this size travel inside task and result messages, as Ray inlines.
constexpr std::size_t inline_limit = 100 * 1024;
// Large objects move in chunks of this size, a few requests in flight.
constexpr std::uint64_t chunk_size = 4 << 20;
constexpr unsigned chunks_in_flight = 4;
constexpr auto heartbeat_interval = std::chrono::milliseconds(50);
constexpr auto view_interval = std::chrono::milliseconds(100);
constexpr auto failure_timeout = std::chrono::milliseconds(1500);

capnp::ReaderOptions reader_options() {
  capnp::ReaderOptions o;
  o.traversalLimitInWords = 64 * 1024 * 1024;  // 512 MiB: chunk replies and big batches
  return o;
}

void log(const std::string& line) { std::fprintf(stderr, "weft: %s\n", line.c_str()); }
}  // namespace

std::unique_ptr<ClusterLink> make_cluster(Node& node, const ClusterOptions& options) {
  return std::make_unique<Cluster>(node, options);
}

// --- set-up and tear-down -----------------------------------------------------

Cluster::Cluster(Node& node, const ClusterOptions& options)
    : node_(node), options_(options), is_head_(options.head) {
  kj_ = std::make_unique<ScopedKjLoop>(node_.reactor());
  std::exception_ptr failure;
  BlockingEvent done;
  node_.reactor().post([&] {
    try {
      start_on_reactor(options);
    } catch (const kj::Exception& e) {
      failure = std::make_exception_ptr(TransportError(e));
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure || is_head_) done.set();
  });
  if (!is_head_) {
    // Registration completes asynchronously; adopt_view signals it.
    std::unique_lock lock(mutex_);
    const bool registered = changed_.wait_for(lock, std::chrono::seconds(30), [&] {
      return failure != nullptr || stopped_ || !view_.nodes.empty();
    });
    lock.unlock();
    if (!failure && !registered)
      failure = std::make_exception_ptr(Error("the head did not answer within 30 s"));
    if (!failure && stopped_) failure = std::make_exception_ptr(Error(refusal_));
  } else {
    done.wait();
  }
  if (failure) {
    stop_on_reactor_sync();
    std::rethrow_exception(failure);
  }
}

Cluster::~Cluster() noexcept { stop_on_reactor_sync(); }

void Cluster::stop_on_reactor_sync() {
  if (!kj_) return;
  BlockingEvent done;
  node_.reactor().post([&] {
    stop_on_reactor();
    done.set();
  });
  done.wait();
  kj_.reset();
}

void Cluster::start_on_reactor(const ClusterOptions& options) {
  tasks_ = kj::heap<kj::TaskSet>(task_logger_);
  listener_ = kj::heap<TcpListener>(node_.reactor().context(), options.listen_port);
  port_ = listener_->port();
  accept_loop();
  timer_.emplace(node_.reactor().context());
  if (is_head_) {
    store_ = std::make_unique<ControlStore>();
    NodeInfo self = local_info();
    store_->register_node(self, ControlStore::Clock::now());
    adopt_view(store_->view());
  } else {
    PeerLink& head = link_to(0);
    connect_link(head, options.head_host, options.head_port);
  }
  heartbeat();
}

void Cluster::stop_on_reactor() {
  if (timer_) timer_->cancel();
  timer_.reset();
  hosted_actors_.clear();
  held_for_owner_.clear();
  {
    std::lock_guard lock(mutex_);
    results_out_.clear();
  }
  links_.clear();
  inbound_.clear();
  listener_ = nullptr;
  tasks_ = nullptr;
}

void Cluster::TaskLogger::taskFailed(kj::Exception&& e) {
  log(fmt::format("transport: {}", e.getDescription().cStr()));
}

NodeInfo Cluster::local_info() const {
  NodeInfo info;
  info.id = node_.node_id();
  info.host = "127.0.0.1";
  info.port = port_;
  const auto resources = node_.scheduler_.resources();
  info.totals = Resources{.cpu = 0};
  for (const auto& [name, amounts] : resources) {
    const double total = amounts.second;
    if (name == "cpu") {
      info.totals.cpu = total;
    } else if (name == "gpu") {
      info.totals.gpu = total;
    } else if (name == "memory") {
      info.totals.memory = total;
    } else if (total > 0) {
      info.totals.custom.set(name, total);
    }
  }
  info.store_capacity = node_.store().capacity();
  info.pid = getpid();
  return info;
}

NodeLoad Cluster::local_load() const {
  NodeLoad load;
  load.available = Resources{.cpu = 0};
  for (const auto& [name, amounts] : node_.scheduler_.resources()) {
    const double free = amounts.first;
    if (name == "cpu") {
      load.available.cpu = free;
    } else if (name == "gpu") {
      load.available.gpu = free;
    } else if (name == "memory") {
      load.available.memory = free;
    } else if (amounts.second > 0) {
      load.available.custom.set(name, free);
    }
  }
  load.store_used = node_.store().arena_bytes_used();
  load.live_objects = node_.store().live_objects();
  load.tasks_in_flight = node_.scheduler_.tasks_in_flight();
  load.live_actors = node_.live_actors();
  return load;
}

// --- connections --------------------------------------------------------------

void Cluster::accept_loop() {
  tasks_->add(listener_->accept().then([this](kj::Own<kj::AsyncIoStream> stream) {
    on_inbound(kj::mv(stream));
    accept_loop();
  }));
}

void Cluster::on_inbound(kj::Own<kj::AsyncIoStream> stream) {
  auto in = std::make_unique<Inbound>();
  in->stream = kj::mv(stream);
  in->network = kj::heap<capnp::TwoPartyVatNetwork>(*in->stream, capnp::rpc::twoparty::Side::SERVER,
                                                    reader_options());
  in->rpc = kj::heap(
      capnp::makeRpcServer(*in->network, wire::Gate::Client(kj::heap<GateService>(*this))));
  Inbound* raw = in.get();
  tasks_->add(in->network->onDisconnect().then(
      [this, raw] { std::erase_if(inbound_, [raw](const auto& p) { return p.get() == raw; }); }));
  inbound_.push_back(std::move(in));
}

void Cluster::fill_hello(wire::Hello::Builder hello) const {
  hello.setProtocolVersion(wire::PROTOCOL_VERSION);
  hello.setClusterToken(options_.token);
  hello.setBuildFingerprint(registry_fingerprint());
  const auto entries = registry_entries();
  auto list = hello.initRegistry(static_cast<unsigned>(entries.size()));
  for (unsigned i = 0; i < entries.size(); ++i) {
    list.set(i, entries[i].name + " " + entries[i].signature);
  }
  hello.setRole(wire::Role::NODE);
  to_wire(hello.initInfo(), local_info());
}

std::string Cluster::check_hello(wire::Hello::Reader hello) const {
  if (hello.getProtocolVersion() != wire::PROTOCOL_VERSION) {
    return fmt::format("protocol version {} is not this node's {}", hello.getProtocolVersion(),
                       wire::PROTOCOL_VERSION);
  }
  if (std::string(hello.getClusterToken().cStr()) != options_.token) {
    return "wrong cluster token";
  }
  if (hello.getRole() == wire::Role::TOOL) return {};
  if (hello.getBuildFingerprint() == registry_fingerprint()) return {};
  // Name the first difference, so the operator knows which build is which.
  std::map<std::string, std::string> theirs;
  for (auto e : hello.getRegistry()) {
    std::string line = e.cStr();
    auto space = line.find(' ');
    theirs[line.substr(0, space)] = space == std::string::npos ? "" : line.substr(space + 1);
  }
  for (const auto& e : registry_entries()) {
    auto it = theirs.find(e.name);
    if (it == theirs.end()) return fmt::format("different build: it lacks '{}'", e.name);
    if (it->second != e.signature) {
      return fmt::format("different build: '{}' is `{}` there but `{}` here", e.name, it->second,
                         e.signature);
    }
    theirs.erase(it);
  }
  if (!theirs.empty()) {
    return fmt::format("different build: it has '{}', which this node lacks",
                       theirs.begin()->first);
  }
  return "different build (registry fingerprints differ)";
}

Cluster::PeerLink& Cluster::link_to(NodeId node) {
  auto& slot = links_[node];
  if (!slot) {
    slot = std::make_unique<PeerLink>();
    slot->id = node;
    if (node != 0) {
      std::string host;
      std::uint16_t port = 0;
      {
        std::lock_guard lock(mutex_);
        for (const auto& n : view_.nodes) {
          if (n.info.id == node) {
            host = n.info.host;
            port = n.info.port;
          }
        }
      }
      if (port == 0) {
        slot->broken = true;
      } else {
        connect_link(*slot, host, port);
      }
    }
  }
  return *slot;
}

void Cluster::connect_link(PeerLink& link, const std::string& host, std::uint16_t port) {
  const NodeId id = link.id;
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address(host), port);
  tasks_->add(connect_tcp(node_.reactor().context(), endpoint)
                  .then([this, id](kj::Own<kj::AsyncIoStream> stream) {
                    PeerLink& l = *links_[id];
                    l.stream = kj::mv(stream);
                    l.network = kj::heap<capnp::TwoPartyVatNetwork>(
                        *l.stream, capnp::rpc::twoparty::Side::CLIENT, reader_options());
                    l.rpc = kj::heap(capnp::makeRpcClient(*l.network));
                    capnp::word scratch[4];
                    std::memset(scratch, 0, sizeof scratch);
                    capnp::MallocMessageBuilder vat(scratch);
                    auto vat_id = vat.getRoot<capnp::rpc::twoparty::VatId>();
                    vat_id.setSide(capnp::rpc::twoparty::Side::SERVER);
                    auto gate = l.rpc->bootstrap(vat_id).castAs<wire::Gate>();
                    auto req = gate.helloRequest();
                    fill_hello(req.initHello());
                    tasks_->add(l.network->onDisconnect().then([this, id] {
                      link_failed(id, KJ_EXCEPTION(DISCONNECTED, "peer connection closed"));
                    }));
                    return req.send().then([this, id](capnp::Response<wire::Gate::HelloResults> r) {
                      PeerLink& ready = *links_[id];
                      ready.peer = r.getPeer();
                      ready.head = r.getHead();
                      if (id == 0) register_with_head(r.getHead());
                      auto waiting = std::move(ready.waiting);
                      KJ_IF_MAYBE (peer, ready.peer) {
                        for (auto& send : waiting) send(*peer);
                      }
                    });
                  })
                  .catch_([this, id](kj::Exception&& e) { link_failed(id, e); }));
}

void Cluster::link_failed(NodeId node, const kj::Exception& e) {
  auto it = links_.find(node);
  if (it == links_.end() || it->second->broken) return;
  it->second->broken = true;
  const std::string reason = e.getDescription().cStr();
  if (node == 0) {
    std::lock_guard lock(mutex_);
    if (view_.nodes.empty()) refusal_ = "the head refused this node: " + reason;
    stopped_ = true;
    changed_.notify_all();
    return;
  }
  log(fmt::format("lost node {:x}: {}", node, reason));
  // Forget the link so a later send reconnects if the node is still alive.
  tasks_->add(kj::evalLater([this, node] { links_.erase(node); }));
}

void Cluster::with_peer(NodeId node, kj::Function<void(wire::Peer::Client&)> send) {
  PeerLink& link = node == node_.node_id() && !is_head_ ? link_to(node) : link_to(node);
  if (link.broken) return;
  KJ_IF_MAYBE (peer, link.peer) {
    send(*peer);
  } else {
    link.waiting.push_back(kj::mv(send));
  }
}

// --- head registration and heartbeats ------------------------------------------

void Cluster::register_with_head(wire::Head::Client head) {
  auto req = head.registerRequest();
  to_wire(req.initInfo(), local_info());
  tasks_->add(req.send().then([this](capnp::Response<wire::Head::RegisterResults> r) {
    adopt_view(from_wire(r.getView()));
  }));
}

void Cluster::heartbeat() {
  if (!timer_) return;
  timer_->expires_after(heartbeat_interval);
  timer_->async_wait([this](const asio::error_code& ec) {
    if (ec || !timer_) return;
    KjAsioEventPort::CompletionScope scope;
    if (is_head_) {
      head_tick();
    } else if (auto it = links_.find(0); it != links_.end()) {
      KJ_IF_MAYBE (head, it->second->head) {
        auto req = head->heartbeatRequest();
        req.setNodeId(node_.node_id());
        to_wire(req.initLoad(), local_load());
        tasks_->add(req.send().ignoreResult());
      }
    }
    heartbeat();
  });
}

void Cluster::head_tick() {
  const auto now = ControlStore::Clock::now();
  store_->heartbeat(node_.node_id(), local_load(), now);
  for (NodeId dead : store_->detect_failures(now, failure_timeout)) {
    log(fmt::format("node {:x} missed its heartbeats: marked dead", dead));
  }
  if (now - last_broadcast_ >= view_interval || store_->version() != broadcast_version_) {
    broadcast_view();
    last_broadcast_ = now;
  }
}

void Cluster::broadcast_view() {
  ClusterView v = store_->view();
  broadcast_version_ = v.version;
  adopt_view(v);
  for (const auto& n : v.nodes) {
    if (!n.alive || n.info.id == node_.node_id()) continue;
    with_peer(n.info.id, [v](wire::Peer::Client& peer) {
      auto req = peer.updateViewRequest();
      to_wire(req.initView(), v);
      req.send().detach([](kj::Exception&&) {});
    });
  }
}

void Cluster::adopt_view(ClusterView v) {
  std::vector<NodeId> died;
  {
    std::lock_guard lock(mutex_);
    for (const auto& old : view_.nodes) {
      if (!old.alive) continue;
      for (const auto& n : v.nodes) {
        if (n.info.id == old.info.id && !n.alive) died.push_back(n.info.id);
      }
    }
    view_ = std::move(v);
  }
  changed_.notify_all();
  for (NodeId d : died) node_died(d);
}

void Cluster::node_died(NodeId node) {
  links_.erase(node);
  // Handles to actors that lived there now fail their calls at once.
  std::vector<std::shared_ptr<ActorRecord>> orphans;
  {
    std::lock_guard lock(node_.actors_mutex_);
    for (auto& [id, weak] : node_.actors_by_id_) {
      if (auto record = weak.lock(); record && record->home() == node) orphans.push_back(record);
    }
  }
  for (auto& record : orphans) record->kill();
  // Send again, elsewhere, every task that was running there (lineage).
  std::vector<TaskSpecPtr> again;
  {
    std::lock_guard lock(mutex_);
    for (auto it = remote_tasks_.begin(); it != remote_tasks_.end();) {
      if (it->second.target == node) {
        again.push_back(std::move(it->second.spec));
        it = remote_tasks_.erase(it);
      } else {
        ++it;
      }
    }
    sent_.erase(node);
  }
  for (auto& spec : again) {
    if (spec->actor) {
      spec->result->seal_error(std::make_exception_ptr(
          ActorDiedError(fmt::format("{} died with its node {:x}; {} was not completed",
                                     spec->actor->description(), node, spec->name))));
    } else if (spec->attempt < static_cast<std::uint32_t>(spec->opts().max_retries)) {
      ++spec->attempt;
      route(std::move(spec));
    } else {
      spec->result->seal_error(std::make_exception_ptr(Error(fmt::format(
          "task {} failed: its node {:x} died and it has no retries left", spec->name, node))));
    }
  }
}

// --- routing ---------------------------------------------------------------------

void Cluster::submit(TaskSpecPtr spec) {
  TaskSpec* raw = spec.release();
  auto ready = [](void* arg) noexcept {
    auto* s = static_cast<TaskSpec*>(arg);
    static_cast<Cluster*>(s->runner)->route(TaskSpecPtr(s));
  };
  raw->runner = this;
  if (when_refs_sealed(*raw, ready, raw)) route(TaskSpecPtr(raw));
}

NodeId Cluster::pick_target(const TaskSpec& spec) {
  const NodeId self = node_.node_id();
  const TaskOptions& o = spec.opts();
  if (o.placement.group != 0) return o.placement.node;
  std::lock_guard lock(mutex_);
  std::vector<const NodeView*> alive;
  for (const auto& n : view_.nodes) {
    if (n.alive) alive.push_back(&n);
  }
  auto fits_total = [&](const NodeView& n) {
    const Resources& need = o.resources;
    const Resources& have = n.info.totals;
    if (need.cpu > have.cpu || need.gpu > have.gpu || need.memory > have.memory) return false;
    for (const auto& [name, amount] : need.custom) {
      const double* has = have.custom.find(name);
      if (has == nullptr || *has < amount) return false;
    }
    return true;
  };
  if (const auto* a = std::get_if<NodeAffinity>(&o.strategy)) {
    for (const auto* n : alive) {
      if (n->info.id == a->node) return a->node;
    }
    if (!a->soft) return a->node;  // dead or unknown: the send fails the task
  }
  std::vector<const NodeView*> feasible;
  for (const auto* n : alive) {
    if (fits_total(*n)) feasible.push_back(n);
  }
  if (feasible.empty()) return self;  // the local scheduler reports it infeasible
  if (std::holds_alternative<SpreadStrategy>(o.strategy)) {
    return feasible[spread_cursor_++ % feasible.size()]->info.id;
  }
  // Hybrid: here while this node has room, else the least loaded node, where
  // load counts what this node has already sent there.
  auto load_of = [&](const NodeView& n) {
    const double cpu = std::max(1.0, n.info.totals.cpu);
    if (n.info.id == self) return static_cast<double>(node_.scheduler_.tasks_in_flight()) / cpu;
    auto it = sent_.find(n.info.id);
    return static_cast<double>(it == sent_.end() ? 0 : it->second) / cpu;
  };
  const NodeView* best = nullptr;
  for (const auto* n : feasible) {
    if (n->info.id == self && load_of(*n) < 1.0) return self;
    if (best == nullptr || load_of(*n) < load_of(*best)) best = n;
  }
  return best->info.id;
}

void Cluster::route(TaskSpecPtr spec) {
  const NodeId target = pick_target(*spec);
  if (target == node_.node_id()) {
    node_.scheduler_.submit(std::move(spec));
    return;
  }
  enqueue(target, std::move(spec));
}

bool Cluster::alive_locked(NodeId node) const {
  for (const auto& n : view_.nodes) {
    if (n.info.id == node) return n.alive;
  }
  return false;
}

void Cluster::fail_unreachable(TaskSpecPtr spec, NodeId target) {
  if (spec->actor) {
    spec->result->seal_error(std::make_exception_ptr(
        ActorDiedError(fmt::format("{} lived on node {:x}, which is not alive; {} was not run",
                                   spec->actor->description(), target, spec->name))));
  } else {
    spec->result->seal_error(std::make_exception_ptr(Error(
        fmt::format("task {} is pinned to node {:x}, which is not alive", spec->name, target))));
  }
}

void Cluster::enqueue(NodeId target, TaskSpecPtr spec) {
  bool schedule = false;
  {
    std::unique_lock lock(mutex_);
    if (!alive_locked(target)) {
      lock.unlock();
      fail_unreachable(std::move(spec), target);
      return;
    }
    TaskSpec* raw = spec.get();
    remote_tasks_[raw->result->id()] = RemoteTask{std::move(spec), target};
    outbox_.push_back({target, raw});
    ++sent_[target];
    schedule = !std::exchange(flush_scheduled_, true);
  }
  if (schedule) {
    node_.reactor().post([this] {
      KjAsioEventPort::CompletionScope scope;
      flush();
    });
  }
}

void Cluster::flush() {
  std::vector<Outgoing> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(outbox_);
    flush_scheduled_ = false;
  }
  std::map<NodeId, std::vector<TaskSpec*>> by_target;
  for (auto& o : batch) by_target[o.target].push_back(o.spec);
  for (auto& [target, specs] : by_target) send_tasks(target, std::move(specs));
}

void Cluster::fill_ref(wire::RefArg::Builder b, const ObjectHandle& ref) {
  to_wire(b.initId(), ref->id());
  if (ref->ready() && !ref->error() && ref->payload().size() <= inline_limit) {
    auto p = ref->payload();
    b.setInline(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(p.data()), p.size()));
  } else {
    // Pulled from here: findable by id while the task (which holds it) lives.
    ref->mark_exported();
    b.initLocations(1).set(0, node_.node_id());
  }
}

void Cluster::fill_spec(wire::TaskSpec::Builder b, TaskSpec& spec) {
  b.setFunctionId(spec.function_id);
  b.setName(std::string(spec.name));
  auto args = spec.args.bytes();
  b.setArgs(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(args.data()), args.size()));
  auto refs = b.initRefs(static_cast<unsigned>(spec.refs.size()));
  for (unsigned i = 0; i < spec.refs.size(); ++i) fill_ref(refs[i], spec.refs[i]);
  b.setRefMask(spec.ref_mask);
  b.setWaitMask(spec.wait_mask);
  auto nested = b.initNestedRefs(static_cast<unsigned>(spec.nested_refs.size()));
  for (unsigned i = 0; i < spec.nested_refs.size(); ++i) fill_ref(nested[i], spec.nested_refs[i]);
  to_wire(b.initResult(), spec.result->id());
  if (spec.options != &default_task_options)
    to_wire(b.initOptions(), spec.opts());
  else
    to_wire(b.initOptions(), default_task_options);
  b.setAttempt(spec.attempt);
  b.setActor(spec.actor ? spec.actor->id() : 0);
}

void Cluster::send_tasks(NodeId target, std::vector<TaskSpec*> specs) {
  with_peer(target, [this, target, specs = std::move(specs)](wire::Peer::Client& peer) {
    auto req = peer.pushTasksRequest();
    auto list = req.initTasks(static_cast<unsigned>(specs.size()));
    for (unsigned i = 0; i < specs.size(); ++i) fill_spec(list[i], *specs[i]);
    tasks_->add(req.send().ignoreResult().catch_(
        [this, target](kj::Exception&& e) { link_failed(target, e); }));
  });
}

// --- the executing side ---------------------------------------------------------

ObjectHandle Cluster::materialize(wire::RefArg::Reader ref) {
  const ObjectId id = from_wire(ref.getId());
  ObjectStore& store = node_.store();
  if (ObjectState* existing = store.acquire_exported(id)) return ObjectHandle::adopt(existing);
  auto handle = ObjectHandle::adopt(new ObjectState(store, id));
  handle->mark_exported();
  if (ref.hasInline()) {
    auto data = ref.getInline();
    try {
      PayloadBuffer buf = store.allocate(data.size(), id);
      std::memcpy(buf.bytes().data(), data.begin(), data.size());
      handle->seal(std::move(buf));
    } catch (...) {
      handle->seal_error(std::current_exception());
    }
  } else if (ref.getLocations().size() > 0) {
    pull(ref.getLocations()[0], id, handle, false);
  } else {
    handle->seal_error(std::make_exception_ptr(
        Error(fmt::format("object {} has no known location", id.to_string()))));
  }
  return handle;
}

void Cluster::receive_tasks(capnp::List<wire::TaskSpec>::Reader tasks, NodeId from) {
  (void)from;
  for (auto t : tasks) {
    auto spec = std::make_unique<TaskSpec>();
    spec->function_id = t.getFunctionId();
    const RegistryEntry* entry = find_registered(spec->function_id);
    const ObjectId result_id = from_wire(t.getResult());
    auto result = ObjectHandle::adopt(new ObjectState(node_.store(), result_id));
    watch_result(result, result_id.owner);
    if (entry == nullptr || entry->execute == nullptr) {
      result->seal_error(std::make_exception_ptr(
          Error(fmt::format("node {:x} has no function {} (id {:#x})", node_.node_id(),
                            t.getName().cStr(), spec->function_id))));
      continue;
    }
    spec->name = entry->name;
    spec->execute = entry->execute;
    auto args = t.getArgs();
    auto out = spec->args.resize(args.size());
    if (args.size() != 0) std::memcpy(out.data(), args.begin(), args.size());
    for (auto r : t.getRefs()) spec->refs.push_back(materialize(r));
    for (auto r : t.getNestedRefs()) spec->nested_refs.push_back(materialize(r));
    spec->ref_mask = t.getRefMask();
    spec->wait_mask = t.getWaitMask();
    spec->owned_options = std::make_unique<TaskOptions>(from_wire(t.getOptions()));
    spec->options = spec->owned_options.get();
    spec->attempt = t.getAttempt();
    spec->result = std::move(result);
    if (const std::uint64_t actor_id = t.getActor(); actor_id != 0) {
      std::shared_ptr<ActorRecord> actor;
      {
        std::lock_guard lock(node_.actors_mutex_);
        if (auto it = node_.actors_by_id_.find(actor_id); it != node_.actors_by_id_.end()) {
          actor = it->second.lock();
        }
      }
      if (!actor || actor->is_proxy()) {
        spec->result->seal_error(std::make_exception_ptr(
            ActorDiedError(fmt::format("actor {:#x} does not live on node {:x}; {} was not run",
                                       actor_id, node_.node_id(), spec->name))));
        continue;
      }
      spec->actor = actor;
      actor->enqueue(std::move(spec));
    } else {
      node_.scheduler_.submit(std::move(spec));
    }
  }
}

void Cluster::watch_result(ObjectHandle result, NodeId owner) {
  struct Watch : ObjectWaiter {
    Cluster* cluster;
    ObjectHandle result;
    NodeId owner;
  };
  auto* w = new Watch;
  w->cluster = this;
  w->result = result;
  w->owner = owner;
  w->notify = [](ObjectWaiter* self) noexcept {
    auto* watch = static_cast<Watch*>(self);
    watch->cluster->send_result(watch->owner, std::move(watch->result));
    delete watch;
  };
  if (!result->add_waiter(w)) w->notify(w);
}

void Cluster::send_result(NodeId owner, ObjectHandle result) {
  // Results sealed on executor threads gather here; one reactor job sends
  // everything gathered by the time it runs, one message per owner.
  {
    std::lock_guard lock(mutex_);
    results_out_[owner].push_back(std::move(result));
    if (std::exchange(results_flush_scheduled_, true)) return;
  }
  node_.reactor().post([this] {
    KjAsioEventPort::CompletionScope scope;
    flush_results();
  });
}

void Cluster::flush_results() {
  std::map<NodeId, std::vector<ObjectHandle>> out;
  {
    std::lock_guard lock(mutex_);
    out.swap(results_out_);
    results_flush_scheduled_ = false;
  }
  for (auto& [owner_id, items] : out) {
    with_peer(owner_id, [this, items = std::move(items)](wire::Peer::Client& peer) {
      auto req = peer.pushResultsRequest();
      auto list = req.initResults(static_cast<unsigned>(items.size()));
      for (unsigned i = 0; i < items.size(); ++i) {
        const ObjectHandle& r = items[i];
        auto b = list[i];
        to_wire(b.initId(), r->id());
        if (r->error()) {
          to_wire(b.initFailure(), r->error());
        } else if (r->payload().size() <= inline_limit) {
          auto p = r->payload();
          b.setValue(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(p.data()), p.size()));
        } else {
          held_for_owner_[r->id()] = r;
          r->mark_exported();
          b.setStoredAt(node_.node_id());
        }
        b.setSize(r->payload().size());
      }
      tasks_->add(req.send().ignoreResult());
    });
  }
}

// --- the owning side --------------------------------------------------------------

void Cluster::receive_results(capnp::List<wire::TaskResult>::Reader results) {
  for (auto r : results) {
    const ObjectId id = from_wire(r.getId());
    RemoteTask task;
    {
      std::lock_guard lock(mutex_);
      auto it = remote_tasks_.find(id);
      if (it == remote_tasks_.end()) continue;  // a late duplicate after a retry
      task = std::move(it->second);
      remote_tasks_.erase(it);
      if (auto s = sent_.find(task.target); s != sent_.end() && s->second > 0) --s->second;
    }
    ObjectHandle& result = task.spec->result;
    switch (r.which()) {
      case wire::TaskResult::VALUE: {
        auto data = r.getValue();
        try {
          PayloadBuffer buf = node_.store().allocate(data.size(), id);
          std::memcpy(buf.bytes().data(), data.begin(), data.size());
          result->seal(std::move(buf));
        } catch (...) {
          result->seal_error(std::current_exception());
        }
        break;
      }
      case wire::TaskResult::FAILURE:
        result->seal_error(from_wire(r.getFailure()));
        break;
      case wire::TaskResult::STORED_AT:
        pull(r.getStoredAt(), id, result, true);
        break;
    }
  }
}

void Cluster::pull(NodeId from, ObjectId id, ObjectHandle into, bool free_source) {
  auto p = std::make_shared<Pull>();
  p->into = std::move(into);
  p->from = from;
  p->id = id;
  p->free_source = free_source;
  with_peer(from, [this, p](wire::Peer::Client& peer) { pull_chunk(p, peer, 0, chunk_size); });
}

void Cluster::pull_chunk(std::shared_ptr<Pull> p, wire::Peer::Client peer, std::uint64_t offset,
                         std::uint64_t length) {
  ++p->in_flight;
  auto req = peer.pullObjectRequest();
  to_wire(req.initId(), p->id);
  req.setOffset(offset);
  req.setLength(length);
  tasks_->add(
      req.send()
          .then([this, p, peer, offset](capnp::Response<wire::Peer::PullObjectResults> r) mutable {
            --p->in_flight;
            if (p->failed) return;
            auto data = r.getData();
            if (!p->buffer) {
              p->size = r.getTotalSize();
              p->next = std::min(chunk_size, p->size);
              p->buffer = node_.store().allocate(p->size, p->id);
            }
            if (offset + data.size() > p->size) {
              throw KJ_EXCEPTION(FAILED, "pulled chunk past the object's end");
            }
            std::memcpy(p->buffer.bytes().data() + offset, data.begin(), data.size());
            p->done += data.size();
            if (p->done == p->size) {
              p->into->seal(std::move(p->buffer));
              if (p->free_source) {
                with_peer(p->from, [id = p->id](wire::Peer::Client& source) {
                  auto f = source.freeObjectsRequest();
                  to_wire(f.initIds(1)[0], id);
                  f.send().detach([](kj::Exception&&) {});
                });
              }
              return;
            }
            while (p->in_flight < chunks_in_flight && p->next < p->size) {
              const std::uint64_t len = std::min(chunk_size, p->size - p->next);
              pull_chunk(p, peer, p->next, len);
              p->next += len;
            }
          })
          .catch_([p](kj::Exception&& e) {
            if (std::exchange(p->failed, true)) return;
            p->into->seal_error(std::make_exception_ptr(TransportError(e)));
          }));
}

// --- actors -------------------------------------------------------------------

NodeId Cluster::place_actor(const ActorOptions& options) {
  TaskSpec probe;
  TaskOptions o;
  o.resources = options.resources;
  o.strategy = options.strategy;
  o.placement = options.placement;
  probe.options = &o;
  return pick_target(probe);
}

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
                                                                std::vector<std::byte> args) {
  const std::uint64_t actor_id = node_.next_actor_id();
  co_await run_on_kj(node_.reactor(), [&] {
    return peer_of(target).then([&](wire::Peer::Client peer) {
      auto req = peer.createActorRequest();
      auto spec = req.initSpec();
      spec.setActorId(actor_id);
      spec.setClassName(class_name);
      spec.setConstructorId(constructor_id);
      spec.setArgs(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(args.data()), args.size()));
      spec.setName(options.name.str());
      auto amounts = amounts_of(options.resources);
      to_wire(spec.initResources(static_cast<unsigned>(amounts.size())), amounts);
      spec.setMaxConcurrency(options.max_concurrency);
      spec.setDedicatedThread(options.dedicated_thread);
      spec.setMaxRestarts(options.max_restarts);
      spec.setOwner(node_.node_id());
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
    KJ_IF_MAYBE (head, links_[0]->head) {
      auto req = head->registerActorRequest();
      to_wire(req.initEntry(), e);
      return req.send().then(
          [&](capnp::Response<wire::Head::RegisterActorResults> r) { refused = r.getError(); });
    }
    return KJ_EXCEPTION(DISCONNECTED, "not connected to the head");
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
    KJ_IF_MAYBE (head, links_[0]->head) {
      auto req = head->lookupActorRequest();
      req.setName(name);
      return req.send().then([found](capnp::Response<wire::Head::LookupActorResults> r) {
        return r.getFound() ? found(from_wire(r.getEntry())) : ActorLocation{};
      });
    }
    return KJ_EXCEPTION(DISCONNECTED, "not connected to the head");
  });
  if (where.actor_id == 0) co_return std::nullopt;
  co_return where;
}

void Cluster::forget_name(std::uint64_t actor_id) {
  node_.reactor().post([this, actor_id] {
    KjAsioEventPort::CompletionScope scope;
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
  node_.reactor().post([this, home, actor_id] {
    KjAsioEventPort::CompletionScope scope;
    with_peer(home, [actor_id](wire::Peer::Client& peer) {
      auto req = peer.killActorRequest();
      req.setActorId(actor_id);
      req.send().detach([](kj::Exception&&) {});
    });
  });
}

// --- placement groups ----------------------------------------------------------

namespace {
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
}  // namespace

Task<PlacementGroup> Cluster::create_placement_group(PlacementStrategy strategy,
                                                     std::vector<Resources> bundles) {
  // A refusal comes back as text (group id 0), so it can be thrown as the
  // InfeasibleError it is rather than as a transport failure.
  std::string refused;
  PlacementGroup group = co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<PlacementGroup> {
    if (is_head_) {
      try {
        return store_->create_placement_group(strategy, bundles);
      } catch (const std::exception& e) {
        refused = e.what();
        return PlacementGroup{};
      }
    }
    KJ_IF_MAYBE (head, links_[0]->head) {
      auto req = head->createPlacementGroupRequest();
      req.setStrategy(to_wire(strategy));
      auto list = req.initBundles(static_cast<unsigned>(bundles.size()));
      for (unsigned i = 0; i < bundles.size(); ++i) {
        auto amounts = amounts_of(bundles[i]);
        detail::to_wire(list[i].initResources(static_cast<unsigned>(amounts.size())), amounts);
      }
      return req.send().then(
          [&, strategy, bundles](capnp::Response<wire::Head::CreatePlacementGroupResults> r) {
            refused = r.getError();
            PlacementGroup g{r.getGroupId(), strategy, bundles, {}};
            for (auto n : r.getNodes()) g.bundle_nodes.push_back(n);
            return g;
          });
    }
    return KJ_EXCEPTION(DISCONNECTED, "not connected to the head");
  });
  if (!refused.empty()) throw InfeasibleError(refused);
  co_return group;
}

Task<void> Cluster::remove_placement_group(std::uint64_t group_id) {
  co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<void> {
    if (is_head_) {
      store_->remove_placement_group(group_id);
      return kj::READY_NOW;
    }
    KJ_IF_MAYBE (head, links_[0]->head) {
      auto req = head->removePlacementGroupRequest();
      req.setGroupId(group_id);
      return req.send().ignoreResult();
    }
    return KJ_EXCEPTION(DISCONNECTED, "not connected to the head");
  });
}

// --- weft::run and tools ------------------------------------------------------------

ClusterView Cluster::view() const {
  std::lock_guard lock(mutex_);
  return view_;
}

bool Cluster::wait_for_nodes(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    std::size_t alive = 0;
    for (const auto& v : view_.nodes) alive += v.alive ? 1 : 0;
    return alive >= n;
  });
}

kj::Promise<void> Cluster::stop_peers() {
  kj::Vector<kj::Promise<void>> acks;
  for (auto& [id, link] : links_) {
    KJ_IF_MAYBE (peer, link->peer) {
      acks.add(peer->stopRequest().send().ignoreResult().catch_([](kj::Exception&&) {}));
    }
  }
  return kj::joinPromises(acks.releaseAsArray()).then([this] { mark_stopped(); });
}

void Cluster::mark_stopped() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  changed_.notify_all();
}

void Cluster::stop_cluster() {
  auto done = std::make_shared<BlockingEvent>();
  node_.reactor().post([this, done] {
    KjAsioEventPort::CompletionScope scope;
    tasks_->add(stop_peers().then([done] { done->set(); }));
  });
  // Nodes that do not answer are stopped by their parent or by their own heartbeat failure.
  done->wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  mark_stopped();
}

void Cluster::wait_until_stopped() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return stopped_; });
}

}  // namespace weft::detail
