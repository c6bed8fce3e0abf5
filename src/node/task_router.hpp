// detail::TaskRouter: where a node's tasks run, and how tasks and their
// results cross between nodes (DESIGN §4-§5).
//
// A task or actor call whose ref arguments are sealed is placed by
// weft::pick_node over a snapshot of the cluster (task_placement.cpp) and
// runs here or is sent; what is sent is kept until its result arrives, so
// it can be sent again (lineage) if its node dies, or if the link that
// carried it broke and the node, still alive, never answers. The executing
// side runs what it receives and sends each result to its owner once sealed,
// inline if small, else held here for the owner to pull (object_transfer.hpp).
// Specs and results go out on the task streams (peer_links.hpp) in frames of
// a bounded size, a slice per reactor turn, so no turn does unbounded work.
//
// Threads: submit, send, place and send_result may be called from any
// thread; the rest runs on the reactor thread, inside KJ's loop. Its state
// is under its own mutex, taken before the cluster's (Membership's calls
// may take that one; the cluster never calls in here holding it).
#pragma once

#include <kj/async.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "node/lifeline.hpp"
#include "node/object_transfer.hpp"
#include "node/peer_links.hpp"
#include "weft.capnp.h"
#include "weft/node/control_store.hpp"
#include "weft/node/node.hpp"
#include "weft/node/placement.hpp"

namespace weft::detail {

class TaskRouter {
 public:
  // What routing needs to know of the cluster (any thread).
  class Membership {
   public:
    // Whether the view lists `node` alive, or dead (a node it does not list
    // is neither).
    virtual bool alive(NodeId node) const = 0;
    virtual bool listed_dead(NodeId node) const = 0;
    // The view, if its version is not `version`.
    virtual std::optional<ClusterView> view_unless(std::optional<std::uint64_t> version) const = 0;
    // This node's load now.
    virtual NodeLoad local_load() const = 0;

   protected:
    ~Membership() = default;
  };

  TaskRouter(Node& node, Membership& membership, ObjectTransfer& transfer, PeerLinks& peers,
             const Lifeline& lifeline);
  TaskRouter(const TaskRouter&) = delete;
  TaskRouter& operator=(const TaskRouter&) = delete;

  // Routing starts (inside KJ's loop) and stops: after close() nothing
  // queued is sent.
  void open(kj::TaskSet::ErrorHandler& errors);
  void close();

  // Once the spec's ref arguments are sealed: runs it here or sends it.
  void submit(TaskSpecPtr spec);
  // Sends `spec` to `target` (an actor call to its home, say); fails it
  // at once if `target` is not alive.
  void send(NodeId target, TaskSpecPtr spec);
  // Where an actor, or anything else `request` describes, goes. Throws
  // InfeasibleError.
  NodeId place(PlacementRequest request);

  // Frames from a task stream.
  void receive_tasks(capnp::List<wire::TaskSpec>::Reader tasks);
  void receive_results(capnp::List<wire::TaskResult>::Reader results);
  // Sends `result` to `owner`, soon, with the others sealed by then.
  void send_result(NodeId owner, ObjectHandle result);

  // The link to `node` broke: the tasks sent on it are in doubt. If the
  // node is still alive once its death would have been detected, they were
  // lost with the link, and recheck_in_doubt (each heartbeat) sends them
  // again or fails them.
  void link_broke(NodeId node);
  void recheck_in_doubt();
  // The head declared `node` dead: the tasks it ran are sent again
  // elsewhere, or fail.
  void node_died(NodeId node);
  // Takes every task sent from here and not answered (this node was fenced).
  std::vector<TaskSpecPtr> take_sent();

