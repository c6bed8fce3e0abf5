// detail::TaskRouter: the executing side (running what other nodes send,
// sending the results back) and the owning side (receiving results).
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "node/frame_weights.hpp"
#include "node/task_router.hpp"
#include "node/wire.hpp"
#include "weft/object/seal_group.hpp"
#include "weft/remote/registry.hpp"

namespace weft::detail {

// --- the executing side ---------------------------------------------------------

void TaskRouter::receive_tasks(capnp::List<wire::TaskSpec>::Reader tasks) {
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
    spec->caller = t.getCaller();
    spec->result = std::move(result);
    for (auto id : t.getReturns()) {
      spec->returns.push_back(ObjectHandle::adopt(new ObjectState(node_.store(), from_wire(id))));
    }
    if (const std::uint64_t actor_id = t.getActor(); actor_id != 0) {
      std::shared_ptr<ActorRecord> actor = node_.actor(actor_id);
      if (!actor || actor->is_proxy()) {
        spec->result->seal_error(std::make_exception_ptr(
            ActorDiedError(fmt::format("actor {:#x} does not live on node {:x}; {} was not run",
                                       actor_id, node_.node_id(), spec->name))));
        continue;
      }
      spec->actor = actor;
      actor->enqueue(std::move(spec));
    } else {
      node_.scheduler().submit(std::move(spec));
    }
  }
}

void TaskRouter::watch_result(ObjectHandle result, std::vector<ObjectHandle> pulling) {
  pulling.push_back(result);
  when_sealed(std::move(pulling), lifeline_.guard([this, result = std::move(result)]() mutable {
    const NodeId owner = result->id().owner;
    send_result(owner, std::move(result));
  }));
}

void TaskRouter::send_result(NodeId owner, ObjectHandle result) {
  // Results sealed on executor threads gather here; one reactor job sends
  // everything gathered by the time it runs, one message per owner.
  {
    std::lock_guard lock(mutex_);
    results_out_[owner].push_back(std::move(result));
    if (std::exchange(results_flush_scheduled_, true)) return;
  }
  on_reactor([this] { flush_results(); });
}

void TaskRouter::flush_results() {
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

void TaskRouter::send_result_slice() {
  result_slice_scheduled_ = false;
  std::map<NodeId, std::vector<ObjectHandle>> frames;  // each owner's results in order
  // An owner the view lists as dead will never copy (nor free) what it is
  // sent; the view is asked once per owner a slice.
  std::map<NodeId, bool> dead;
  std::size_t bytes = 0;
  while (!results_sending_.empty()) {
    auto& [owner, result] = results_sending_.front();
    auto [verdict, first] = dead.try_emplace(owner);
    if (first) verdict->second = membership_.listed_dead(owner);
    if (!verdict->second) {
      const std::size_t w = frame_weights::result_weight(result);
      if (bytes > 0 && bytes + w > frame_weights::slice_bytes) break;
      bytes += w;
      frames[owner].push_back(std::move(result));
    }
    results_sending_.pop_front();
  }
  for (auto& [owner, items] : frames) send_results(owner, items);
  if (!results_sending_.empty()) {
    result_slice_scheduled_ = true;
    tasks_->add(kj::evalLater([this] { send_result_slice(); }));
  }
}

void TaskRouter::send_results(NodeId owner, std::span<const ObjectHandle> items) {
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

void TaskRouter::receive_results(capnp::List<wire::TaskResult>::Reader results) {
  for (auto r : results) {
    const ObjectId id = from_wire(r.getId());
    RemoteTask task;
    {
      std::lock_guard lock(mutex_);
      if (auto it = remote_tasks_.find(id); it != remote_tasks_.end()) {
        task = std::move(it->second);
        remote_tasks_.erase(it);
        forget_sent_locked(task.target);
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
    if (std::vector<ObjectHandle>& returns = task.spec->returns;
        !returns.empty() && r.getNestedRefs().size() == returns.size()) {
      // A task of several results: its empty value names them, in order.
      for (unsigned i = 0; i < returns.size(); ++i)
        transfer_.fill(returns[i], r.getNestedRefs()[i]);
      nested = returns;
    } else {
      for (auto n : r.getNestedRefs()) nested.push_back(transfer_.materialize(n));
    }
    if (const NodeId holder = r.getHolder(); holder != 0) {
      std::vector<ObjectHandle> copying = nested;
      copying.push_back(result);
      when_sealed(std::move(copying), lifeline_.guard([this, holder, id] {
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
