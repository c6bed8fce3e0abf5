// detail::Cluster: a node's membership in a weft cluster (DESIGN §3-§8).
//
// Every node listens on TCP and speaks Cap'n Proto RPC (src/weft.capnp) from
// its reactor thread, with KJ's loop running inside the reactor (kj_asio.hpp);
// its connections are PeerLinks (peer_links.hpp), and its tasks go where a
// TaskRouter sends them (task_router.hpp). The head
// also serves the control store (node table, heartbeats, actor names, KV,
// placement groups, jobs) and pushes the cluster view to every node on change
// and at least every 100 ms.
//
// Objects live with their owner: a task sent elsewhere carries its small
// arguments inline, up to message_inline_bytes, and the rest are pulled
// from the owner (in chunks, a bounded number at a time per peer); its
// result comes back inline, or is pulled by the owner, which then tells
// the executing node to drop its copy. So when the last ref dies at the
// owner, no copy is left anywhere. Frames are built a bounded slice per
// reactor turn, and heartbeats go on their own thread (liveness.hpp).
//
// Threads: submit/forward_call/... may be called from any thread; everything
// KJ runs on the reactor thread. State shared between the two is under mutex_.
#pragma once

#include <capnp/rpc-twoparty.h>
#include <kj/async.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "node/auth.hpp"
#include "node/control_plane.hpp"
#include "node/kj_asio.hpp"
#include "node/lifeline.hpp"
#include "node/liveness.hpp"
#include "node/object_transfer.hpp"
#include "node/peer_links.hpp"
#include "node/task_router.hpp"
#include "node/transport.hpp"
#include "weft.capnp.h"
#include "weft/core/log.hpp"
#include "weft/node/control_store.hpp"
#include "weft/node/node.hpp"

namespace weft::detail {

class GateService;
class PeerService;
class HeadService;

// How long the head waits for a node's heartbeat before it declares it dead.
inline constexpr auto failure_timeout = std::chrono::milliseconds(1500);
inline constexpr auto heartbeat_interval = std::chrono::milliseconds(50);
// The head broadcasts its view on every change and at least this often.
inline constexpr auto view_interval = std::chrono::milliseconds(100);

class Cluster final : public ClusterLink, private PeerLinks::Owner, private TaskRouter::Membership {
 public:
  // Over TCP.
  Cluster(Node& node, const ClusterOptions& options);
  // Over `transport`, which outlives the cluster (the simulator's network).
  Cluster(Node& node, const ClusterOptions& options, Transport& transport);
  ~Cluster() noexcept override;

  void start() override;

  void submit(TaskSpecPtr spec) override;
  NodeId place_actor(const ActorOptions& options) override;
  Task<std::shared_ptr<ActorRecord>> create_remote_actor(NodeId target, ActorOptions options,
                                                         std::string class_name,
                                                         std::uint64_t constructor_id,
                                                         ActorArguments args) override;
  Task<void> register_name(ActorLocation where, std::string name) override;
  Task<std::optional<ActorLocation>> lookup_name(std::string name) override;
  void forget_name(std::uint64_t actor_id) override;
  void forward_call(ActorRecord& proxy, TaskSpecPtr call) override;
  void kill_remote(NodeId home, std::uint64_t actor_id) override;
  Task<PlacementGroup> create_placement_group(PlacementStrategy strategy,
                                              std::vector<Resources> bundles) override;
  Task<void> remove_placement_group(std::uint64_t group_id) override;
  Task<void> kv_put(std::string key, std::string value) override;
  Task<std::optional<std::string>> kv_get(std::string key) override;
  Task<bool> kv_delete(std::string key) override;
  Task<std::vector<std::string>> kv_keys(std::string prefix) override;
  Task<std::uint64_t> start_job() override;
  Task<void> finish_job(std::uint64_t job_id) override;

