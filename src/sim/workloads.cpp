#include "sim/workloads.hpp"

#include <array>
#include <exception>
#include <optional>
#include <typeinfo>
#include <utility>

#include <fmt/format.h>

#include "weft/weft.hpp"

// --- what the workloads run on the simulated nodes ---------------------------------

namespace weft::sim {
namespace {

// i*i, after `us` microseconds of (simulated) sleep when it is not 0.
weft::Task<std::int64_t> sim_square(std::int64_t i, std::int64_t us) {
  if (us > 0) co_await weft::sleep_for(std::chrono::microseconds(us));
  co_return i* i;
}

// `n` bytes following a pattern sim_expected_sum knows.
std::vector<std::uint8_t> sim_bytes(std::uint64_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::uint64_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 31 + seed);
  return v;
}

std::int64_t sim_sum(const std::vector<std::uint8_t>& v) {
  std::int64_t sum = 0;
  for (auto b : v) sum += b;
  return sum;
}

// Awaits the ref where it runs: the object comes from wherever it lives.
weft::Task<std::int64_t> sim_sum_ref(weft::ObjectRef<std::vector<std::uint8_t>> ref) {
  co_return sim_sum(co_await ref);
}

// A counter whose calls must never overlap (max_concurrency 1): each call
// yields to the reactor in its middle, where an overlapping one would run.
class SimCounter {
 public:
  weft::Task<std::int64_t> add(std::int64_t n) {
    if (++in_call_ > 1) World::current()->violation("two calls ran at once on one actor");
    co_await weft::sleep_for(std::chrono::microseconds(200));
    value_ += n;
    --in_call_;
    co_return value_;
  }

 private:
  std::int64_t value_ = 0;
  int in_call_ = 0;
};

}  // namespace
}  // namespace weft::sim

WEFT_REMOTE(weft::sim::sim_square);
WEFT_REMOTE(weft::sim::sim_bytes);
WEFT_REMOTE(weft::sim::sim_sum_ref);
WEFT_ACTOR(weft::sim::SimCounter, &weft::sim::SimCounter::add);

