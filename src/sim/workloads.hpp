// The workloads a simulated cluster runs, and the checks at the end of a
// seed's run (world.hpp checks the rest after every step).
//
//   tasks       ~1,000 tasks over every node, some sleeping so the run
//               spans simulated time (and faults land in the middle of it)
//   refs        objects put on the head read by tasks elsewhere, objects
//               made on one node read on another, large ones pulled in chunks
//   actors      counters on several nodes, called in order through their
//               handles; each checks that no two of its calls overlap
//   node_death  tasks running while a worker crashes: they re-run elsewhere
//   mixed       all of the above at once: the seed sweep's default
//
// A seed passes when its driver ends (every ref it made resolved, or failed
// with a weft::Error of the kind a fault allows: ActorDiedError for a call
// to an actor whose node crashed), every live node's store is empty once
// the cluster has calmed down, and every result equals the fault-free
// run's.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/world.hpp"

namespace weft::sim {

// What a workload's driver saw, one entry per result in the order made.
struct Outcome {
  struct Entry {
    std::optional<std::int64_t> value;  // empty: it failed
    std::string error;                  // "ActorDiedError: ..." when it failed
    bool actor_call = false;
  };
  std::vector<Entry> entries;
};

std::span<const std::string_view> workload_names();

// Runs workload `name` on `world`'s head as a driver; throws UsageError
// for an unknown name, SimulationFailure when the run breaks an invariant.
Outcome run_workload(World& world, std::string_view name);

struct SeedReport {
  bool ok = true;
  std::string failure;  // what broke, if !ok
  std::string trace;    // the steps that led there, if !ok
  std::uint64_t failed_at_step = 0;
  std::uint64_t steps = 0;
  Clock::duration simulated{};
};

// One seed: a world made with `options` runs `workload`, then the
// end-of-run checks above, against `expected` (the fault-free outcome).
SeedReport run_seed(const WorldOptions& options, std::string_view workload,
                    const Outcome& expected);

// The fault-free outcome of `workload` with `options`' cluster shape.
Outcome fault_free_outcome(WorldOptions options, std::string_view workload);

}  // namespace weft::sim
