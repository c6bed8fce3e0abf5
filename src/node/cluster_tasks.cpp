// detail::Cluster: routing tasks, running them for other nodes, results.
#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "node/cluster.hpp"
#include "node/seal_watch.hpp"
#include "node/wire.hpp"
#include "weft/object/put_get.hpp"
#include "weft/remote/invoke.hpp"
#include "weft/remote/registry.hpp"

namespace weft::detail {

namespace {
// A reactor turn builds at most this many bytes of frames (one heavier
// item goes alone), then yields: the frames, and the turns, stay bounded
// however many specs or results are queued, far below the 512 MiB a node
// reads in one message.
constexpr std::size_t slice_bytes = 8 << 20;
// What a ref costs a message besides its payload, for estimating sizes.
constexpr std::size_t ref_bytes = 64;
// By-value arguments travel in the spec: beyond this, with its inline
// objects and refs, the receiver could not read it (reader_options: 512
// MiB), so such a task fails here with advice instead.
constexpr std::size_t max_args_bytes = 448 << 20;
// How long after its link failed a task sent on it is taken as lost if its
// node is still alive: past the head's failure timeout (1.5 s) and the view
// that would report the death.
constexpr auto doubt_timeout = std::chrono::milliseconds(2500);

// The bytes `object` adds to a message if it goes inline.
std::size_t inline_bytes(const ObjectHandle& object) {
  return ObjectTransfer::goes_inline(object) ? object->payload().size() : 0;
}

// About what a message naming `refs` adds to a frame: their inline bytes
// are capped per message (ObjectTransfer::message_inline_bytes).
template <typename... Lists>
std::size_t refs_weight(const Lists&... lists) {
  std::size_t count = 0, bytes = 0;
  auto add = [&](const std::vector<ObjectHandle>& refs) {
    count += refs.size();
    for (const auto& r : refs) bytes += inline_bytes(r);
  };
  (add(lists), ...);
  return count * ref_bytes + std::min(bytes, ObjectTransfer::message_inline_bytes);
}

std::size_t spec_weight(const TaskSpec& spec) {
  return 256 + spec.args.bytes().size() + refs_weight(spec.refs, spec.nested_refs);
}

std::size_t result_weight(const ObjectHandle& result) {
  return 128 + inline_bytes(result) + refs_weight(result->nested());
}
}  // namespace

// --- routing ---------------------------------------------------------------------

void Cluster::submit(TaskSpecPtr spec) {
  if (spec->wait_mask == 0) {
    route(std::move(spec));
    return;
  }
  // Placement reads where the arguments are, so it waits for them.
  struct Waiting {
    Cluster* cluster;
    TaskSpecPtr spec;
  };
  auto* waiting = new Waiting{this, std::move(spec)};
  auto ready = [](void* arg) noexcept {
    std::unique_ptr<Waiting> w(static_cast<Waiting*>(arg));
    w->cluster->route(std::move(w->spec));
  };
  if (when_refs_sealed(*waiting->spec, ready, waiting)) ready(waiting);
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
  if (const std::size_t bytes = spec->args.bytes().size(); bytes > max_args_bytes) {
    spec->result->seal_error(std::make_exception_ptr(Error(fmt::format(
        "{} was not sent to node {:x}: its arguments by value take {} bytes, more than the {} a "
        "task message may carry; put() large values and pass their refs instead",
        spec->name, target, bytes, max_args_bytes))));
    return;
  }
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
    outbox_.push_back({target, raw, raw->result->id(), raw->attempt});
    ++sent_[target];
    schedule = !std::exchange(flush_scheduled_, true);
  }
  if (schedule) on_reactor([this] { flush(); });
}

void Cluster::flush() {
  {
    std::lock_guard lock(mutex_);
    tasks_sending_.insert(tasks_sending_.end(), outbox_.begin(), outbox_.end());
    outbox_.clear();
    flush_scheduled_ = false;
  }
  if (!task_slice_scheduled_) send_task_slice();
}

