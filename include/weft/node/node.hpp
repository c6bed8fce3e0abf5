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
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "weft/core/reactor.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/thread_pool.hpp"
#include "weft/node/control_store.hpp"
#include "weft/node/local_scheduler.hpp"
#include "weft/object/object_store.hpp"
#include "weft/remote/actor_record.hpp"
#include "weft/remote/placement_group.hpp"
#include "weft/remote/runtime.hpp"

namespace weft {

class Node;

// How a node takes part in a cluster (see weft::run for the flags).
struct ClusterOptions {
  // The head forms the cluster; other nodes join it at head_host:head_port.
  bool head = true;
  std::string head_host = "127.0.0.1";
  std::uint16_t head_port = 0;
  // Where this node listens for peers (RPC and task streams): an IPv4
  // address of this host, or 0.0.0.0 for all; port 0 picks a free port.
  std::string bind_host = "127.0.0.1";
  std::uint16_t listen_port = 0;
  // The address peers reach this node at (an IPv4 address or a host name).
  // Empty: bind_host, or when that is 0.0.0.0, the address of the interface
  // that routes to the head (the first non-loopback one on the head).
  std::string advertise_host;
  // Every node and tool must present it; connections without it are dropped.
  std::string token;
  // Head only: where the control store is saved (at most once a second when
  // it changed, and at a clean stop) and restored from at start. Empty: none.
  std::string snapshot;
};

namespace detail {
class Cluster;
class PeerService;

struct ActorLocation {
  NodeId home = 0;
  std::uint64_t actor_id = 0;
  std::string class_name;
};

// What a node needs from the cluster it belongs to; implemented by the
// transport (src/node/cluster.cpp), absent when the node runs alone.
class ClusterLink {
 public:
  virtual ~ClusterLink() = default;
  // Listens, and (unless head) registers with the head; blocks until done.
  // Throws weft::Error if the head refuses this node.
  virtual void start() = 0;
  // Runs the task here or sends it to the node that should (any thread).
  virtual void submit(TaskSpecPtr spec) = 0;
  // Where a new actor should live: this node's id or another's (any
  // thread). Throws InfeasibleError when no alive node can host it.
  virtual NodeId place_actor(const ActorOptions& options) = 0;
  virtual Task<std::shared_ptr<ActorRecord>> create_remote_actor(NodeId target,
                                                                 ActorOptions options,
                                                                 std::string class_name,
                                                                 std::uint64_t constructor_id,
                                                                 ActorArguments args) = 0;
  // Records a named actor cluster-wide; throws weft::Error if the name is taken.
  virtual Task<void> register_name(ActorLocation where, std::string name) = 0;
  virtual Task<std::optional<ActorLocation>> lookup_name(std::string name) = 0;
  virtual void forget_name(std::uint64_t actor_id) = 0;
  virtual void forward_call(ActorRecord& proxy, TaskSpecPtr call) = 0;
  virtual void kill_remote(NodeId home, std::uint64_t actor_id) = 0;
  virtual Task<PlacementGroup> create_placement_group(PlacementStrategy strategy,
                                                      std::vector<Resources> bundles) = 0;
  virtual Task<void> remove_placement_group(std::uint64_t group_id) = 0;
  // The head's key-value store (see weft/remote/kv.hpp).
  virtual Task<void> kv_put(std::string key, std::string value) = 0;
  virtual Task<std::optional<std::string>> kv_get(std::string key) = 0;
  virtual Task<bool> kv_delete(std::string key) = 0;
  virtual Task<std::vector<std::string>> kv_keys(std::string prefix) = 0;
  // Records a driver running on this node in the head's job table; its id.
  virtual Task<std::uint64_t> start_job() = 0;
  virtual Task<void> finish_job(std::uint64_t job_id) = 0;

  // For weft::run and the tools (any thread).
  virtual std::uint16_t port() const noexcept = 0;
  // The address peers reach this node at (ClusterOptions::advertise_host).
  virtual const std::string& host() const noexcept = 0;
  // Where this node takes task streams from its peers (weft.capnp StreamFrame).
  virtual std::uint16_t stream_port() const noexcept = 0;
  virtual ClusterView view() const = 0;
  // Blocks until `n` nodes are alive; false on timeout.
  virtual bool wait_for_nodes(std::size_t n, std::chrono::milliseconds timeout) = 0;
  // Head only: asks every node to stop, then stops this one's service.
  virtual void stop_cluster() = 0;
  // Blocks until this node is asked to stop (by `weft stop` or the head),
  // or is fenced (see fenced()).
  virtual void wait_until_stopped() = 0;
  // Empty, or why the head declared this node dead and refuses it now (it was
  // cut off or stalled past the failure timeout): the node has stopped, and a
  // process that wants to serve again joins as a new node (any thread).
  virtual std::string fenced() const = 0;
  // Whether this node has stopped serving: asked to, fenced, or cut off from
  // the head; wait_until_stopped has returned or would (any thread).
  virtual bool stopped() const = 0;
};

// How a node reaches its peers (src/node/transport.hpp): TCP, or the
// simulation's network.
class Transport;

// A link for `node`, not started yet: the node holds it before it joins, so
// the first task sent here (at once after joining) finds it. Over TCP, or
// over `transport`.
std::unique_ptr<ClusterLink> make_cluster(Node& node, const ClusterOptions& options);
std::unique_ptr<ClusterLink> make_cluster(Node& node, const ClusterOptions& options,
                                          Transport& transport);

// What a node runs on when the simulator (src/sim) drives it instead of its
// own threads: a stepped reactor and an executor stepped by hand, both the
// simulator's. Actors that ask for a dedicated thread share the executor.
struct SimulatedThreads {
  Reactor& reactor;
  Executor& executor;
};
}  // namespace detail

struct NodeOptions {
  // Unique in the cluster; weft::run draws a random one for cluster nodes.
  NodeId id = 1;
  // Executor threads; 0 means one per available CPU (weft::available_cpus()).
  unsigned threads = 0;
  // Logical capacities; by default cpu = the number of executor threads.
  std::optional<Resources> resources;
  ObjectStoreOptions store;
};

class Node final : public Runtime {
 public:
  explicit Node(NodeOptions options = {});
  // A node with no threads of its own, for the simulator.
  Node(NodeOptions options, detail::SimulatedThreads threads);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  NodeId id() const noexcept { return options_.id; }
  ObjectStore& store() noexcept override { return store_; }
  Executor& executor() noexcept override { return executor_; }
  Reactor& reactor() noexcept override { return reactor_; }
  // The executor threads it runs tasks on (1 when simulated).
  std::size_t threads() const noexcept { return pool_ ? pool_->size() : 1; }
  detail::LocalScheduler& scheduler() noexcept { return scheduler_; }

