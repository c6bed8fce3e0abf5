// detail::TaskRouter: routing tasks, sending them, and what a link's or a
// node's loss does to the tasks sent there. The executing and owning sides
// are in task_results.cpp, placement in task_placement.cpp.
#include "node/task_router.hpp"

#include <utility>

#include <fmt/format.h>

#include "node/frame_weights.hpp"
#include "node/wire.hpp"
#include "weft/object/seal_group.hpp"

namespace weft::detail {

namespace {
// By-value arguments travel in the spec: beyond this, with its inline
// objects and refs, the receiver could not read it (reader_options: 512
// MiB), so such a task fails here with advice instead.
constexpr std::size_t max_args_bytes = 448 << 20;
// How long after its link failed a task sent on it is taken as lost if its
// node is still alive: past the head's failure timeout (1.5 s) and the view
// that would report the death.
constexpr auto doubt_timeout = std::chrono::milliseconds(2500);
}  // namespace

TaskRouter::TaskRouter(Node& node, Membership& membership, ObjectTransfer& transfer,
                       PeerLinks& peers, const Lifeline& lifeline)
    : node_(node),
      membership_(membership),
      transfer_(transfer),
      peers_(peers),
      lifeline_(lifeline) {}

void TaskRouter::open(kj::TaskSet::ErrorHandler& errors) { tasks_ = kj::heap<kj::TaskSet>(errors); }

void TaskRouter::close() {
  tasks_sending_.clear();
  results_sending_.clear();
  in_doubt_.clear();
  {
    std::lock_guard lock(mutex_);
    results_out_.clear();
  }
  tasks_ = nullptr;
}

void TaskRouter::submit(TaskSpecPtr spec) {
  if (spec->wait_mask == 0) {
    route(std::move(spec));
    return;
  }
  // Placement reads where the arguments are, so it waits for them.
  struct Waiting {
    TaskRouter* router;
    TaskSpecPtr spec;
  };
  auto* waiting = new Waiting{this, std::move(spec)};
  auto ready = [](void* arg) noexcept {
    std::unique_ptr<Waiting> w(static_cast<Waiting*>(arg));
    w->router->route(std::move(w->spec));
  };
  if (when_refs_sealed(*waiting->spec, ready, waiting)) ready(waiting);
}

void TaskRouter::route(TaskSpecPtr spec) {
  NodeId target = 0;
  try {
    target = pick_target(*spec);
  } catch (const InfeasibleError&) {
    spec->result->seal_error(std::current_exception());
    return;
  }
  if (target == node_.node_id()) {
    node_.scheduler().submit(std::move(spec));
    return;
  }
  send(target, std::move(spec));
}

void TaskRouter::fail_unreachable(TaskSpecPtr spec, NodeId target) {
  if (spec->actor) {
    spec->result->seal_error(std::make_exception_ptr(
        ActorDiedError(fmt::format("{} lived on node {:x}, which is not alive; {} was not run",
                                   spec->actor->description(), target, spec->name))));
  } else {
    spec->result->seal_error(std::make_exception_ptr(Error(
        fmt::format("task {} is pinned to node {:x}, which is not alive", spec->name, target))));
  }
}

void TaskRouter::send(NodeId target, TaskSpecPtr spec) {
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
    if (!membership_.alive(target)) {
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

void TaskRouter::flush() {
  {
    std::lock_guard lock(mutex_);
    tasks_sending_.insert(tasks_sending_.end(), outbox_.begin(), outbox_.end());
    outbox_.clear();
    flush_scheduled_ = false;
  }
  if (!task_slice_scheduled_) send_task_slice();
}

void TaskRouter::send_task_slice() {
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
        const std::size_t w = frame_weights::spec_weight(*o.spec);
        if (bytes > 0 && bytes + w > frame_weights::slice_bytes) break;
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

void TaskRouter::fill_spec(wire::TaskSpec::Builder b, TaskSpec& spec) {
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
  if (!spec.returns.empty()) {
    auto returns = b.initReturns(static_cast<unsigned>(spec.returns.size()));
    for (unsigned i = 0; i < spec.returns.size(); ++i) to_wire(returns[i], spec.returns[i]->id());
  }
  if (spec.options != &default_task_options)
    to_wire(b.initOptions(), spec.opts());
  else
    to_wire(b.initOptions(), default_task_options);
  b.setAttempt(spec.attempt);
  b.setActor(spec.actor ? spec.actor->id() : 0);
  b.setCaller(spec.caller);
}

void TaskRouter::send_tasks(NodeId target, std::vector<TaskSpec*> specs) {
  auto frame = kj::heap<capnp::MallocMessageBuilder>();
  auto list = frame->initRoot<wire::StreamFrame>().initTasks(static_cast<unsigned>(specs.size()));
  for (unsigned i = 0; i < specs.size(); ++i) fill_spec(list[i], *specs[i]);
  peers_.send_frame(target, kj::mv(frame));
}

void TaskRouter::retry_or_fail(TaskSpecPtr spec, NodeId node, bool died) {
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

void TaskRouter::link_broke(NodeId node) {
  const auto deadline = ControlStore::Clock::now() + doubt_timeout;
  std::lock_guard lock(mutex_);
  for (const auto& [id, task] : remote_tasks_) {
    if (task.target == node) in_doubt_.push_back({node, id, task.spec->attempt, deadline});
  }
}

void TaskRouter::recheck_in_doubt() {
  if (in_doubt_.empty()) return;
  const auto now = ControlStore::Clock::now();
  std::vector<std::pair<TaskSpecPtr, NodeId>> lost;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(in_doubt_, [&](const InDoubt& d) {
      if (d.deadline > now) return false;
      // A node that died meanwhile had its tasks handled by node_died.
      auto it = remote_tasks_.find(d.result);
      if (membership_.alive(d.node) && it != remote_tasks_.end() && it->second.target == d.node &&
          it->second.spec->attempt == d.attempt) {
        lost.emplace_back(std::move(it->second.spec), d.node);
        remote_tasks_.erase(it);
        forget_sent_locked(d.node);
      }
      return true;
    });
  }
  for (auto& [spec, node] : lost) retry_or_fail(std::move(spec), node, false);
}

void TaskRouter::forget_sent_locked(NodeId target) {
  if (auto s = sent_.find(target); s != sent_.end() && s->second > 0) --s->second;
}

void TaskRouter::node_died(NodeId node) {
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
  for (auto& spec : again) retry_or_fail(std::move(spec), node, true);
}

std::vector<TaskSpecPtr> TaskRouter::take_sent() {
  std::vector<TaskSpecPtr> taken;
  std::lock_guard lock(mutex_);
  for (auto& [id, task] : remote_tasks_) taken.push_back(std::move(task.spec));
  remote_tasks_.clear();
  outbox_.clear();  // its specs were owned by remote_tasks_
  sent_.clear();
  return taken;
}

}  // namespace weft::detail