  std::uint16_t port() const noexcept override { return peers_.port(); }
  const std::string& host() const noexcept override { return advertise_host_; }
  std::uint16_t stream_port() const noexcept override { return peers_.stream_port(); }
  ClusterView view() const override;
  bool wait_for_nodes(std::size_t n, std::chrono::milliseconds timeout) override;
  void stop_cluster() override;
  void wait_until_stopped() override;
  std::string fenced() const override;
  bool stopped() const override;

  // Whether the cluster declared node `id` dead: on the head, the store
  // fenced it; elsewhere, the view lists it dead (any thread).
  bool declared_dead(NodeId id) const override;  // also PeerLinks::Owner

  Reactor& reactor() const noexcept { return node_.reactor(); }
  // Not on the head, reactor thread only: the head's capability, for a
  // request from inside run_on_kj; throws (TransportError there) while not
  // connected.
  wire::Head::Client& head_client();
  // Any thread, not on the head: sends the request `send` makes, if this
  // node is connected to the head, without waiting for an answer.
  void with_head(kj::Function<kj::Promise<void>(wire::Head::Client&)> send);

  // --- what the services (services.cpp) answer peers with; reactor thread
  // unless said.
  Node& node() const noexcept { return node_; }
  bool is_head() const noexcept { return is_head_; }
  // Head only: the control store.
  ControlStore& store() const noexcept { return *store_; }
  PeerLinks& peers() noexcept { return peers_; }
  ObjectTransfer& transfer() noexcept { return transfer_; }
  // Actors created here for other nodes, by id (any thread).
  void host_actor(std::shared_ptr<ActorRecord> record);
  // Reactor thread: when the actor `actor_id`, asked for again (its link
  // broke), is created here, if it is or is being; else null.
  kj::Maybe<kj::Promise<void>> actor_created(std::uint64_t actor_id);
  // Reactor thread: `created` ends once the actor `actor_id` is created
  // here; what it returns does too, and so do later actor_created calls.
  kj::Promise<void> creating_actor(std::uint64_t actor_id, kj::Promise<void> created);
  std::shared_ptr<ActorRecord> unhost_actor(std::uint64_t actor_id);
  // Head only: sends the store's view to every node, and adopts it here.
  void broadcast_view();
  void adopt_view(ClusterView view);
  // Asks every node to stop, then stops this one.
  kj::Promise<void> stop_peers();
  void mark_stopped();

 private:
  // --- reactor thread -------------------------------------------------------
  void start_on_reactor(const ClusterOptions& options);
  void stop_on_reactor();
  // PeerLinks::Owner.
  NodeInfo local_info() const override;
  std::optional<std::pair<std::string, std::uint16_t>> address_of(NodeId node) const override;
  wire::Gate::Client gate(NodeId& from) override;
  void head_connected(wire::Head::Client head) override;
  void head_link_failed(const std::string& reason, bool connected) override;
  void link_broke(NodeId node) override;
  void link_forgotten(NodeId node) override;
  void tasks_arrived(capnp::List<wire::TaskSpec>::Reader tasks) override {
    router_.receive_tasks(tasks);
  }
  void results_arrived(capnp::List<wire::TaskResult>::Reader results) override {
    router_.receive_results(results);
  }
  // TaskRouter::Membership (also declared_dead, local_load).
  bool alive(NodeId node) const override;
  bool listed_dead(NodeId node) const override;
  std::optional<ClusterView> view_unless(std::optional<std::uint64_t> version) const override;
  // The view's entry for `node` (mutex_ held), or null if it lists none.
  const NodeView* listed_locked(NodeId node) const;