namespace weft::sim {
namespace {

constexpr std::array<std::string_view, 5> names = {"tasks", "refs", "actors", "node_death",
                                                   "mixed"};

// Retries enough that two crashes and a few broken links cannot use them up.
constexpr int task_retries = 10;

// One pending result of a workload.
struct Pending {
  weft::ObjectRef<std::int64_t> ref;
  bool actor_call = false;
  std::string not_sent;  // why a call has no ref: its actor could not be created
};

std::string describe(const std::exception& e) {
  std::string type = typeid(e).name();
  if (dynamic_cast<const ActorDiedError*>(&e) != nullptr) type = "ActorDiedError";
  if (dynamic_cast<const TaskError*>(&e) != nullptr) type = "TaskError";
  if (dynamic_cast<const TransportError*>(&e) != nullptr) type = "TransportError";
  return type + ": " + e.what();
}

TaskOptions spread_options() {
  return TaskOptions{.max_retries = task_retries, .strategy = SpreadStrategy{}};
}

void submit_tasks(std::vector<Pending>& out, int n) {
  for (int i = 0; i < n; ++i) {
    // Every tenth sleeps 1-4 ms, so the tasks span simulated time.
    const std::int64_t us = i % 10 == 0 ? 1000 + (i % 7) * 500 : 0;
    TaskOptions o = i % 2 == 0 ? spread_options() : TaskOptions{.max_retries = task_retries};
    out.push_back({weft::submit<&sim_square>(o, std::int64_t{i}, us)});
  }
}

void submit_refs(std::vector<Pending>& out) {
  // Put here, read elsewhere: inline-sized, store-sized, and pulled in chunks.
  for (std::uint64_t size :
       {std::uint64_t{1000}, std::uint64_t{200} << 10, std::uint64_t{5} << 20}) {
    auto ref = weft::put(sim_bytes(size, static_cast<std::uint32_t>(size % 251)));
    for (int k = 0; k < 3; ++k) out.push_back({weft::submit<&sim_sum_ref>(spread_options(), ref)});
  }
  // Made on one node, read on another; the large ones are held where they
  // were made until this node, their owner, has pulled them.
  for (std::uint32_t seed = 0; seed < 6; ++seed) {
    const std::uint64_t size = seed % 2 == 0 ? std::uint64_t{300} << 10 : std::uint64_t{5} << 20;
    auto made = weft::submit<&sim_bytes>(spread_options(), size, seed);
    out.push_back({weft::submit<&sim_sum_ref>(spread_options(), made)});
  }
}

Task<void> call_actors(std::vector<Pending>& out, int counters, int calls) {
  // A counter whose node dies while it is being created is dead (Ray's
  // default, max_restarts = 0): each of its calls counts as ActorDiedError.
  std::vector<std::optional<ActorHandle<SimCounter>>> handles;
  std::vector<std::string> died(static_cast<std::size_t>(counters));
  for (int c = 0; c < counters; ++c) {
    ActorOptions o;
    o.strategy = SpreadStrategy{};
    try {
      handles.emplace_back(co_await weft::spawn<SimCounter>().options(o));
    } catch (const ActorDiedError& e) {
      handles.emplace_back();
      died[static_cast<std::size_t>(c)] = describe(e);
    }
  }
  for (int i = 0; i < calls; ++i) {
    for (std::size_t c = 0; c < handles.size(); ++c) {
      if (handles[c]) {
        out.push_back({handles[c]->call<&SimCounter::add>(std::int64_t{1}), true});
      } else {
        out.push_back({{}, true, died[c]});
      }
    }
  }
}

Task<Outcome> collect(std::vector<Pending> pending) {
  Outcome outcome;
  for (auto& p : pending) {
    Outcome::Entry e;
    e.actor_call = p.actor_call;
    if (!p.not_sent.empty()) {
      e.error = p.not_sent;
      outcome.entries.push_back(std::move(e));
      continue;
    }
    try {
      e.value = co_await p.ref;
    } catch (const weft::Error& error) {
      e.error = describe(error);
    } catch (const std::exception& error) {
      World::current()->violation("a ref failed with an exception that is not a weft::Error: " +
                                  describe(error));
    }
    outcome.entries.push_back(std::move(e));
  }
  co_return outcome;
}

Task<Outcome> drive(World& world, std::string_view name) {
  std::vector<Pending> pending;
  if (name == "tasks") {
    submit_tasks(pending, 1000);
  } else if (name == "refs") {
    submit_refs(pending);
  } else if (name == "actors") {
    co_await call_actors(pending, 3, 50);
  } else if (name == "node_death") {
    for (int i = 0; i < 60; ++i) {
      pending.push_back(
          {weft::submit<&sim_square>(spread_options(), std::int64_t{i}, std::int64_t{20'000})});
    }
    // Mid-run, whatever the seed's faults: the tasks there re-run elsewhere.
    co_await weft::sleep_for(std::chrono::milliseconds(5));
    if (world.size() > 1) world.crash(1);
  } else {
    submit_tasks(pending, 600);
    submit_refs(pending);
    co_await call_actors(pending, 2, 40);
  }
  co_return co_await collect(std::move(pending));
}

// The end-of-run checks against the fault-free outcome (see the header).
void compare(World& world, const Outcome& got, const Outcome& expected) {
  if (got.entries.size() != expected.entries.size()) {
    world.fail(fmt::format("the driver saw {} results, the fault-free run {}", got.entries.size(),
                           expected.entries.size()));
  }
  for (std::size_t i = 0; i < got.entries.size(); ++i) {
    const auto& g = got.entries[i];
    const auto& want = expected.entries[i];
    if (g.value) {
      if (g.value != want.value) {
        world.fail(fmt::format("result {} is {}, the fault-free run's {}", i, *g.value,
                               want.value ? fmt::format("{}", *want.value) : want.error));
      }
    } else if (!(g.actor_call && g.error.starts_with("ActorDiedError"))) {
      world.fail(fmt::format("result {} failed with {}; no fault allows that", i, g.error));
    }
  }
}

}  // namespace

std::span<const std::string_view> workload_names() { return names; }

Outcome run_workload(World& world, std::string_view name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    throw UsageError(
        fmt::format("unknown workload '{}': use tasks, refs, actors, node_death or mixed", name));
  }
  world.note(fmt::format("workload {} starts", name));
  Outcome outcome = world.head().run([&](Runtime&) { return drive(world, name); });
  world.note(fmt::format("workload {} ended: {} results", name, outcome.entries.size()));
  return outcome;
}

Outcome fault_free_outcome(WorldOptions options, std::string_view workload) {
  options.faults = FaultSet::parse("none");
  options.max_steps = 0;
  World world(options);
  return run_workload(world, workload);
}

SeedReport run_seed(const WorldOptions& options, std::string_view workload,
                    const Outcome& expected) {
  SeedReport report;
  try {
    World world(options);
    const Outcome got = run_workload(world, workload);
    compare(world, got, expected);
    // Frees and releases travel after the driver ends; faults stop first.
    // 6 s: past a task's doubt timeout (2.5 s) and a broken link's longest
    // backoff (1 s), after which a retried task's stray attempt has ended.
    world.calm();
    world.run_for(std::chrono::seconds(6));
    for (SimNode* n : world.alive()) {
      // A worker that stopped by itself (its link to the head broke) is a
      // process that exits there (run_worker), and its store goes with it.
      if (n != &world.head() && n->node().cluster()->stopped()) continue;
      if (const auto live = n->node().store().live_objects(); live != 0) {
        world.fail(
            fmt::format("node {} still holds {} objects after the workload", n->host(), live));
      }
    }
    report.steps = world.steps();
    report.simulated = world.elapsed();
  } catch (const SimulationFailure& f) {
    report.ok = false;
    report.failure = f.what();
    report.trace = f.trace();
    report.failed_at_step = f.step();
    report.steps = f.step();
  } catch (const StepLimitReached&) {
    throw;  // a replay asked to stop: the caller prints the trace
  } catch (const std::exception& e) {
    // The driver itself threw: what a user would have seen, with no trace
    // (the world that knew it is gone); replay the seed to see the steps.
    report.ok = false;
    report.failure = fmt::format("seed {}: the driver threw {}", options.seed, describe(e));
  }
  return report;
}

}  // namespace weft::sim
