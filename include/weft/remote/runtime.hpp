// The interface through which the remote layer reaches the node that runs it
// (DESIGN §2: `remote` never includes `node`). weft::Node implements it.
//
// Free functions such as submit/spawn find the calling thread's runtime
// through a thread-local that every node sets on its own threads and on its
// driver, so several nodes can live in one process.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weft/core/executor.hpp"
#include "weft/core/reactor.hpp"
#include "weft/core/task.hpp"
#include "weft/error.hpp"
#include "weft/object/object_store.hpp"
#include "weft/remote/task_spec.hpp"

namespace weft {

namespace detail {
// An actor constructor's encoded arguments, and the objects whose refs they
// contain: kept alive with them, and copied with them to the actor's node.
struct ActorArguments {
  std::vector<std::byte> bytes;
  std::vector<ObjectHandle> nested_refs;
};
}  // namespace detail

struct PlacementGroup;
enum class PlacementStrategy : std::uint8_t;

class Runtime {
 public:
  virtual ObjectStore& store() noexcept = 0;
  virtual Executor& executor() noexcept = 0;
  virtual Reactor& reactor() noexcept = 0;

  // Takes a task whose result is pending; runs it once its ref arguments are
  // sealed and its resources are free. Any thread.
  virtual void submit(detail::TaskSpecPtr spec) = 0;

  // The id of this node (the owner part of the ObjectIds it mints).
  virtual NodeId node_id() const noexcept = 0;

  // Creates an actor, here or on another node, built from `args` by the
  // registered constructor `constructor_id`; completes once it is
  // constructed. Throws InfeasibleError if no node can host it, TaskError if
  // the constructor threw, weft::Error if its name is taken.
  virtual Task<std::shared_ptr<detail::ActorRecord>> create_actor(ActorOptions options,
                                                                  std::string class_name,
                                                                  std::uint64_t constructor_id,
                                                                  detail::ActorArguments args) = 0;
  // The live actor registered under `name` anywhere in the cluster, or nullptr.
  virtual Task<std::shared_ptr<detail::ActorRecord>> find_named_actor(std::string name) = 0;
  // A handle's record for actor `actor_id` living on node `home`: the local
  // record, or a proxy that forwards calls there.
  virtual std::shared_ptr<detail::ActorRecord> resolve_actor(NodeId home, std::uint64_t actor_id,
                                                             std::string_view class_name) = 0;
  // Sends a call (its ref arguments sealed) to a proxy's actor, in order.
  virtual void forward_call(detail::ActorRecord& proxy, detail::TaskSpecPtr call) = 0;
  // The actor was killed: free its name and resources (or tell its node).
  virtual void actor_died(detail::ActorRecord& actor) noexcept = 0;

  // Reserves every bundle or none (see placement_group.hpp).
  virtual Task<PlacementGroup> create_placement_group(PlacementStrategy strategy,
                                                      std::vector<Resources> bundles) = 0;
  virtual Task<void> remove_placement_group(std::uint64_t group_id) = 0;

  // The cluster's key-value store (see kv.hpp), here when alone, else on the
  // head. Keys and values arrive already checked against the limits.
  virtual Task<void> kv_put(std::string key, std::string value) = 0;
  virtual Task<std::optional<std::string>> kv_get(std::string key) = 0;
  virtual Task<bool> kv_delete(std::string key) = 0;
  virtual Task<std::vector<std::string>> kv_keys(std::string prefix) = 0;

 protected:
  ~Runtime() = default;
};

namespace detail {
inline thread_local Runtime* tls_current_runtime = nullptr;
}

// The node serving the calling thread; throws UsageError on a thread that no
// node owns.
inline Runtime& current_runtime() {
  Runtime* rt = detail::tls_current_runtime;
  if (rt == nullptr) {
    throw UsageError(
        "no weft node on this thread: call from inside weft::run's driver, a task or an actor");
  }
  return *rt;
}

}  // namespace weft
