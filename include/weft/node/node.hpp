// weft::Node: one node of a weft cluster, living in this process.
//
//   weft::Node node({.threads = 4});
//   int rc = node.run([](weft::Runtime&) -> weft::Task<int> {
//     co_return co_await weft::submit<&answer>();
//   });
//
// A node owns its reactor thread (timers, later sockets), its executor pool,
// its object store and its scheduler; nothing is process-wide, so tests can
// run several nodes in one process. Every node thread finds its node through
// thread-locals, which is how submit/put/spawn know where to go.
//
// Destruction waits for tasks still in flight, kills named actors and waits
// for every actor to be destroyed, so ActorHandles must not outlive the node.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "weft/core/reactor.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/thread_pool.hpp"
#include "weft/node/local_scheduler.hpp"
#include "weft/object/object_store.hpp"
#include "weft/remote/actor_record.hpp"
#include "weft/remote/runtime.hpp"

namespace weft {

struct NodeOptions {
  NodeId id = 1;
  // Executor threads; 0 means one per hardware thread.
  unsigned threads = 0;
  // Logical capacities; by default cpu = the number of executor threads.
  std::optional<Resources> resources;
  ObjectStoreOptions store;
};

class Node final : public Runtime {
 public:
  explicit Node(NodeOptions options = {});
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  NodeId id() const noexcept { return options_.id; }
  ObjectStore& store() noexcept override { return store_; }
  Executor& executor() noexcept override { return pool_; }
  Reactor& reactor() noexcept override { return reactor_; }
  LocalScheduler& scheduler() noexcept { return scheduler_; }

  void submit(detail::TaskSpecPtr spec) override { scheduler_.submit(std::move(spec)); }
  std::shared_ptr<detail::ActorRecord> place_actor(const ActorOptions& options,
                                                   std::string_view class_name,
                                                   const std::type_info& type) override;
  std::shared_ptr<detail::ActorRecord> find_named_actor(const std::string& name) override;
  void actor_died(detail::ActorRecord& actor) noexcept override;

  // Actors not yet destroyed.
  std::size_t live_actors() const noexcept { return live_actors_.load(std::memory_order_acquire); }

  // Runs `driver(*this)` (returning Task<R>) on this node's executors and
  // blocks the calling thread until it finishes.
  template <typename Driver>
  auto run(Driver&& driver) {
    ThreadScope scope(*this);
    return sync_wait(on_pool(std::forward<Driver>(driver)));
  }

  // Binds the calling (non-node) thread to this node for its lifetime, so
  // put/get/submit/spawn work from plain code.
  class ThreadScope {
   public:
    explicit ThreadScope(Node& node) noexcept;
    ~ThreadScope();
    ThreadScope(const ThreadScope&) = delete;
    ThreadScope& operator=(const ThreadScope&) = delete;

   private:
    Runtime* runtime_;
    ObjectStore* store_;
    Reactor* reactor_;
  };

 private:
  template <typename Driver>
  auto on_pool(Driver driver) -> decltype(driver(std::declval<Runtime&>())) {
    co_await resume_on(pool_);
    co_return co_await driver(*this);
  }
  void bind_thread() noexcept;
  void reap(detail::ActorRecord* record) noexcept;
  static void reap_job(void* record) noexcept;

  NodeOptions options_;
  ObjectStore store_;
  ThreadPool pool_;
  Reactor reactor_;
  LocalScheduler scheduler_;
  std::mutex actors_mutex_;
  std::map<std::string, std::shared_ptr<detail::ActorRecord>> named_actors_;
  std::atomic<std::size_t> live_actors_{0};
};

}  // namespace weft
