// detail::Cluster: routing tasks, running them for other nodes, results, pulls.
#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "node/cluster.hpp"
#include "node/wire.hpp"
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

// Frames stay far below a node's 512 MiB read limit however large a batch
// grows: a batch goes out in runs of at most this many inline bytes.
constexpr std::size_t frame_budget = 32 << 20;

// Whether `object` travels inside the message that names it (small and
// sealed with a value) rather than being pulled.
bool goes_inline(const ObjectHandle& object) {
  return object->ready() && !object->error() && object->payload().size() <= inline_limit;
}

// The bytes `object` adds to a frame.
std::size_t inline_bytes(const ObjectHandle& object) {
  return goes_inline(object) ? object->payload().size() : 0;
}

// Calls `send(begin, end)` for consecutive runs of `items` whose weights
// add up to at most frame_budget (a heavier single item goes alone).
template <typename T, typename Weight, typename Send>
void in_frames(const std::vector<T>& items, Weight weight, Send send) {
  std::size_t begin = 0, bytes = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::size_t w = weight(items[i]);
    if (i > begin && bytes + w > frame_budget) {
      send(begin, i);
      begin = i;
      bytes = 0;
    }
    bytes += w;
  }
  if (begin < items.size()) send(begin, items.size());
}

// Calls `done()` once every object in `objects` is sealed: at once if they
// are, else on the thread that seals the last.
template <typename F>
class SealWatch final : ObjectWaiter {
 public:
  static void start(std::vector<ObjectHandle> objects, F done) {
    (new SealWatch(std::move(objects), std::move(done)))->step();
  }

 private:
  SealWatch(std::vector<ObjectHandle> objects, F done)
      : objects_(std::move(objects)), done_(std::move(done)) {
    notify = [](ObjectWaiter* w) noexcept {
      auto* self = static_cast<SealWatch*>(w);
      ++self->next_;
      self->step();
    };
  }
  void step() noexcept {
    for (; next_ < objects_.size(); ++next_) {
      if (objects_[next_]->add_waiter(this)) return;
    }
    F done = std::move(done_);
    delete this;
    done();
  }

  std::vector<ObjectHandle> objects_;
  std::size_t next_ = 0;
  F done_;
};

template <typename F>
void when_sealed(std::vector<ObjectHandle> objects, F done) {
  SealWatch<F>::start(std::move(objects), std::move(done));
}

// Seals a copied object once every object its value names is here too, so
// that whoever reads it can read those as well.
void seal_once_named_arrive(ObjectHandle object, PayloadBuffer payload,
                            std::vector<ObjectHandle> named) {
  std::vector<ObjectHandle> waiting = named;
  when_sealed(std::move(waiting), [object = std::move(object), payload = std::move(payload),
                                   named = std::move(named)]() mutable {
    object->seal(std::move(payload), std::move(named));
  });
}
}  // namespace

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

void Cluster::route(TaskSpecPtr spec) {
  NodeId target = 0;
  try {
    target = pick_target(*spec);
  } catch (const InfeasibleError&) {
    spec->result->seal_error(std::current_exception());
    return;
  }
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
  if (schedule) on_reactor([this] { flush(); });
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
  auto weight = [](const TaskSpec* spec) {
    std::size_t bytes = 256 + spec->args.bytes().size();
    for (const auto& r : spec->refs) bytes += inline_bytes(r);
    for (const auto& r : spec->nested_refs) bytes += inline_bytes(r);
    return bytes;
  };
  for (auto& [target, specs] : by_target) {
    in_frames(specs, weight, [&, node = target](std::size_t begin, std::size_t end) {
      send_tasks(node, {specs.begin() + static_cast<std::ptrdiff_t>(begin),
                        specs.begin() + static_cast<std::ptrdiff_t>(end)});
    });
  }
}

