// detail::ControlStore: the head node's state (DESIGN §8): node table with
// heartbeats and failure detection, the cluster resource view, actor table,
// job table, a small key-value store and placement groups; snapshotted to a
// file by the embedded backend. The records it keeps (NodeInfo, ClusterView,
// ActorEntry, ...) are weft's; the store itself is internal.
//
//   weft::detail::ControlStore cs;
//   auto head = cs.register_node({.host = "10.0.0.1", .port = 7000, .totals = {.cpu = 8}}, now);
//   cs.heartbeat(head, load, now);
//   for (auto dead : cs.detect_failures(now, 3s)) restart_actors(cs.actors_on_node(dead));
//   auto pg = cs.create_placement_group(weft::PlacementStrategy::spread, {{.cpu = 2}, {.cpu = 2}});
//
// Pure and transport-free: time is passed in, nothing blocks or sleeps, and
// every decision is deterministic, so tests drive it step by step. The types
// mirror src/weft.capnp field for field so the RPC layer converts them
// mechanically. Thread-safe: each call holds one mutex, so the head's
// reactor serves peers from it while code on the head's own executors (a
// driver creating placement groups, say) calls it directly, without a hop to
// the reactor.
//
// Reservations. The store keeps, per node, the sum of the placement group
// bundles placed there. A node's heartbeat reports `available` as its totals
// minus what work outside placement groups holds; work running inside a
// bundle is charged to the bundle, not reported again. The published view
// shows reported available minus the node's reservations (floored at 0), so
// a bundle is counted exactly once, also before the node hears of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weft/core/clock.hpp"
#include "weft/node/placement.hpp"
#include "weft/object/byte_io.hpp"
#include "weft/object/object_id.hpp"
#include "weft/remote/options.hpp"

namespace weft {

// A node as it introduces itself (wire: NodeInfo).
struct NodeInfo {
  NodeId id = 0;  // 0 when joining for the first time; the store assigns it
  std::string host;
  std::uint16_t port = 0;
  Resources totals;
  std::uint64_t store_capacity = 0;
  int pid = 0;
};

// What a node reports in each heartbeat (wire: NodeLoad). `available`
// excludes work inside placement group bundles (see Reservations above).
struct NodeLoad {
  Resources available;
  std::uint64_t store_used = 0;
  std::uint64_t live_objects = 0;
  std::uint64_t tasks_in_flight = 0;
  std::uint64_t live_actors = 0;
};

// One node in the published view (wire: NodeView; last_heartbeat stays on the head).
struct NodeView {
  NodeInfo info;
  NodeLoad load;  // load.available is after placement group reservations
  bool alive = false;
  bool left = false;  // not alive because it left the cluster, not because it failed
  Clock::time_point last_heartbeat{};
};

// The cluster as the head sees it (wire: ClusterView). Nodes are sorted by
// id; dead nodes stay listed with alive = false. Each node holds exactly the
// bundles the latest view places on it (LocalScheduler::hold_bundles).
struct ClusterView {
  std::uint64_t version = 0;
  std::vector<NodeView> nodes;
  std::vector<PlacementGroup> placement_groups;  // by id
  std::uint64_t last_group_id = 0;               // every group up to this id exists or existed
};

enum class ActorState : std::uint8_t { alive, restarting, dead };

// One actor (wire: ActorEntry, plus max_restarts, which the head needs to
// decide on restarts).
struct ActorEntry {
  std::uint64_t actor_id = 0;  // 0 in register_actor: the store assigns one
  std::string name;            // empty: anonymous
  std::string class_name;
  NodeId node = 0;
  ActorState state = ActorState::alive;
  int restarts = 0;
  int max_restarts = 0;  // negative: restart without limit

  // Whether a failure of its node should restart it elsewhere.
  bool can_restart() const noexcept { return max_restarts < 0 || restarts < max_restarts; }
};

// One driver program (wire: Job).
struct JobEntry {
  std::uint64_t job_id = 0;
  NodeId driver_node = 0;
  std::int64_t started_ms = 0;  // wall-clock milliseconds since the epoch, as given
  bool finished = false;
};

namespace detail {

class ControlStore {
 public:
  using Clock = weft::Clock;