  NodeId node_id() const noexcept override { return options_.id; }
  void submit(detail::TaskSpecPtr spec) override;
  Task<std::shared_ptr<detail::ActorRecord>> create_actor(ActorOptions options,
                                                          std::string class_name,
                                                          std::uint64_t constructor_id,
                                                          detail::ActorArguments args) override;
  Task<std::shared_ptr<detail::ActorRecord>> find_named_actor(std::string name) override;
  std::shared_ptr<detail::ActorRecord> resolve_actor(NodeId home, std::uint64_t actor_id,
                                                     std::string_view class_name) override;
  // The record with this id on this node (its instance or a proxy), or null.
  std::shared_ptr<detail::ActorRecord> actor(std::uint64_t actor_id);
  void forward_call(detail::ActorRecord& proxy, detail::TaskSpecPtr call) override;
  void actor_died(detail::ActorRecord& actor) noexcept override;
  Task<PlacementGroup> create_placement_group(PlacementStrategy strategy,
                                              std::vector<Resources> bundles) override;
  Task<void> remove_placement_group(std::uint64_t group_id) override;
  Task<void> kv_put(std::string key, std::string value) override;
  Task<std::optional<std::string>> kv_get(std::string key) override;
  Task<bool> kv_delete(std::string key) override;
  Task<std::vector<std::string>> kv_keys(std::string prefix) override;

  // Joins (or, as head, forms) a cluster over TCP; blocks until this node is
  // registered with the head. Throws weft::Error if the head refuses it.
  void start_cluster(const ClusterOptions& options);
  // As above, over `transport` instead of TCP (the simulator's network).
  void start_cluster(const ClusterOptions& options, detail::Transport& transport);
  // The cluster this node belongs to, or nullptr when it runs alone.
  detail::ClusterLink* cluster() noexcept { return cluster_.get(); }

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
    co_await resume_on(executor_);
    co_return co_await driver(*this);
  }
  friend class detail::Cluster;
  friend class detail::PeerService;

  void bind_thread() noexcept;
  // Holds `cluster` and starts it (start_cluster).
  void start(std::unique_ptr<detail::ClusterLink> cluster);
  // Builds an actor on this node: reserves its resources, takes its name and
  // runs the constructor on its executor.
  // `actor_id` 0 draws a fresh id (a remote creator brings its own).
  Task<std::shared_ptr<detail::ActorRecord>> create_local_actor(ActorOptions options,
                                                                std::string class_name,
                                                                std::uint64_t constructor_id,
                                                                std::vector<std::byte> args,
                                                                std::uint64_t actor_id = 0);
  std::shared_ptr<detail::ActorRecord> make_record(const ActorOptions& options,
                                                   std::string class_name, std::uint64_t id,
                                                   NodeId home);
  std::uint64_t next_actor_id() noexcept;
  void reap(detail::ActorRecord* record) noexcept;
  static void reap_job(void* record) noexcept;

  NodeOptions options_;
  ObjectStore store_;
  // The reactor comes first so the pool's threads find it as they start;
  // ~Node stops it first (its handlers post to the pool).
  std::unique_ptr<Reactor> own_reactor_;  // null when simulated
  Reactor& reactor_;
  std::unique_ptr<ThreadPool> pool_;  // null when simulated
  Executor& executor_;
  detail::LocalScheduler scheduler_;
  std::mutex actors_mutex_;
  std::map<std::string, std::shared_ptr<detail::ActorRecord>> named_actors_;
  // Every record on this node by actor id: instances here and proxies.
  std::unordered_map<std::uint64_t, std::weak_ptr<detail::ActorRecord>> actors_by_id_;
  std::atomic<std::uint64_t> actor_sequence_{0};
  std::atomic<std::size_t> live_actors_{0};
  // Ids of the placement groups of a node that runs alone (its scheduler
  // holds their bundles; a cluster's head hands out ids for cluster nodes).
  std::atomic<std::uint64_t> next_group_id_{1};
  // The key-value store of a node that runs alone (only its KV is used;
  // the store is thread-safe).
  detail::ControlStore local_kv_;
  std::unique_ptr<detail::ClusterLink> cluster_;  // last: stopped before the rest
};

}  // namespace weft
