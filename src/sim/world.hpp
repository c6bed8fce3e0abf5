// weft::sim::World: a whole weft cluster in one process, on one thread,
// deterministic from one seed (DESIGN §3, "simulation").
//
//   weft::sim::World world({.seed = 42, .nodes = 3, .faults = FaultSet::parse("drop,crash")});
//   int sum = world.head().run([](weft::Runtime&) -> weft::Task<int> { ... });
//
// Every node is a real weft::Node running the production code: its
// Cluster, control store, schedulers and Cap'n Proto RPC. Below the
// transport seam they run on what the world gives them:
//  - a stepped Reactor and a ManualExecutor per node, stepped by the world
//    one handler or job at a time, the node chosen by the seeded random
//    source among those with work ready;
//  - a simulated clock (weft::Clock): it advances by step_cost per step,
//    and jumps to the next timer, delivery or fault when nothing is ready;
//  - a SimNetwork whose in-memory streams carry the real bytes, with
//    random latencies (so messages reorder across connections, never
//    within one) and the faults the seed picks (faults.hpp).
// A blocking wait on the world's thread (Node::run, a node's start or
// destruction) runs the world instead (blocking_pump.hpp), so a test reads
// like one against a real cluster.
//
// The world checks invariants after every step (check_step); a violation,
// a wait that can never end, or a wait longer than hang_limit of simulated
// time throws SimulationFailure carrying the trace of the last steps. The
// same seed, options and workload replay the same steps exactly.
//
// Threads: create, use and destroy on one thread; none of it is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "sim/faults.hpp"
#include "sim/sim_network.hpp"
#include "sim/trace.hpp"
#include "weft/core/blocking_pump.hpp"
#include "weft/core/clock.hpp"
#include "weft/core/detached.hpp"
#include "weft/core/log.hpp"
#include "weft/core/manual_executor.hpp"
#include "weft/core/reactor.hpp"
#include "weft/node/node.hpp"

namespace weft::sim {

using namespace std::chrono_literals;

// A seed's run broke an invariant or hung; what() names which, and the
// trace of the steps that led there.
class SimulationFailure : public std::runtime_error {
 public:
  SimulationFailure(const std::string& what, std::uint64_t step, std::string trace);
  std::uint64_t step() const noexcept { return step_; }
  const std::string& trace() const noexcept { return trace_; }

 private:
  std::uint64_t step_;
  std::string trace_;
};

// A replay stopped at the step it was asked to (WorldOptions::max_steps),
// with the trace of the steps up to there.
class StepLimitReached : public std::runtime_error {
 public:
  StepLimitReached(const std::string& what, std::string trace)
      : std::runtime_error(what), trace_(std::move(trace)) {}
  const std::string& trace() const noexcept { return trace_; }

 private:
  std::string trace_;
};

struct WorldOptions {
  std::uint64_t seed = 1;
  // Nodes at start, the head included.
  unsigned nodes = 3;
  FaultSet faults;
  // Executor slots per node (its cpu resource).
  unsigned cpus_per_node = 2;
  // Each node's object store.
  std::size_t store_bytes = 64 << 20;
  // Stop (StepLimitReached) once this many steps ran; 0: no limit.
  std::uint64_t max_steps = 0;
  // Simulated time a step costs, so timers come due during busy periods.
  Clock::duration step_cost = 2us;
  // A blocking wait with no deadline that lasts this long, or takes this
  // many steps (a livelock spinning at step_cost), is a hang.
  Clock::duration hang_limit = 120s;
  std::uint64_t hang_steps = 5'000'000;
  // Steps kept for the failure trace.
  std::size_t trace_steps = 200;
  // Mean simulated time between faults (faults.hpp), when any is on.
  Clock::duration fault_interval = 150ms;
};

// One node of the world, with what it runs on.
class SimNode {
 public:
  SimNode(const std::string& host, NodeId id, unsigned cpus, std::size_t store_bytes);
  ~SimNode();
  SimNode(const SimNode&) = delete;
  SimNode& operator=(const SimNode&) = delete;

  const std::string& host() const noexcept { return host_; }
  NodeId id() const noexcept { return node_->id(); }
  Node& node() noexcept { return *node_; }
  // Destroys the node (its Cluster leaves or stops), the world running meanwhile.
  void shut_down();
  bool shut_down_done() const noexcept { return node_ == nullptr; }
  bool crashed() const noexcept { return crashed_; }

