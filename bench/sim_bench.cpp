// How fast the deterministic simulation runs (src/sim, DESIGN §3):
//
//   sim_speedup           simulated seconds per wall second of a 3-node
//                         cluster doing nothing but its heartbeats and views
//   sim_seeds_per_minute  seeds a minute of a 3-node cluster running the
//                         "tasks" workload (1,000 tasks) under every fault
//   sim_steps_per_second  steps (one handler or job each) a wall second, in
//                         those seeds
//
// Each figure is the median of `reps` measurements in this run.
//   sim_bench [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "results.hpp"
#include "sim/workloads.hpp"

namespace {

using WallClock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double wall_seconds_since(WallClock::time_point t) {
  return std::chrono::duration<double>(WallClock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int reps = quick ? 1 : 3;
  const auto idle_for = quick ? std::chrono::seconds(20) : std::chrono::seconds(300);
  const std::uint64_t seeds_per_rep = quick ? 2 : 10;
  weft_bench::Results results("sim_bench");

  std::vector<double> speedups;
  for (int r = 0; r < reps; ++r) {
    weft::sim::WorldOptions o;
    o.seed = 1 + static_cast<std::uint64_t>(r);
    o.faults = weft::sim::FaultSet::parse("none");
    weft::sim::World world(o);
    const auto began = WallClock::now();
    world.run_for(idle_for);
    speedups.push_back(std::chrono::duration<double>(idle_for).count() / wall_seconds_since(began));
  }
  results.report("sim_speedup", median(speedups), "sim_s/wall_s");

  weft::sim::WorldOptions o;
  o.faults = weft::sim::FaultSet::all();
  const auto expected = weft::sim::fault_free_outcome(o, "tasks");
  std::vector<double> seed_rates, step_rates;
  std::uint64_t failed = 0;
  for (int r = 0; r < reps; ++r) {
    std::uint64_t steps = 0;
    const auto began = WallClock::now();
    for (std::uint64_t s = 0; s < seeds_per_rep; ++s) {
      o.seed = 1000 + static_cast<std::uint64_t>(r) * seeds_per_rep + s;
      const auto report = weft::sim::run_seed(o, "tasks", expected);
      failed += report.ok ? 0 : 1;
      steps += report.steps;
    }
    const double wall = wall_seconds_since(began);
    seed_rates.push_back(static_cast<double>(seeds_per_rep) * 60 / wall);
    step_rates.push_back(static_cast<double>(steps) / wall);
  }
  results.report("sim_seeds_per_minute", median(seed_rates), "seeds/min");
  results.report("sim_steps_per_second", median(step_rates), "steps/s");

  std::printf("\n%-24s %14s  %-14s %s\n", "metric", "value", "unit", "target");
  std::printf("%s\n", std::string(64, '-').c_str());
  const auto row = [&](const char* metric, const char* target) {
    const auto* r = results.find(metric);
    std::printf("%-24s %14s  %-14s %s\n", metric, weft_bench::with_commas(r->value).c_str(),
                r->unit.c_str(), target);
  };
  row("sim_speedup", ">= 1,000");
  row("sim_seeds_per_minute", ">= 200");
  row("sim_steps_per_second", "");
  if (failed > 0) {
    std::fprintf(stderr, "sim_bench: %llu seeds failed (run weft-sim on them)\n",
                 static_cast<unsigned long long>(failed));
    return 1;
  }
  return 0;
}