bool Cluster::fill_ref(wire::RefArg::Builder b, const ObjectHandle& ref) {
  to_wire(b.initId(), ref->id());
  if (goes_inline(ref)) {
    auto p = ref->payload();
    b.setInline(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(p.data()), p.size()));
    const auto& nested = ref->nested();
    auto list = b.initNestedRefs(static_cast<unsigned>(nested.size()));
    bool all_inline = true;
    for (unsigned i = 0; i < nested.size(); ++i) {
      if (!fill_ref(list[i], nested[i])) all_inline = false;
    }
    return all_inline;
  }
  // Pulled from here: findable by id while whatever names it here lives.
  ref->mark_exported();
  b.initLocations(1).set(0, node_.node_id());
  return false;
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
  auto frame = kj::heap<capnp::MallocMessageBuilder>();
  auto list = frame->initRoot<wire::StreamFrame>().initTasks(static_cast<unsigned>(specs.size()));
  for (unsigned i = 0; i < specs.size(); ++i) fill_spec(list[i], *specs[i]);
  send_frame(target, kj::mv(frame));
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
      std::vector<ObjectHandle> named;
      for (auto n : ref.getNestedRefs()) named.push_back(materialize(n));
      seal_once_named_arrive(handle, std::move(buf), std::move(named));
    } catch (...) {
      handle->seal_error(std::current_exception());
    }
  } else if (ref.getLocations().size() > 0) {
    pull(ref.getLocations()[0], id, handle);
  } else {
    handle->seal_error(std::make_exception_ptr(
        Error(fmt::format("object {} has no known location", id.to_string()))));
  }
  return handle;
}