void Cluster::send_task_slice() {
  task_slice_scheduled_ = false;
  std::map<NodeId, std::vector<TaskSpec*>> frames;  // each target's specs in order
  {
    std::lock_guard lock(mutex_);
    std::size_t bytes = 0;
    while (!tasks_sending_.empty()) {
      const Outgoing o = tasks_sending_.front();
      // Only the send that routed it as it is now: a spec failed or routed
      // again since (by a node's death) is gone or has a new attempt.
      auto it = remote_tasks_.find(o.result);
      if (it != remote_tasks_.end() && it->second.target == o.target &&
          it->second.spec.get() == o.spec && o.spec->attempt == o.attempt) {
        const std::size_t w = spec_weight(*o.spec);
        if (bytes > 0 && bytes + w > slice_bytes) break;
        bytes += w;
        frames[o.target].push_back(o.spec);
      }
      tasks_sending_.pop_front();
    }
  }
  for (auto& [target, specs] : frames) send_tasks(target, std::move(specs));
  if (!tasks_sending_.empty()) {
    task_slice_scheduled_ = true;
    tasks_->add(kj::evalLater([this] { send_task_slice(); }));
  }
}

void Cluster::fill_spec(wire::TaskSpec::Builder b, TaskSpec& spec) {
  b.setFunctionId(spec.function_id);
  b.setName(std::string(spec.name));
  auto args = spec.args.bytes();
  b.setArgs(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(args.data()), args.size()));
  std::size_t inline_left = ObjectTransfer::message_inline_bytes;
  auto refs = b.initRefs(static_cast<unsigned>(spec.refs.size()));
  for (unsigned i = 0; i < spec.refs.size(); ++i)
    transfer_.fill_ref(refs[i], spec.refs[i], inline_left);
  b.setRefMask(spec.ref_mask);
  b.setWaitMask(spec.wait_mask);
  auto nested = b.initNestedRefs(static_cast<unsigned>(spec.nested_refs.size()));
  for (unsigned i = 0; i < spec.nested_refs.size(); ++i)
    transfer_.fill_ref(nested[i], spec.nested_refs[i], inline_left);
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
  peers_.send_frame(target, kj::mv(frame));
}

void Cluster::retry_or_fail(TaskSpecPtr spec, NodeId node, bool died) {
  if (spec->actor) {
    if (died) {
      spec->result->seal_error(std::make_exception_ptr(
          ActorDiedError(fmt::format("{} died with its node {:x}; {} was not completed",
                                     spec->actor->description(), node, spec->name))));
    } else {
      spec->result->seal_error(std::make_exception_ptr(TransportError(
          TransportError::Kind::disconnected,
          fmt::format("the connection to node {:x}, where {} lives, failed while {} was sent "
                      "there; it may or may not have run",
                      node, spec->actor->description(), spec->name))));
    }
  } else if (spec->attempt < static_cast<std::uint32_t>(spec->opts().max_retries)) {
    ++spec->attempt;
    route(std::move(spec));
  } else {
    spec->result->seal_error(std::make_exception_ptr(Error(fmt::format(
        "task {} failed: {} {:x} {} and it has no retries left", spec->name,
        died ? "its node" : "the connection to its node", node, died ? "died" : "failed"))));
  }
}

void Cluster::doubt_tasks_on(NodeId node) {
  const auto deadline = ControlStore::Clock::now() + doubt_timeout;
  std::lock_guard lock(mutex_);
  for (const auto& [id, task] : remote_tasks_) {
    if (task.target == node) in_doubt_.push_back({node, id, task.spec->attempt, deadline});
  }
}

void Cluster::recheck_in_doubt() {
  if (in_doubt_.empty()) return;
  const auto now = ControlStore::Clock::now();
  std::vector<std::pair<TaskSpecPtr, NodeId>> lost;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(in_doubt_, [&](const InDoubt& d) {
      if (d.deadline > now) return false;
      // A node that died meanwhile had its tasks handled by node_died.
      auto it = remote_tasks_.find(d.result);
      if (alive_locked(d.node) && it != remote_tasks_.end() && it->second.target == d.node &&
          it->second.spec->attempt == d.attempt) {
        lost.emplace_back(std::move(it->second.spec), d.node);
        remote_tasks_.erase(it);
        if (auto s = sent_.find(d.node); s != sent_.end() && s->second > 0) --s->second;
      }
      return true;
    });
  }
  for (auto& [spec, node] : lost) retry_or_fail(std::move(spec), node, false);
}