  Task<void> send_create_actor(NodeId target, std::uint64_t actor_id, const ActorOptions& options,
                               const std::string& class_name, std::uint64_t constructor_id,
                               const ActorArguments& args);
  void register_with_head(wire::Head::Client head);
  // Head only, with options_.snapshot set: restores the store from it if it
  // exists; saves the store there if it changed since the last save, once a
  // second has passed since then or at once when `stopping`.
  void load_snapshot();
  void save_snapshot(bool stopping);
  // A node other than the head that ends while its cluster runs tells the
  // head (waiting at most 2 s), so it is listed as left, with nothing in
  // use, instead of being declared dead a failure timeout later.
  void leave() noexcept;
  void stop_on_reactor_sync();
  // Logs failures of background transport work (a peer that went away).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"  // KJ's interface; never deleted through it
  struct TaskLogger final : kj::TaskSet::ErrorHandler {
    void taskFailed(kj::Exception&& e) override;
  };
#pragma GCC diagnostic pop
  void heartbeat();
  void head_tick();
  // Any thread, head only: broadcasts the view from the reactor soon.
  void publish_view();
  // Holds exactly the bundles `view` places on this node, unless a newer
  // view did so already (any thread).
  void hold_bundles(const ClusterView& view);
  // This node leaves the cluster, so no view will come: it holds no bundle
  // any more, and work waiting for a group it never heard of fails rather
  // than keeping the node from stopping (any thread).
  void release_bundles();
  void node_died(NodeId node);
  // The head refused this node as one it declared dead: its remote work
  // fails with NodeFencedError(reason), it forgets its peers and stops
  // (reactor thread).
  void fence(const std::string& reason);
  NodeLoad local_load() const override;
  // Waits (mutex_ held by `lock`) until pred() holds or `timeout` passes;
  // on the simulator's thread it runs the simulation meanwhile, with
  // mutex_ released (blocking_pump.hpp).
  template <typename Pred>
  bool wait_changed(std::unique_lock<std::mutex>& lock,
                    std::optional<std::chrono::milliseconds> timeout, Pred pred);

  // Runs `f` on the reactor inside KJ's loop, unless the cluster has stopped
  // serving by then (a result sealed during shutdown, say); any thread.
  template <typename F>
  void on_reactor(F f) {
    lifeline_.post(node_.reactor(), [this, f = std::move(f)]() mutable {
      if (tasks_) f();
    });
  }

  Node& node_;
  Lifeline lifeline_;                         // ended at the end of ~Cluster
  std::unique_ptr<Transport> own_transport_;  // TCP, unless one was given
  Transport& transport_;
  ClusterOptions options_;
  bool is_head_;
  std::string advertise_host_;  // set by start(), before the reactor serves

  // Reactor-thread state.
  std::unique_ptr<ScopedKjLoop> kj_;
  TaskLogger task_logger_;
  // Outlives peers_, router_ and tasks_: what they drop may be pulls of its own.
  ObjectTransfer transfer_{node_, peers_};
  PeerLinks peers_;
  TaskRouter router_{node_, *this, transfer_, peers_, lifeline_};
  kj::Own<kj::TaskSet> tasks_;
  std::unique_ptr<ControlStore> store_;  // head only
  std::unique_ptr<ControlPlane> control_;
  std::optional<Reactor::TimerId> heartbeat_timer_;  // set while the cluster runs
  std::unique_ptr<Liveness> liveness_;               // see liveness.hpp
  std::unordered_map<std::uint64_t, std::shared_ptr<ActorRecord>> hosted_actors_;
  std::map<std::uint64_t, kj::ForkedPromise<void>> actor_creations_;  // reactor thread
  ControlStore::Clock::time_point last_broadcast_{};
  std::uint64_t broadcast_version_ = 0;
  std::uint64_t saved_changes_ = 0;
  ControlStore::Clock::time_point last_save_{};

  // Shared state.
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  ClusterView view_;
  std::atomic<std::uint64_t> view_version_{0};  // view_.version, read without mutex_
  std::atomic<bool> publish_pending_{false};    // a view broadcast is posted
  bool stopped_ = false;
  std::string refusal_;  // why the head refused this node
  std::string fenced_;   // why the head declared this node dead; empty if it did not
  std::mutex hosted_mutex_;
  // The version of the view whose bundles the scheduler holds, under its
  // own lock: views may arrive out of order (the registration reply and the
  // pushes use two connections), and failing the work queued in a removed
  // bundle seals results, which takes mutex_.
  std::mutex bundles_mutex_;
  std::uint64_t bundles_version_ = 0;
};

}  // namespace weft::detail
