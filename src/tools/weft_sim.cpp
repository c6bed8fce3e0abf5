// weft-sim: runs weft clusters in the deterministic simulation (src/sim).
//
//   weft-sim --seeds 500                      seeds 1..500 of the mixed workload, all faults
//   weft-sim --seed 17                        one seed; on failure, what broke and the trace
//   weft-sim --seed 17 --steps 52310          replays seed 17 up to step 52310, prints the trace
//   weft-sim --seeds 200 --faults drop,crash --workload tasks
//
// Exit status: 0 if every seed passed, 1 if one failed, 2 for bad usage.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "sim/workloads.hpp"
#include "weft/error.hpp"

namespace {

constexpr const char* usage =
    "usage: weft-sim [--seed S | --seeds N [--first S]] [--steps K] [--faults LIST]\n"
    "                [--workload W] [--nodes N] [--fault-every MS] [--expect-failure]\n"
    "  --seed S          run seed S; on failure print what broke and the steps that led there\n"
    "  --seeds N         run N seeds from --first (default 1); one line per failure\n"
    "  --steps K         stop each run after step K and print its trace (replays a failure)\n"
    "  --faults LIST     none, all (default), or a list of delay,drop,crash,partition,slow\n"
    "  --workload W      tasks, refs, actors, node_death or mixed (default)\n"
    "  --nodes N         nodes at start, the head included (default 3)\n"
    "  --fault-every MS  mean simulated milliseconds between faults (default 150)\n"
    "  --expect-failure  succeed only if some seed fails (a planted bug must be found)\n";

struct Args {
  std::uint64_t first = 1;
  std::uint64_t count = 1;
  std::uint64_t steps = 0;
  weft::sim::FaultSet faults = weft::sim::FaultSet::all();
  std::string workload = "mixed";
  unsigned nodes = 3;
  std::uint64_t fault_every_ms = 150;
  bool expect_failure = false;
  bool one_seed = false;
};

std::uint64_t number(std::string_view flag, const char* text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') {
    throw weft::UsageError(fmt::format("{} needs a number, not '{}'", flag, text));
  }
  return v;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    const auto value = [&]() -> const char* {
      if (i + 1 >= argc) throw weft::UsageError(fmt::format("{} needs a value", flag));
      return argv[++i];
    };
    if (flag == "--seed") {
      a.first = number(flag, value());
      a.count = 1;
      a.one_seed = true;
    } else if (flag == "--seeds") {
      a.count = number(flag, value());
    } else if (flag == "--first") {
      a.first = number(flag, value());
    } else if (flag == "--steps") {
      a.steps = number(flag, value());
    } else if (flag == "--faults") {
      a.faults = weft::sim::FaultSet::parse(value());
    } else if (flag == "--workload") {
      a.workload = value();
    } else if (flag == "--nodes") {
      a.nodes = static_cast<unsigned>(number(flag, value()));
      if (a.nodes < 1 || a.nodes > 16) throw weft::UsageError("--nodes takes 1 to 16");
    } else if (flag == "--fault-every") {
      a.fault_every_ms = number(flag, value());
      if (a.fault_every_ms == 0) throw weft::UsageError("--fault-every takes 1 ms or more");
    } else if (flag == "--expect-failure") {
      a.expect_failure = true;
    } else if (flag == "--help" || flag == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else {
      throw weft::UsageError(fmt::format("unknown flag '{}'", flag));
    }
  }
  return a;
}

std::string replay_line(const Args& a, std::uint64_t seed, std::uint64_t step) {
  return fmt::format(
      "weft-sim --seed {} --steps {} --faults {} --workload {} --nodes {} --fault-every {}", seed,
      step, a.faults.describe(), a.workload, a.nodes, a.fault_every_ms);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const weft::UsageError& e) {
    std::fprintf(stderr, "weft-sim: %s\n%s", e.what(), usage);
    return 2;
  }
  weft::sim::WorldOptions options;
  options.nodes = args.nodes;
  options.faults = args.faults;
  options.max_steps = args.steps;
  options.fault_interval = std::chrono::milliseconds(args.fault_every_ms);

  try {
    const auto expected = weft::sim::fault_free_outcome(options, args.workload);
    std::uint64_t failed = 0;
    std::uint64_t steps = 0;
    double simulated = 0;
    const auto began = std::chrono::steady_clock::now();
    for (std::uint64_t seed = args.first; seed < args.first + args.count; ++seed) {
      options.seed = seed;
      weft::sim::SeedReport r;
      try {
        r = weft::sim::run_seed(options, args.workload, expected);
      } catch (const weft::sim::StepLimitReached& stop) {
        std::printf("%s\ntrace:\n%s", stop.what(), stop.trace().c_str());
        continue;
      }
      steps += r.steps;
      simulated += std::chrono::duration<double>(r.simulated).count();
      if (r.ok) continue;
      ++failed;
      std::printf("FAILED %s\n  replay: %s\n", r.failure.c_str(),
                  replay_line(args, seed, r.failed_at_step).c_str());
      if (args.one_seed) std::printf("trace:\n%s", r.trace.c_str());
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    std::printf(
        "{\"workload\":\"%s\",\"faults\":\"%s\",\"nodes\":%u,\"seeds\":%llu,\"failed\":%llu,"
        "\"steps\":%llu,\"simulated_s\":%.3f,\"wall_s\":%.2f}\n",
        args.workload.c_str(), args.faults.describe().c_str(), args.nodes,
        static_cast<unsigned long long>(args.count), static_cast<unsigned long long>(failed),
        static_cast<unsigned long long>(steps), simulated, wall);
    if (args.expect_failure) return failed > 0 ? 0 : 1;
    return failed > 0 ? 1 : 0;
  } catch (const weft::UsageError& e) {
    std::fprintf(stderr, "weft-sim: %s\n", e.what());
    return 2;
  }
}
