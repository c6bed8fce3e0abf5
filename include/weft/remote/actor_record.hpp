// detail::ActorRecord: one live actor instance on this node and its mailbox.
//
// Calls are Jobs on the actor's executor (a SerialExecutor over the node's
// pool, or a dedicated thread), so they run one at a time in the order they
// arrived, with no locks. A call starts once its ref arguments are sealed and
// fewer than max_concurrency coroutine calls are in flight. While one waits
// for its refs, its caller's later calls are held behind it, in order, and
// other callers' calls go on.
#pragma once

#include <atomic>
#include <exception>
#include <memory>
#include <string>
#include <unordered_map>

#include "weft/core/executor.hpp"
#include "weft/core/job_queue.hpp"
#include "weft/object/object_id.hpp"
#include "weft/remote/options.hpp"
#include "weft/remote/task_spec.hpp"

namespace weft {
class Runtime;
}

namespace weft::detail {

class ActorRecord {
 public:
  // `home` is the node holding the instance; a record whose home is another
  // node is a proxy: its calls keep their order here and are forwarded there.
  ActorRecord(Runtime& runtime, std::unique_ptr<Executor> executor, ActorOptions options,
              std::string class_name, std::uint64_t id, NodeId home);
  ~ActorRecord();
  ActorRecord(const ActorRecord&) = delete;
  ActorRecord& operator=(const ActorRecord&) = delete;

  Runtime& runtime() const noexcept { return runtime_; }
  Executor& executor() const noexcept { return *executor_; }
  const ActorOptions& options() const noexcept { return options_; }
  const std::string& class_name() const noexcept { return class_name_; }
  std::uint64_t id() const noexcept { return id_; }
  NodeId home() const noexcept { return home_; }
  bool is_proxy() const noexcept;
  // "Counter" or "Counter 'c'", for messages.
  std::string description() const;

  // The instance, once constructed on the actor's executor.
  void* instance() const noexcept { return instance_; }
  void set_instance(void* instance, void (*destroy)(void*)) noexcept {
    instance_ = instance;
    destroy_ = destroy;
  }
  // Destroys the instance; on the actor's executor, or once nothing else runs.
  void destroy_instance() noexcept;
  // Destroys the executor, which for a dedicated thread runs what is queued
  // and joins it. Only once no call can arrive any more.
  void stop_executor() noexcept { executor_.reset(); }

  // A caller id for a new handle, unique across nodes (a call forwarded to
  // the actor's home keeps its caller).
  std::uint64_t new_caller() const noexcept;

  // Queues a call (any thread). A call to a dead actor fails with ActorDiedError.
  void enqueue(TaskSpecPtr call);

  // Marks the actor dead: queued and future calls fail with ActorDiedError,
  // the queued ones at once, even those waiting for their refs. A call
  // already running finishes.
  void kill() noexcept;
  bool alive() const noexcept { return alive_.load(std::memory_order_acquire); }

 private:
  // A caller whose oldest call waits for its refs, and its calls behind it.
  struct HeldCaller {
    TaskSpec* waiting;  // null once kill failed it: it is deleted when its refs seal
    JobQueue later;
  };

  static void arrive_job(void* call) noexcept;
  static void refs_sealed_job(void* call) noexcept;
  static void fail_queued_job(void* self) noexcept;
  static void call_complete(TaskSpec* call, std::exception_ptr error) noexcept;
  void arrive(TaskSpec* call) noexcept;
  void resume(TaskSpec* waiting) noexcept;
  void pump() noexcept;
  void fail_queued() noexcept;
  void fail(TaskSpec* call) noexcept;
  void seal_died(TaskSpec& call) const noexcept;

  Runtime& runtime_;
  std::unique_ptr<Executor> executor_;
  ActorOptions options_;
  std::string class_name_;
  std::uint64_t id_;
  NodeId home_;
  void* instance_ = nullptr;
  void (*destroy_)(void*) = nullptr;
  std::atomic<bool> alive_{true};

  // Touched only on the actor's executor.
  JobQueue backlog_;  // calls that arrived and are not started or held
  std::unordered_map<std::uint64_t, HeldCaller> held_;  // by caller
  int running_ = 0;                                     // coroutine calls in flight
};

}  // namespace weft::detail