  ControlStore() = default;

  // --- nodes ---------------------------------------------------------------

  // Adds a node, alive, as of `now`, and returns its id. A new node
  // (info.id == 0) gets the next id: 1 for the first, which is the head. A
  // node restored from a snapshot that registers with its id again gets it
  // back and is alive again. Bumps the view version. Throws NodeFencedError
  // for an id this store declared dead (fenced(): see below).
  NodeId register_node(NodeInfo info, Clock::time_point now);

  // Records a node's load as of `now`. Bumps the version when the published
  // load changes. Returns false, changing nothing, for an unknown or dead node.
  bool heartbeat(NodeId node, const NodeLoad& load, Clock::time_point now);
  // Records a sign of life from a node (a heartbeat datagram) that arrived
  // at `at`, keeping the latest. Changes nothing for an unknown or dead node.
  void saw_alive(NodeId node, Clock::time_point at);

  // Whether this store declared `node` dead (detect_failures,
  // mark_node_dead). Such an id is fenced for good: the node may have been
  // cut off, not gone, and its work was given to others, so it is refused
  // and must rejoin as a new node. Nodes restored dead from a snapshot are
  // not fenced.
  bool fenced(NodeId node) const;

  // Marks dead every alive node whose last heartbeat (or registration) is
  // more than `timeout` before `now`, and returns those, by id. Bumps the
  // version when any died. Jobs whose driver ran there are finished: a
  // driver does not outlive its node.
  std::vector<NodeId> detect_failures(Clock::time_point now, Clock::duration timeout);

  // Marks a node dead at once (its connection closed), finishing its jobs as
  // detect_failures does. Returns whether it was alive; bumps the version if
  // so. Its actors and bundles stay recorded: see actors_on_node() and
  // placement_groups_on_node().
  bool mark_node_dead(NodeId node);

  // A node that leaves the cluster (a driver that finished): no longer alive,
  // listed as left rather than dead, holding nothing (its load is idle), and
  // its jobs finished. Returns whether it was alive; bumps the version if so.
  bool mark_node_left(NodeId node);

  // The published view. Its version grows whenever anything in it changes
  // (membership, liveness, a reported load, a reservation), and only then.
  ClusterView view() const;
  std::uint64_t version() const {
    std::lock_guard lock(mutex_);
    return version_;
  }
  std::optional<NodeView> node(NodeId id) const;

  // --- actors --------------------------------------------------------------

  // Records an actor and returns its id (entry.actor_id, or a fresh one when
  // 0). Throws UsageError when the name is held by an actor that is not dead,
  // or when the id is already recorded.
  std::uint64_t register_actor(ActorEntry entry);
  // The actor that holds `name` (alive or restarting), if any.
  std::optional<ActorEntry> lookup_actor(std::string_view name) const;
  std::optional<ActorEntry> actor_by_id(std::uint64_t actor_id) const;
  // Replaces the entry with the same actor_id (new node, state, restarts).
  // Returns false for an unknown id; throws UsageError if the entry takes a
  // name another live actor holds.
  bool update_actor(const ActorEntry& entry);
  // Sets the actor's state to dead, which frees its name. False if unknown.
  bool mark_actor_dead(std::uint64_t actor_id);
  // Actors on `node` that are not dead, by id: after the node dies, restart
  // those whose can_restart() holds and mark the rest dead.
  std::vector<ActorEntry> actors_on_node(NodeId node) const;
  std::vector<ActorEntry> actors() const;

  // --- jobs ----------------------------------------------------------------

  // Records a driver starting on `driver_node`; ids start at 1.
  std::uint64_t start_job(NodeId driver_node, std::int64_t started_ms);
  // False for an unknown job.
  bool finish_job(std::uint64_t job_id);
  std::optional<JobEntry> job(std::uint64_t job_id) const;
  std::vector<JobEntry> jobs() const;

