// ActorRecord bodies; compiled once into libweft.
#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/remote/actor_record.hpp"
#include "weft/remote/invoke.hpp"
#include "weft/remote/runtime.hpp"

namespace weft::detail {

ActorRecord::ActorRecord(Runtime& runtime, std::unique_ptr<Executor> executor, ActorOptions options,
                         std::string class_name, std::uint64_t id, NodeId home)
    : runtime_(runtime),
      executor_(std::move(executor)),
      options_(std::move(options)),
      class_name_(std::move(class_name)),
      id_(id),
      home_(home) {
  if (options_.max_concurrency < 1) options_.max_concurrency = 1;
}

ActorRecord::~ActorRecord() { destroy_instance(); }

void ActorRecord::destroy_instance() noexcept {
  if (instance_ != nullptr) destroy_(std::exchange(instance_, nullptr));
}

bool ActorRecord::is_proxy() const noexcept { return home_ != runtime_.node_id(); }

std::string ActorRecord::description() const {
  return options_.name.empty() ? fmt::format("actor {}", class_name_)
                               : fmt::format("actor {} '{}'", class_name_, options_.name.view());
}

std::uint64_t ActorRecord::new_caller() const noexcept {
  static std::atomic<std::uint64_t> next{1};
  // Multiplying by an odd constant spreads node ids far apart, so two nodes'
  // counters would need 2^40 handles or so to meet.
  return runtime_.node_id() * 0x9e3779b97f4a7c15ULL + next.fetch_add(1, std::memory_order_relaxed);
}

void ActorRecord::enqueue(TaskSpecPtr call) {
  if (!alive()) {
    fail(call.release());
    return;
  }
  executor_->post(Job{&ActorRecord::arrive_job, call.release()});
}

void ActorRecord::kill() noexcept {
  if (!alive_.exchange(false, std::memory_order_acq_rel)) return;
  runtime_.actor_died(*this);
  // The node reaps a record only once its executor is idle, so `this` is
  // still there when the job runs.
  executor_->post(Job{&ActorRecord::fail_queued_job, this});
}

void ActorRecord::arrive_job(void* call) noexcept {
  auto* c = static_cast<TaskSpec*>(call);
  c->actor->arrive(c);
}

void ActorRecord::arrive(TaskSpec* call) noexcept {
  backlog_.push_back(Job{nullptr, call});
  pump();
}

void ActorRecord::pump() noexcept {
  while (!backlog_.empty() && running_ < options_.max_concurrency) {
    auto* call = static_cast<TaskSpec*>(backlog_.pop_front().arg);
    if (!alive()) {
      fail(call);
      continue;
    }
    if (!held_.empty()) {
      if (auto it = held_.find(call->caller); it != held_.end()) {
        it->second.later.push_back(Job{nullptr, call});
        continue;
      }
    }
    if (!when_refs_sealed(*call, &ActorRecord::refs_sealed_job, call)) {
      held_.emplace(call->caller, HeldCaller{call, {}});
      continue;
    }
    if (is_proxy()) {
      runtime_.forward_call(*this, TaskSpecPtr(call));
      continue;
    }
    ++running_;
    call->complete = &ActorRecord::call_complete;
    call->execute(call);
  }
}

void ActorRecord::refs_sealed_job(void* call) noexcept {
  // Runs where the last ref was sealed: hop onto the actor's executor.
  auto* c = static_cast<TaskSpec*>(call);
  c->actor->executor_->post(Job{[](void* p) noexcept {
                                  auto* waiting = static_cast<TaskSpec*>(p);
                                  waiting->actor->resume(waiting);
                                },
                                c});
}

void ActorRecord::resume(TaskSpec* waiting) noexcept {
  auto it = held_.find(waiting->caller);
  HeldCaller held = std::move(it->second);
  held_.erase(it);
  if (held.waiting == nullptr) {  // kill has failed it and its caller's later calls
    delete waiting;
    return;
  }
  // The caller's calls go back ahead of later arrivals, in their order.
  while (!held.later.empty()) backlog_.push_front(held.later.pop_back());
  backlog_.push_front(Job{nullptr, waiting});
  pump();
}

void ActorRecord::fail_queued_job(void* self) noexcept {
  static_cast<ActorRecord*>(self)->fail_queued();
}

void ActorRecord::fail_queued() noexcept {
  while (!backlog_.empty()) fail(static_cast<TaskSpec*>(backlog_.pop_front().arg));
  for (auto& [caller, held] : held_) {
    while (!held.later.empty()) fail(static_cast<TaskSpec*>(held.later.pop_front().arg));
    // Its refs still hold it: seal its result now, delete it when they seal.
    if (held.waiting != nullptr) seal_died(*std::exchange(held.waiting, nullptr));
  }
}

void ActorRecord::call_complete(TaskSpec* call, std::exception_ptr error) noexcept {
  std::shared_ptr<ActorRecord> self = call->actor;
  if (error) call->result->seal_error(as_task_error(error, call->name));
  delete call;
  --self->running_;
  self->pump();
}

void ActorRecord::fail(TaskSpec* call) noexcept {
  seal_died(*call);
  delete call;
}

void ActorRecord::seal_died(TaskSpec& call) const noexcept {
  call.result->seal_error(std::make_exception_ptr(ActorDiedError(fmt::format(
      "{} is dead (killed or its node failed); {} was not run", description(), call.name))));
}

}  // namespace weft::detail