 private:
  // A task or call sent to another node, kept until its result arrives so it
  // can be sent again if that node dies.
  struct RemoteTask {
    TaskSpecPtr spec;
    NodeId target = 0;
  };
  // An outgoing item: a task or actor call for `target`.
  // Checked against remote_tasks_ when sent: by then the spec may have been
  // failed, or routed again, by a node's death.
  struct Outgoing {
    NodeId target;
    TaskSpec* spec;  // owned by remote_tasks_
    ObjectId result;
    std::uint32_t attempt;
  };
  struct InDoubt {
    NodeId node;
    ObjectId result;
    std::uint32_t attempt;
    ControlStore::Clock::time_point deadline;
  };
  // Placement's snapshot: rebuilt from the view when its version changes,
  // the fresh parts refreshed at every pick.
  struct PlacementSnapshot {
    std::optional<std::uint64_t> version;
    std::vector<PlacementCandidate> nodes;
    std::vector<std::uint64_t> reported_in_flight;  // per entry of nodes, as the view said
    ResourceSet reserved_here;                      // bundles the view places on this node
    NodeId spread_cursor = 0;
  };

  // Runs `f` on the reactor inside KJ's loop while routing is open.
  template <typename F>
  void on_reactor(F f) {
    lifeline_.post(node_.reactor(), [this, f = std::move(f)]() mutable {
      if (tasks_) f();
    });
  }
  void route(TaskSpecPtr spec);
  // Placement (task_placement.cpp): where `spec` goes, by weft::pick_node
  // over placement_snapshot_locked() with the copies of its ref arguments
  // this node knows of.
  NodeId pick_target(const TaskSpec& spec);
  // The alive nodes as placement sees them now (mutex_ held): resources from
  // the view, this node's own free resources and tasks in flight from its
  // scheduler, every other node's tasks in flight counting sent_.
  std::span<const PlacementCandidate> placement_snapshot_locked();
  void fail_unreachable(TaskSpecPtr spec, NodeId target);
  // A task sent to `node` that will not be answered, because the node died
  // (`died`) or the link that carried it broke: routed again if it has
  // retries left, else failed.
  void retry_or_fail(TaskSpecPtr spec, NodeId node, bool died);
  void forget_sent_locked(NodeId target);

  void flush();
  // Sends the queued specs, at most slice_bytes of them, and leaves the rest
  // to a later turn, so no reactor turn builds an unbounded frame.
  void send_task_slice();
  void send_tasks(NodeId target, std::vector<TaskSpec*> specs);
  void fill_spec(wire::TaskSpec::Builder b, TaskSpec& spec);

  // The executing side (task_results.cpp). Sends `result` to its owner
  // once it and `pulling` (the task's arguments still being copied here)
  // are sealed: until then the owner keeps the arguments alive for us.
  void watch_result(ObjectHandle result, std::vector<ObjectHandle> pulling);
  void flush_results();
  // As send_task_slice, for results.
  void send_result_slice();
  void send_results(NodeId owner, std::span<const ObjectHandle> results);

  Node& node_;
  Membership& membership_;
  ObjectTransfer& transfer_;
  PeerLinks& peers_;
  const Lifeline& lifeline_;
  kj::Own<kj::TaskSet> tasks_;  // while open

  // Reactor thread.
  std::deque<Outgoing> tasks_sending_;                           // taken from outbox_, in order
  std::deque<std::pair<NodeId, ObjectHandle>> results_sending_;  // taken from results_out_
  bool task_slice_scheduled_ = false;
  bool result_slice_scheduled_ = false;
  std::vector<InDoubt> in_doubt_;

  mutable std::mutex mutex_;
  std::unordered_map<ObjectId, RemoteTask> remote_tasks_;
  std::vector<Outgoing> outbox_;
  bool flush_scheduled_ = false;
  std::map<NodeId, std::vector<ObjectHandle>> results_out_;  // sealed, not yet sent
  bool results_flush_scheduled_ = false;
  std::map<NodeId, std::size_t> sent_;  // tasks in flight per node, for load-based routing
  PlacementSnapshot placement_;
};

}  // namespace weft::detail