  // --- key-value -----------------------------------------------------------

  // Values are bytes; std::string holds any.
  void kv_put(std::string key, std::string value);
  std::optional<std::string> kv_get(std::string_view key) const;
  // Whether the key existed.
  bool kv_erase(std::string_view key);
  // Keys starting with `prefix`, sorted.
  std::vector<std::string> kv_keys(std::string_view prefix = {}) const;

  // --- placement groups ----------------------------------------------------

  // Reserves every bundle against the published view (see weft::place_bundles)
  // or none: on InfeasibleError (or UsageError) nothing is reserved. Bumps the
  // version on success. Ids start at 1.
  PlacementGroup create_placement_group(PlacementStrategy strategy,
                                        const std::vector<Resources>& bundles);
  // Frees the group's reservations. Returns false for an unknown id.
  bool remove_placement_group(std::uint64_t group_id);
  std::optional<PlacementGroup> placement_group(std::uint64_t group_id) const;
  std::vector<PlacementGroup> placement_groups() const;
  // Ids of the groups with a bundle on `node` (to reschedule after it dies).
  std::vector<std::uint64_t> placement_groups_on_node(NodeId node) const;

  // --- snapshots -----------------------------------------------------------

  // Grows with every change to what a snapshot records (membership, actors,
  // jobs, key-value pairs, placement groups), and only then: heartbeats do
  // not count. A head saves again when it differs from the last save's.
  std::uint64_t changes() const {
    std::lock_guard lock(mutex_);
    return changes_;
  }

  // Writes every table to `path` (a versioned binary format, written to a
  // temporary file and renamed into place). Throws weft::Error on I/O failure.
  void save_snapshot(const std::filesystem::path& path) const;
  // Replaces this store's state with the snapshot at `path`. Nodes come back
  // dead until they register again (with their old id); actors, jobs, KV
  // and placement groups come back as saved. Returns false, changing
  // nothing, when the file does not exist; throws DecodeError, changing
  // nothing, when it is not a valid snapshot.
  bool load_snapshot(const std::filesystem::path& path);

 private:
  struct NodeRecord {
    NodeInfo info;
    NodeLoad load;  // as reported
    bool alive = false;
    bool left = false;
    bool fenced = false;  // declared dead by this store (not saved)
    Clock::time_point last_heartbeat{};
    ResourceSet reserved;  // placement group bundles placed here
  };

  NodeView view_of(const NodeRecord& r) const;
  // What a node that runs nothing reports: all of its totals available.
  static NodeLoad idle_load(const NodeInfo& info) { return NodeLoad{.available = info.totals}; }
  std::vector<PlacementCandidate> candidates() const;
  void reserve(const PlacementGroup& g, bool add);
  const ActorEntry* live_actor_named(std::string_view name) const;
  void finish_jobs_of(NodeId node);

  template <typename W>
  void encode(W& out) const;
  void decode(ByteReader& in);

  // Moving a store (load_snapshot does) moves its tables, never its lock.
  struct Lock : std::mutex {
    Lock() = default;
    Lock(Lock&&) noexcept {}
    Lock& operator=(Lock&&) noexcept { return *this; }
  };
  mutable Lock mutex_;  // guards everything below
  std::uint64_t version_ = 0;
  std::uint64_t changes_ = 0;
  NodeId next_node_id_ = 1;
  std::uint64_t next_actor_id_ = 1;
  std::uint64_t next_job_id_ = 1;
  std::uint64_t next_group_id_ = 1;
  std::map<NodeId, NodeRecord> nodes_;
  std::map<std::uint64_t, ActorEntry> actors_;
  std::map<std::uint64_t, JobEntry> jobs_;
  std::map<std::string, std::string, std::less<>> kv_;
  std::map<std::uint64_t, PlacementGroup> groups_;
};

}  // namespace detail
}  // namespace weft