// --- the executing side ---------------------------------------------------------

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
    for (auto r : t.getRefs()) spec->refs.push_back(transfer_.materialize(r));
    for (auto r : t.getNestedRefs()) spec->nested_refs.push_back(transfer_.materialize(r));
    std::vector<ObjectHandle> pulling;
    for (const auto* refs : {&spec->refs, &spec->nested_refs}) {
      for (const auto& r : *refs) {
        if (!r->ready()) pulling.push_back(r);
      }
    }
    watch_result(result, std::move(pulling));
    spec->ref_mask = t.getRefMask();
    spec->wait_mask = t.getWaitMask();
    spec->set_options(from_wire(t.getOptions()));
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
  when_sealed(std::move(pulling), while_alive([this, result = std::move(result)]() mutable {
                const NodeId owner = result->id().owner;
                send_result(owner, std::move(result));
              }));
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
  {
    std::lock_guard lock(mutex_);
    for (auto& [owner, items] : results_out_) {
      for (auto& r : items) results_sending_.emplace_back(owner, std::move(r));
    }
    results_out_.clear();
    results_flush_scheduled_ = false;
  }
  if (!result_slice_scheduled_) send_result_slice();
}

void Cluster::send_result_slice() {
  result_slice_scheduled_ = false;
  std::map<NodeId, std::vector<ObjectHandle>> frames;  // each owner's results in order
  {
    std::lock_guard lock(mutex_);
    std::size_t bytes = 0;
    while (!results_sending_.empty()) {
      auto& [owner, result] = results_sending_.front();
      // An owner the view lists as dead will never copy (nor free) what it is sent.
      const bool dead = std::any_of(view_.nodes.begin(), view_.nodes.end(), [&](const NodeView& n) {
        return n.info.id == owner && !n.alive;
      });
      if (!dead) {
        const std::size_t w = result_weight(result);
        if (bytes > 0 && bytes + w > slice_bytes) break;
        bytes += w;
        frames[owner].push_back(std::move(result));
      }
      results_sending_.pop_front();
    }
  }
  for (auto& [owner, items] : frames) send_results(owner, items);
  if (!results_sending_.empty()) {
    result_slice_scheduled_ = true;
    tasks_->add(kj::evalLater([this] { send_result_slice(); }));
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
    std::size_t inline_left = ObjectTransfer::message_inline_bytes;
    if (r->error()) {
      to_wire(b.initFailure(), r->error());
    } else if (ObjectTransfer::goes_inline(r)) {  // small enough to be within the budget
      auto p = r->payload();
      inline_left -= p.size();
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
      if (!transfer_.fill_ref(nested_list[j], nested[j], inline_left)) held = true;
    }
    if (held) {
      transfer_.hold_for_owner(r);
      b.setHolder(node_.node_id());
    }
  }
  peers_.send_frame(owner, kj::mv(frame));
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
    if (!task.spec) {
      // A late duplicate after a retry, or announced again after a broken
      // link: its holder may let it go, unless that copy is being pulled.
      if (const NodeId holder = r.getHolder(); holder != 0 && !transfer_.pulling(holder, id)) {
        transfer_.free_held(holder, id);
      }
      continue;
    }
    ObjectHandle& result = task.spec->result;
    std::vector<ObjectHandle> nested;
    for (auto n : r.getNestedRefs()) nested.push_back(transfer_.materialize(n));
    if (const NodeId holder = r.getHolder(); holder != 0) {
      std::vector<ObjectHandle> copying = nested;
      copying.push_back(result);
      when_sealed(std::move(copying), while_alive([this, holder, id] {
                    on_reactor([this, holder, id] { transfer_.free_held(holder, id); });
                  }));
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
      case wire::TaskResult::STORED_AT: {
        // The task is done once its bytes are here: if their holder dies
        // first, it runs again (or, an actor call, fails).
        const NodeId holder = r.getStoredAt();
        ObjectHandle into = result;
        transfer_.pull(holder, id, std::move(into), std::move(nested),
                       kj::Function<void()>([this, spec = std::move(task.spec), holder]() mutable {
                         retry_or_fail(std::move(spec), holder, true);
                       }));
        break;
      }
    }
  }
}

}  // namespace weft::detail
