// Options for tasks and actors: resources, retries, placement, names.
//
//   weft::submit<&train>(weft::TaskOptions{.resources = {.cpu = 2, .custom = {{"disk", 1}}},
//                                          .max_retries = 5}, cfg);
//   co_await weft::spawn<Counter>(0).options({.name = "c", .max_concurrency = 4});
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>

#include "weft/object/object_id.hpp"

namespace weft {

// Logical resources, as in Ray: a node advertises capacities, and a task or
// actor runs only where its request fits. `cpu` defaults to one executor slot.
struct Resources {
  double cpu = 1;
  double gpu = 0;
  double memory = 0;  // bytes
  std::map<std::string, double> custom;
};

// Where a task or actor may run (meaningful once there are several nodes).
struct HybridStrategy {};  // local while it has room, else the best node that fits
struct SpreadStrategy {};  // round-robin over nodes that fit
struct NodeAffinity {
  NodeId node = 0;
  bool soft = false;  // fall back to other nodes if that one cannot take it
};
using SchedulingStrategy = std::variant<HybridStrategy, SpreadStrategy, NodeAffinity>;

struct TaskOptions {
  Resources resources;
  // Re-runs after a failure: node death, or an exception derived from
  // weft::RetryableError (other exceptions fail the task at once).
  int max_retries = 3;
  // Also retry on any exception, not only RetryableError.
  bool retry_exceptions = false;
  SchedulingStrategy strategy = HybridStrategy{};
  // Shown in errors and timelines instead of the function's registered name.
  std::string name;
};

struct ActorOptions {
  // A named actor can be found with weft::get_actor<T>(name) and lives until killed.
  std::string name;
  // Actors hold no cpu by default, so a node can host many.
  Resources resources{.cpu = 0};
  // Coroutine methods may interleave at co_await points up to this many at once.
  int max_concurrency = 1;
  // Run on an OS thread of its own (for libraries with thread-local state).
  bool dedicated_thread = false;
  int max_restarts = 0;
  int max_task_retries = 0;
  SchedulingStrategy strategy = HybridStrategy{};
};

}  // namespace weft
