// ControlPlane: the head's tables (DESIGN §8) as any node reaches them, so
// no caller asks which node it is on. Two implementations:
//  - HeadControl, on the head: calls its (thread-safe) ControlStore in
//    place, from the calling thread, without a hop to the reactor;
//  - RemoteControl, elsewhere: one request to the head per call, over the
//    node's link to it.
// Refusals are the weft errors the store throws, on either side (a remote
// one crosses the wire as a refusal, kj_asio.hpp). Calls may be made from
// any thread; Task results resume on the caller's executor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weft/core/task.hpp"
#include "weft/node/control_store.hpp"

namespace weft::detail {

class Cluster;

class ControlPlane {
 public:
  virtual ~ControlPlane() = default;

  virtual Task<void> kv_put(std::string key, std::string value) = 0;
  virtual Task<std::optional<std::string>> kv_get(std::string key) = 0;
  virtual Task<bool> kv_delete(std::string key) = 0;
  virtual Task<std::vector<std::string>> kv_keys(std::string prefix) = 0;

  // A driver on `driver` starts now; its job id.
  virtual Task<std::uint64_t> start_job(NodeId driver) = 0;
  // Finishes the job; NodeFencedError when the head declared `driver` dead
  // (ControlStore::fenced), though the job is finished all the same.
  virtual Task<void> finish_job(std::uint64_t job_id, NodeId driver) = 0;

  // Records a named actor; UsageError when the name is taken.
  virtual Task<void> register_actor(ActorEntry entry) = 0;
  virtual Task<std::optional<ActorEntry>> lookup_actor(std::string name) = 0;
  // Frees a killed actor's name. Sent, not awaited.
  virtual void forget_actor(std::uint64_t actor_id) = 0;

  // Reserves every bundle or none (InfeasibleError naming what did not fit).
  virtual Task<PlacementGroup> create_placement_group(PlacementStrategy strategy,
                                                      std::vector<Resources> bundles) = 0;
  // Like Ray's, sent, not awaited: this node's later requests reach the
  // head after it, on the same connection, and see the resources freed.
  virtual void remove_placement_group(std::uint64_t group_id) = 0;
};

// `publish_view` tells the nodes of a change to the view (their bundles).
std::unique_ptr<ControlPlane> make_head_control(ControlStore& store,
                                                std::function<void()> publish_view);
// Over `cluster`'s link to the head (Cluster::with_head).
std::unique_ptr<ControlPlane> make_remote_control(Cluster& cluster);

// Records a driver on `driver` as started now (wall clock); its job id.
std::uint64_t start_job_now(ControlStore& store, NodeId driver);

}  // namespace weft::detail
