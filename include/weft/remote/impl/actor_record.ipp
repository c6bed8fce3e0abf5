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
  while (!backlog_.empty() && !blocked_on_refs_ && running_ < options_.max_concurrency) {
    auto* call = static_cast<TaskSpec*>(backlog_.pop_front().arg);
    if (!alive()) {
      fail(call);
      continue;
    }
    if (!when_refs_sealed(*call, &ActorRecord::resume_pump_job, call)) {
      blocked_on_refs_ = true;
      return;  // resume_pump_job re-queues it at the front
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

void ActorRecord::resume_pump_job(void* call) noexcept {
  // Runs where the last ref was sealed: hop onto the actor's executor.
  auto* c = static_cast<TaskSpec*>(call);
  c->actor->executor_->post(Job{[](void* p) noexcept {
                                  auto* waiting = static_cast<TaskSpec*>(p);
                                  ActorRecord& self = *waiting->actor;
                                  // Put the waiting call back at the head, ahead of later arrivals.
                                  JobQueue rest;
                                  rest.push_back(Job{nullptr, waiting});
                                  while (!self.backlog_.empty())
                                    rest.push_back(self.backlog_.pop_front());
                                  self.backlog_ = std::move(rest);
                                  self.blocked_on_refs_ = false;
                                  self.pump();
                                },
                                c});
}

void ActorRecord::call_complete(TaskSpec* call, std::exception_ptr error) noexcept {
  std::shared_ptr<ActorRecord> self = call->actor;
  if (error) call->result->seal_error(as_task_error(error, call->name));
  delete call;
  --self->running_;
  self->pump();
}

void ActorRecord::fail(TaskSpec* call) noexcept {
  call->result->seal_error(std::make_exception_ptr(ActorDiedError(fmt::format(
      "{} is dead (killed or its node failed); {} was not run", description(), call->name))));
  delete call;
}

}  // namespace weft::detail
