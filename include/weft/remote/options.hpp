// Options for tasks and actors: resources, retries, placement, names.
//
//   weft::submit<&train>(weft::TaskOptions{.resources = {.cpu = 2}, .max_retries = 5}, cfg);
//   co_await weft::spawn<Counter>(0).options({.name = "c", .max_concurrency = 4});
//
// Every option type here is trivially destructible (names and custom
// resources are stored inline). That is deliberate: GCC 12 destroys a braced
// aggregate temporary twice when the co_await expression holding it
// suspends, which corrupts the heap for any member that owns memory. With
// nothing to free, the braced forms above are safe. (GCC 12 also refuses
// braced lists that need an array inside a co_await expression, such as
// `.custom = {{"disk", 1}}`: build those options in a variable first.)
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "weft/object/object_id.hpp"

namespace weft {

// A short name stored inline: at most `capacity` bytes (UsageError beyond).
class Name {
 public:
  static constexpr std::size_t capacity = 63;

  Name() noexcept = default;
  Name(std::string_view s);
  Name(const char* s) : Name(std::string_view(s)) {}
  Name(const std::string& s) : Name(std::string_view(s)) {}

  std::string_view view() const noexcept { return {data_, size_}; }
  std::string str() const { return std::string(view()); }
  bool empty() const noexcept { return size_ == 0; }
  operator std::string_view() const noexcept { return view(); }
  friend bool operator==(const Name& a, const Name& b) noexcept { return a.view() == b.view(); }

 private:
  char data_[capacity + 1] = {};
  std::uint8_t size_ = 0;
};

struct CustomResource {
  Name name;
  double amount = 0;
};

// Named resources beyond cpu/gpu/memory ("disk", "license"), at most
// `capacity` of them, each name once.
class CustomResources {
 public:
  static constexpr std::size_t capacity = 8;

  CustomResources() noexcept = default;
  CustomResources(std::initializer_list<CustomResource> items);

  const CustomResource* begin() const noexcept { return items_; }
  const CustomResource* end() const noexcept { return items_ + size_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // The amount of `name`, or nullptr if it is not listed.
  const double* find(std::string_view name) const noexcept;
  // Adds `name` or replaces its amount; UsageError when full.
  void set(std::string_view name, double amount);
  friend bool operator==(const CustomResources& a, const CustomResources& b) noexcept;

 private:
  CustomResource items_[capacity];
  std::uint8_t size_ = 0;
};

// Logical resources, as in Ray: a node advertises capacities, and a task or
// actor runs only where its request fits. `cpu` defaults to one executor slot.
struct Resources {
  double cpu = 1;
  double gpu = 0;
  double memory = 0;  // bytes
  CustomResources custom;

  friend bool operator==(const Resources&, const Resources&) = default;
};

namespace detail {
// The one resource vocabulary. Every layer counts amounts in thousandths,
// so fractional requests add up and compare exactly.
std::int64_t to_milli(double amount) noexcept;
double from_milli(std::int64_t milli) noexcept;
// Calls f(name, amount) for "cpu", "gpu" and "memory" (zero or not), in that
// order, then for each custom resource.
template <typename F>
void for_each_resource(const Resources& r, F&& f) {
  f(std::string_view("cpu"), r.cpu);
  f(std::string_view("gpu"), r.gpu);
  f(std::string_view("memory"), r.memory);
  for (const auto& [name, amount] : r.custom) f(name.view(), amount);
}
// Sets the resource called `name`: a field for cpu, gpu and memory, else a
// custom resource (UsageError past CustomResources::capacity).
void set_resource(Resources& r, std::string_view name, double amount);
}  // namespace detail

// Where a task or actor may run (meaningful once there are several nodes;
// the rules in full: weft::pick_node, node/placement.hpp).
// The node with room holding most argument bytes (if 1 MiB or more), else
// local while it has room, else the least loaded node that fits.
struct HybridStrategy {
  friend bool operator==(HybridStrategy, HybridStrategy) = default;
};
struct SpreadStrategy {  // round-robin over nodes with room, else over nodes that fit
  friend bool operator==(SpreadStrategy, SpreadStrategy) = default;
};
struct NodeAffinity {
  NodeId node = 0;
  bool soft = false;  // fall back to other nodes if that one is full, dead or too small
  friend bool operator==(const NodeAffinity&, const NodeAffinity&) = default;
};
using SchedulingStrategy = std::variant<HybridStrategy, SpreadStrategy, NodeAffinity>;

// One bundle of a placement group (see placement_group.hpp): the task or
// actor runs on the node that holds it, on the bundle's resources only.
struct BundlePlacement {
  std::uint64_t group = 0;  // 0: none
  std::uint32_t index = 0;  // which bundle of the group
  NodeId node = 0;          // where that bundle lives
  friend bool operator==(const BundlePlacement&, const BundlePlacement&) = default;
};

struct TaskOptions {
  Resources resources;
  // Re-runs after a failure: node death, or an exception derived from
  // weft::RetryableError (other exceptions fail the task at once).
  int max_retries = 3;
  // Also retry on any exception, not only RetryableError.
  bool retry_exceptions = false;
  SchedulingStrategy strategy = HybridStrategy{};
  // Run inside a placement group's bundle; overrides `strategy`.
  BundlePlacement placement;
  // Shown in errors and timelines instead of the function's registered name.
  Name name;

  friend bool operator==(const TaskOptions&, const TaskOptions&) = default;
};

struct ActorOptions {
  // A named actor can be found with weft::get_actor<T>(name) and lives until killed.
  Name name;
  // Actors hold no cpu by default, so a node can host many.
  Resources resources{.cpu = 0};
  // Coroutine methods may interleave at co_await points up to this many at once.
  int max_concurrency = 1;
  // Run on an OS thread of its own (for libraries with thread-local state).
  bool dedicated_thread = false;
  // Not supported yet, and refused with UsageError when set: an actor whose
  // node dies is not restarted and its calls are not re-sent; they fail with
  // ActorDiedError (DESIGN §9 restarts arrive with the failure work).
  int max_restarts = 0;
  int max_task_retries = 0;
  SchedulingStrategy strategy = HybridStrategy{};
  // Live inside a placement group's bundle; overrides `strategy`.
  BundlePlacement placement;
};

namespace detail {
// Throws UsageError for an option that would have no effect.
void check_actor_options(const ActorOptions& options);
}  // namespace detail

static_assert(std::is_trivially_destructible_v<TaskOptions> &&
                  std::is_trivially_destructible_v<ActorOptions>,
              "option types must stay trivially destructible (see the GCC 12 note above)");

}  // namespace weft