  // Runs driver(runtime) (returning Task<R>) here as a driver, the world
  // running meanwhile; its result, or what it threw. A SimulationFailure
  // (a hang, say) leaves the driver where it was: it finishes, or not,
  // while the world is taken apart.
  template <typename Driver>
  auto run(Driver driver) {
    using T = await_result_t<decltype(driver(std::declval<Runtime&>()))>;
    static_assert(!std::is_void_v<T>, "a simulated driver returns what the test checks");
    auto slot = std::make_shared<Result<T>>();
    detail::run_detached_on(executor_, drive(std::move(driver), slot, *node_));
    detail::tls_blocking_pump->run_until([&] { return slot->done; }, std::nullopt);
    if (slot->error) std::rethrow_exception(slot->error);
    return std::move(*slot->value);
  }

 private:
  friend class World;
  template <typename T>
  struct Result {
    std::optional<T> value;
    std::exception_ptr error;
    bool done = false;
  };
  template <typename Driver, typename T>
  static Task<void> drive(Driver driver, std::shared_ptr<Result<T>> slot, Node& node) {
    try {
      slot->value.emplace(co_await driver(node));
    } catch (...) {
      slot->error = std::current_exception();
    }
    slot->done = true;
  }
  // Whether a job or handler is ready here now.
  bool ready() const noexcept;
  // Runs one job or handler, `pick_executor` choosing when both are ready.
  void step(bool pick_executor);

  std::string host_;
  Reactor reactor_;
  ManualExecutor executor_;
  // Owned. A raw pointer, because the node is stepped while shut_down()
  // destroys it, and a unique_ptr reads null by then.
  Node* node_ = nullptr;
  bool crashed_ = false;
  unsigned weight_ = 4;  // its chance of being stepped; a slow node has less
};

class World final : private detail::BlockingPump, private detail::SimulatedTime {
 public:
  explicit World(WorldOptions options);
  // Stops every node that has not crashed, then destroys them all.
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // The world of this process, or nullptr (there is at most one).
  static World* current() noexcept;

  SimNode& head() noexcept { return *nodes_.front(); }
  // Every node started so far, crashed ones included, in start order.
  std::size_t size() const noexcept { return nodes_.size(); }
  SimNode& node(std::size_t i) noexcept { return *nodes_[i]; }
  // The nodes that have not crashed.
  std::vector<SimNode*> alive();
  // Starts a node that joins the head (a restart is a new node).
  SimNode& add_node();

  // Crashes node `i` (not the head): it stops between two of its steps, and
  // its connections drop.
  void crash(std::size_t i);
  // Node `i` runs at a quarter of the others' pace, and its traffic takes
  // `extra` longer; zero puts it back to normal.
  void slow(std::size_t i, Clock::duration extra);
  // No new faults; heals, restarts and recoveries still pending apply now.
  void calm();

  // Runs the world for `d` of simulated time.
  void run_for(Clock::duration d);
  Clock::time_point now() const noexcept override { return now_; }
  std::uint64_t steps() const noexcept { return steps_; }
  Clock::duration elapsed() const noexcept { return now_ - start_; }
  SimNetwork& network() noexcept { return network_; }
  std::mt19937_64& random() noexcept { return rng_; }
  const WorldOptions& options() const noexcept { return options_; }

  // Throws SimulationFailure for `what`, with the trace.
  [[noreturn]] void fail(const std::string& what) const;
  // Records a broken invariant seen inside a step (where throwing cannot
  // reach the caller): the step's check fails the run with it.
  void violation(std::string what);
  // Appends a line to the trace (a workload's milestones).
  void note(std::string line);
  std::string trace() const { return trace_.render(); }

 private:
  bool run_until(const std::function<bool()>& done,
                 std::optional<Clock::time_point> deadline) override;
  // Runs one step; false if nothing was ready.
  bool step();
  // What comes next when nothing is ready: a timer, a delivery, a fault.
  std::optional<Clock::time_point> next_event() const;
  void advance_to(Clock::time_point t);
  // Applies a fault the plan asks for now, and heals what is due.
  void apply_faults();
  // After every step on `n`: the per-step invariants.
  void check_step(SimNode& n);
  NodeId draw_id();

  WorldOptions options_;
  std::mt19937_64 rng_;
  Clock::time_point start_;
  Clock::time_point now_;
  SimNetwork network_;
  FaultPlan faults_;
  Trace trace_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<std::string> violations_;
  std::uint16_t head_port_ = 0;
  std::uint64_t steps_ = 0;
  unsigned next_host_ = 1;
  unsigned pump_depth_ = 0;
  detail::BlockingPump* saved_pump_ = nullptr;
  LogLevel saved_log_level_ = LogLevel::warn;
};

}  // namespace weft::sim