void Cluster::receive_tasks(capnp::List<wire::TaskSpec>::Reader tasks) {
  for (auto t : tasks) {
    auto spec = std::make_unique<TaskSpec>();
    spec->function_id = t.getFunctionId();
    const RegistryEntry* entry = find_registered(spec->function_id);
    const ObjectId result_id = from_wire(t.getResult());
    auto result = ObjectHandle::adopt(new ObjectState(node_.store(), result_id));
    if (entry == nullptr || entry->execute == nullptr) {
      watch_result(result, {});
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
    std::vector<ObjectHandle> pulling;
    for (const auto* refs : {&spec->refs, &spec->nested_refs}) {
      for (const auto& r : *refs) {
        if (!r->ready()) pulling.push_back(r);
      }
    }
    watch_result(result, std::move(pulling));
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

void Cluster::watch_result(ObjectHandle result, std::vector<ObjectHandle> pulling) {
  pulling.push_back(result);
  when_sealed(std::move(pulling), [this, result = std::move(result)]() mutable {
    const NodeId owner = result->id().owner;
    send_result(owner, std::move(result));
  });
}

void Cluster::send_result(NodeId owner, ObjectHandle result) {
  // Results sealed on executor threads gather here; one reactor job sends
  // everything gathered by the time it runs, one message per owner.
  {
    std::lock_guard lock(mutex_);
    results_out_[owner].push_back(std::move(result));
    if (std::exchange(results_flush_scheduled_, true)) return;
  }
  on_reactor([this] { flush_results(); });
}

void Cluster::flush_results() {
  std::map<NodeId, std::vector<ObjectHandle>> out;
  {
    std::lock_guard lock(mutex_);
    out.swap(results_out_);
    results_flush_scheduled_ = false;
    // An owner the view lists as dead will never copy (nor free) what it is sent.
    std::erase_if(out, [this](const auto& entry) {
      return std::any_of(view_.nodes.begin(), view_.nodes.end(),
                         [&](const NodeView& n) { return n.info.id == entry.first && !n.alive; });
    });
  }
  auto weight = [](const ObjectHandle& result) {
    std::size_t bytes = 128 + inline_bytes(result);
    for (const auto& n : result->nested()) bytes += inline_bytes(n);
    return bytes;
  };
  for (auto& [owner_id, items] : out) {
    in_frames(items, weight, [&, owner = owner_id](std::size_t begin, std::size_t end) {
      send_results(owner, std::span<const ObjectHandle>(items).subspan(begin, end - begin));
    });
  }
}

void Cluster::send_results(NodeId owner, std::span<const ObjectHandle> items) {
  auto frame = kj::heap<capnp::MallocMessageBuilder>();
  auto list = frame->initRoot<wire::StreamFrame>().initResults(static_cast<unsigned>(items.size()));
  for (unsigned i = 0; i < items.size(); ++i) {
    const ObjectHandle& r = items[i];
    auto b = list[i];
    to_wire(b.initId(), r->id());
    bool held = false;
    if (r->error()) {
      to_wire(b.initFailure(), r->error());
    } else if (goes_inline(r)) {
      auto p = r->payload();
      b.setValue(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(p.data()), p.size()));
    } else {
      r->mark_exported();
      b.setStoredAt(node_.node_id());
      held = true;
    }
    b.setSize(r->payload().size());
    const auto& nested = r->nested();
    auto nested_list = b.initNestedRefs(static_cast<unsigned>(nested.size()));
    for (unsigned j = 0; j < nested.size(); ++j) {
      if (!fill_ref(nested_list[j], nested[j])) held = true;
    }
    if (held) {
      held_for_owner_[r->id()] = r;
      b.setHolder(node_.node_id());
    }
  }
  send_frame(owner, kj::mv(frame));
}

// --- the owning side --------------------------------------------------------------

void Cluster::receive_results(capnp::List<wire::TaskResult>::Reader results) {
  for (auto r : results) {
    const ObjectId id = from_wire(r.getId());
    RemoteTask task;
    {
      std::lock_guard lock(mutex_);
      if (auto it = remote_tasks_.find(id); it != remote_tasks_.end()) {
        task = std::move(it->second);
        remote_tasks_.erase(it);
        if (auto s = sent_.find(task.target); s != sent_.end() && s->second > 0) --s->second;
      }
    }
    if (!task.spec) {  // a late duplicate after a retry: let its holder go
      if (const NodeId holder = r.getHolder(); holder != 0) free_held(holder, id);
      continue;
    }
    ObjectHandle& result = task.spec->result;
    std::vector<ObjectHandle> nested;
    for (auto n : r.getNestedRefs()) nested.push_back(materialize(n));
    if (const NodeId holder = r.getHolder(); holder != 0) {
      std::vector<ObjectHandle> copying = nested;
      copying.push_back(result);
      when_sealed(std::move(copying), [this, holder, id] {
        on_reactor([this, holder, id] { free_held(holder, id); });
      });
    }
    switch (r.which()) {
      case wire::TaskResult::VALUE: {
        auto data = r.getValue();
        try {
          PayloadBuffer buf = node_.store().allocate(data.size(), id);
          std::memcpy(buf.bytes().data(), data.begin(), data.size());
          result->seal(std::move(buf), std::move(nested));
        } catch (...) {
          result->seal_error(std::current_exception());
        }
        break;
      }
      case wire::TaskResult::FAILURE:
        result->seal_error(from_wire(r.getFailure()));
        break;
      case wire::TaskResult::STORED_AT:
        pull(r.getStoredAt(), id, result, std::move(nested));
        break;
    }
  }
}

Cluster::Pull::~Pull() {
  if (settled || !into) return;
  into->seal_error(std::make_exception_ptr(
      TransportError(TransportError::Kind::disconnected,
                     fmt::format("the connection to node {:x} failed before object {} was copied",
                                 from, id.to_string()))));
}

void Cluster::free_held(NodeId holder, ObjectId id) {
  with_peer(holder, [id](wire::Peer::Client& peer) {
    auto req = peer.freeObjectsRequest();
    to_wire(req.initIds(1)[0], id);
    req.send().detach([](kj::Exception&&) {});  // a holder that died has freed it anyway
  });
}

void Cluster::pull(NodeId from, ObjectId id, ObjectHandle into, std::vector<ObjectHandle> nested) {
  auto p = std::make_shared<Pull>();
  p->into = std::move(into);
  p->from = from;
  p->id = id;
  p->nested = std::move(nested);
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
            if (p->settled) return;
            auto data = r.getData();
            if (!p->buffer) {
              p->size = r.getTotalSize();
              p->next = std::min(chunk_size, p->size);
              p->buffer = node_.store().allocate(p->size, p->id);
              if (p->nested.empty()) {  // a result's come with it; others with the first chunk
                for (auto n : r.getNestedRefs()) p->nested.push_back(materialize(n));
              }
            }
            if (offset + data.size() > p->size) {
              throw KJ_EXCEPTION(FAILED, "pulled chunk past the object's end");
            }
            std::memcpy(p->buffer.bytes().data() + offset, data.begin(), data.size());
            p->done += data.size();
            if (p->done == p->size) {
              p->settled = true;
              seal_once_named_arrive(p->into, std::move(p->buffer), std::move(p->nested));
              return;
            }
            while (p->in_flight < chunks_in_flight && p->next < p->size) {
              const std::uint64_t len = std::min(chunk_size, p->size - p->next);
              pull_chunk(p, peer, p->next, len);
              p->next += len;
            }
          })
          .catch_([p](kj::Exception&& e) {
            if (std::exchange(p->settled, true)) return;
            p->into->seal_error(std::make_exception_ptr(TransportError(e)));
          }));
}

}  // namespace weft::detail
