// cluster_bench: cross-node benchmarks, weft's counterpart of the multi-node
// half of `ray microbenchmark` (issue 3 item 9).
//
//   build/release/bench/cluster_bench                  # every metric, ~60 s on 2 cores
//   build/release/bench/cluster_bench --quick          # tiny slices, a few seconds (CI smoke)
//   build/release/bench/cluster_bench --filter actor   # metrics whose name contains "actor"
//   build/release/bench/cluster_bench --threads 1      # one executor thread per node
//
// Two nodes on this machine: the head lives in this process and drives; one
// worker is this same binary started as `--worker --address 127.0.0.1:P`
// (which weft::run handles). Work is pinned on the worker with
// NodeAffinity{worker, soft = false}, so every task and call crosses the
// loopback TCP connection, both ways.
//
// Prints one JSON line per metric as it is measured,
//   {"bench":"cluster_bench","metric":"<name>","value":<number>,"unit":"<unit>"}
// then a table against the targets of issue 3. The machine's own limits are measured
// in the same run, before the worker starts, and the relative targets use
// them: loopback_rtt_us (a blocking TCP ping-pong between two threads) and
// loopback_gigabytes (blocking TCP streaming between two threads). As in
// microbench, each metric runs a short warm-up, then a few fixed time slices,
// and reports the best slice.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/weft.hpp>

#include "loopback.hpp"
#include "results.hpp"
#include "timing.hpp"

#include "node/child_process.hpp"

// ---------------------------------------------------------------------------
// What the benchmarks call. Registered names are process-wide, hence prefixes.

int cluster_bench_noop() { return 0; }
WEFT_REMOTE(cluster_bench_noop);

// Bytes 8.. hold i mod 256, so the consumer can check what arrived; bytes
// 0..7 hold the steady clock (CLOCK_MONOTONIC, shared by every process on
// the machine) in nanoseconds as the function returns.
std::vector<std::uint8_t> cluster_bench_make_bytes(std::uint64_t n) {
  std::vector<std::uint8_t> v(n);
  const std::uint64_t period = std::min<std::uint64_t>(n, 256);
  for (std::uint64_t i = 0; i < period; ++i) v[i] = static_cast<std::uint8_t>(i);
  for (std::uint64_t done = period; done < n;) {
    const std::uint64_t len = std::min(done, n - done);
    std::memcpy(v.data() + done, v.data(), len);
    done += len;
  }
  if (n >= 8) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    std::memcpy(v.data(), &now, sizeof now);
  }
  return v;
}
WEFT_REMOTE(cluster_bench_make_bytes);

class ClusterBenchActor {
 public:
  int inc(int x) { return x + 1; }
};
WEFT_ACTOR(ClusterBenchActor, &ClusterBenchActor::inc);

// One caller of n_n_actor_calls_async: `n` calls to `actor`, all in flight
// at once, then awaited. Runs on whichever node it is pinned to.
weft::Task<std::uint64_t> cluster_bench_caller(weft::ActorHandle<ClusterBenchActor> actor,
                                               std::uint64_t n) {
  std::vector<weft::ObjectRef<int>> refs;
  refs.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    refs.push_back(actor.call<&ClusterBenchActor::inc>(static_cast<int>(i)));
  }
  std::uint64_t sum = 0;
  for (const auto& r : refs) sum += static_cast<std::uint64_t>(co_await r);
  co_return sum > 0 ? n : 0;
}
WEFT_REMOTE(cluster_bench_caller);

// `n` placement groups created and removed one at a time, from the node this
// runs on: a STRICT_SPREAD group of one small bundle per node.
weft::Task<std::uint64_t> cluster_bench_groups(std::uint64_t n) {
  const std::vector<weft::Resources> bundles(2, weft::Resources{.cpu = 0.01});
  for (std::uint64_t i = 0; i < n; ++i) {
    auto group =
        co_await weft::create_placement_group(bundles, weft::PlacementStrategy::strict_spread);
    co_await weft::remove_placement_group(group);
  }
  co_return n;
}
WEFT_REMOTE(cluster_bench_groups);

// The bytes of every object `refs` name, read where this runs.
weft::Task<std::uint64_t> cluster_bench_count_bytes(
    std::vector<weft::ObjectRef<std::vector<std::uint8_t>>> refs) {
  std::uint64_t bytes = 0;
  for (const auto& r : refs) bytes += (co_await r.view()).size();
  co_return bytes;
}
WEFT_REMOTE(cluster_bench_count_bytes);

namespace {

using weft_bench::Clock;
using weft_bench::keep;
using weft_bench::rate_in_coroutine;
using weft_bench::rate_on_thread;
using weft_bench::seconds_between;
using weft_bench::timing;

// ---------------------------------------------------------------------------
// Configuration and results.

struct Config {
  std::string filter;
  std::size_t sync_batch = 500;  // operations per body call for one-at-a-time metrics
  std::size_t async_batch = 10'000;
  std::size_t object_bytes = std::size_t{1} << 30;
  int object_reps = 3;
  std::size_t nested_refs = 10'000;  // nested_refs_task_s: refs in one argument, each of
  std::size_t nested_ref_bytes = 80'000;
  std::size_t store_bytes = std::size_t{3} << 30;    // head and worker, each
  std::size_t stream_bytes = std::size_t{64} << 20;  // loopback_gigabytes: bytes per body call
  unsigned threads = 0;  // executor threads per node; 0: one per available CPU
};

Config g_config;
weft_bench::Results g_results("cluster_bench");
weft::NodeId g_head = 0;
weft::NodeId g_remote = 0;

bool wanted(std::string_view metric) {
  return g_config.filter.empty() || metric.find(g_config.filter) != std::string_view::npos;
}

void report(std::string metric, double value, std::string unit) {
  g_results.report(std::move(metric), value, std::move(unit));
}

// ---------------------------------------------------------------------------
// The machine's limits (loopback.hpp), measured in the same run.

void bench_loopback_rtt() {
  if (!wanted("loopback_rtt_us")) return;
  report("loopback_rtt_us", 1e6 / weft_bench::loopback::round_trips_per_second(g_config.sync_batch),
         "us");
}

void bench_loopback_bandwidth() {
  if (!wanted("loopback_gigabytes")) return;
  report("loopback_gigabytes", weft_bench::loopback::bytes_per_second(g_config.stream_bytes) / 1e9,
         "GB/s");
}

// ---------------------------------------------------------------------------
// The driver: runs on the head node's executors.

weft::TaskOptions on_node(weft::NodeId node) {
  return weft::TaskOptions{.strategy = weft::NodeAffinity{node, false}};
}

weft::Task<void> remote_tasks_sync() {
  const weft::TaskOptions remote = on_node(g_remote);
  const double rate = co_await rate_in_coroutine([&remote]() -> weft::Task<std::uint64_t> {
    for (std::size_t i = 0; i < g_config.sync_batch; ++i) {
      keep(co_await weft::submit<&cluster_bench_noop>(remote));
    }
    co_return g_config.sync_batch;
  });
  if (wanted("remote_tasks_sync")) report("remote_tasks_sync", rate, "tasks/s");
  if (wanted("remote_task_roundtrip_us")) report("remote_task_roundtrip_us", 1e6 / rate, "us");
}

weft::Task<void> remote_tasks_async() {
  const weft::TaskOptions remote = on_node(g_remote);
  std::vector<weft::ObjectRef<int>> refs;
  refs.reserve(g_config.async_batch);
  const double rate = co_await rate_in_coroutine([&]() -> weft::Task<std::uint64_t> {
    for (std::size_t i = 0; i < g_config.async_batch; ++i) {
      refs.push_back(weft::submit<&cluster_bench_noop>(remote));
    }
    for (const auto& r : refs) keep(co_await r);
    refs.clear();
    co_return g_config.async_batch;
  });
  report("remote_tasks_async", rate, "tasks/s");
}

weft::Task<void> remote_actor_calls_sync(const weft::ActorHandle<ClusterBenchActor>& actor) {
  const double rate = co_await rate_in_coroutine([&actor]() -> weft::Task<std::uint64_t> {
    for (std::size_t i = 0; i < g_config.sync_batch; ++i) {
      keep(co_await actor.call<&ClusterBenchActor::inc>(static_cast<int>(i)));
    }
    co_return g_config.sync_batch;
  });
  report("remote_actor_calls_sync", rate, "calls/s");
}

weft::Task<void> remote_actor_calls_async(const weft::ActorHandle<ClusterBenchActor>& actor) {
  std::vector<weft::ObjectRef<int>> refs;
  refs.reserve(g_config.async_batch);
  const double rate = co_await rate_in_coroutine([&]() -> weft::Task<std::uint64_t> {
    for (std::size_t i = 0; i < g_config.async_batch; ++i) {
      refs.push_back(actor.call<&ClusterBenchActor::inc>(static_cast<int>(i)));
    }
    for (const auto& r : refs) keep(co_await r);
    refs.clear();
    co_return g_config.async_batch;
  });
  report("remote_actor_calls_async", rate, "calls/s");
}

// Two callers, one per node, each calling the actor on the other node with
// async_batch calls in flight; the rate counts the calls of both.
weft::Task<void> n_n_actor_calls_async(const weft::ActorHandle<ClusterBenchActor>& on_remote,
                                       const weft::ActorHandle<ClusterBenchActor>& on_head) {
  const weft::TaskOptions head = on_node(g_head);
  const weft::TaskOptions remote = on_node(g_remote);
  const double rate = co_await rate_in_coroutine([&]() -> weft::Task<std::uint64_t> {
    const std::uint64_t n = g_config.async_batch;
    auto here = weft::submit<&cluster_bench_caller>(head, on_remote, n);
    auto there = weft::submit<&cluster_bench_caller>(remote, on_head, n);
    const std::uint64_t a = co_await here;
    const std::uint64_t b = co_await there;
    co_return a + b;
  });
  report("n_n_actor_calls_async", rate, "calls/s");
}

weft::Task<void> actor_metrics() {
  auto on_remote =
      co_await weft::spawn<ClusterBenchActor>().options({.strategy = weft::NodeAffinity{g_remote}});
  if (wanted("remote_actor_calls_sync")) co_await remote_actor_calls_sync(on_remote);
  if (wanted("remote_actor_calls_async")) co_await remote_actor_calls_async(on_remote);
  if (wanted("n_n_actor_calls_async")) {
    auto on_head =
        co_await weft::spawn<ClusterBenchActor>().options({.strategy = weft::NodeAffinity{g_head}});
    co_await n_n_actor_calls_async(on_remote, on_head);
    weft::kill(on_head);
  }
  weft::kill(on_remote);
}

// Seconds from cluster_bench_make_bytes returning on `node` until its bytes
// are readable on the head (a zero-copy view: no decode).
weft::Task<double> seconds_after_return(weft::NodeId node) {
  const std::uint64_t n = g_config.object_bytes;
  auto ref = weft::submit<&cluster_bench_make_bytes>(on_node(node), n);
  auto view = co_await ref.view();
  const auto readable = Clock::now();
  if (view.size() != n || n < 8) throw std::runtime_error("object_transfer: wrong size");
  for (std::uint64_t i = 8; i < n; i += 4093) {
    if (view[i] != static_cast<std::uint8_t>(i)) {
      throw std::runtime_error("object_transfer: wrong bytes");
    }
  }
  std::int64_t returned_ns = 0;
  std::memcpy(&returned_ns, view.data(), sizeof returned_ns);
  const Clock::time_point returned{std::chrono::nanoseconds(returned_ns)};
  co_return seconds_between(returned, readable);
}

// object_transfer_gigabytes: the time from "result available remotely" to
// "data readable here", isolated without hooks in the transport. The
// producer stamps the steady clock into its result as it returns; the head
// reads the stamp once the bytes are readable. Pinned on the worker, that
// span covers writing the result into the worker's store, sending its
// location, pulling it in 4 MiB chunks into the head's store and resuming
// the awaiting coroutine; pinned on the head, the same span has everything
// but the transfer (store write, seal, resume). The two alternate
// `object_reps` times; transfer time = best remote - best local.
weft::Task<void> object_transfer() {
  double best_local = 1e30;
  double best_remote = 1e30;
  co_await seconds_after_return(g_remote);  // warm-up: both arenas' pages touched once
  co_await seconds_after_return(g_head);
  for (int r = 0; r < g_config.object_reps; ++r) {
    best_local = std::min(best_local, co_await seconds_after_return(g_head));
    best_remote = std::min(best_remote, co_await seconds_after_return(g_remote));
  }
  const double transfer = std::max(best_remote - best_local, 1e-6);
  report("object_local_after_return_s", best_local, "s");
  report("object_remote_after_return_s", best_remote, "s");
  report("object_transfer_gigabytes", static_cast<double>(g_config.object_bytes) / transfer / 1e9,
         "GB/s");
}

// nested_refs_task_s: seconds for one task on the worker whose argument
// names nested_refs objects of nested_ref_bytes put on the head (80 KB
// each: 800 MB, far more than one message carries inline), from submit to
// its result here; best of object_reps.
weft::Task<void> nested_refs_task() {
  std::vector<weft::ObjectRef<std::vector<std::uint8_t>>> refs;
  for (std::size_t i = 0; i < g_config.nested_refs; ++i) {
    refs.push_back(weft::put(
        std::vector<std::uint8_t>(g_config.nested_ref_bytes, static_cast<std::uint8_t>(i))));
  }
  double best = 1e30;
  for (int r = 0; r < g_config.object_reps; ++r) {
    const auto start = Clock::now();
    const std::uint64_t bytes =
        co_await weft::submit<&cluster_bench_count_bytes>(on_node(g_remote), refs);
    best = std::min(best, seconds_between(start, Clock::now()));
    if (bytes != g_config.nested_refs * g_config.nested_ref_bytes) {
      throw std::runtime_error("nested_refs_task: wrong size");
    }
  }
  report("nested_refs_task_s", best, "s");
}

// placement_group_create_removal: groups created and removed one pair at a
// time (Ray's metric) by a driver on the head, where the control store is;
// ..._from_worker: the same loop run on the other node, each pair a round
// trip to the head.
weft::Task<void> placement_groups() {
  if (wanted("placement_group_create_removal")) {
    const double rate = co_await rate_in_coroutine([&]() -> weft::Task<std::uint64_t> {
      co_return co_await cluster_bench_groups(g_config.sync_batch);
    });
    report("placement_group_create_removal", rate, "groups/s");
  }
  if (wanted("placement_group_create_removal_from_worker")) {
    const weft::TaskOptions there{.strategy = weft::NodeAffinity{g_remote}};
    const double rate = co_await rate_in_coroutine([&]() -> weft::Task<std::uint64_t> {
      co_return co_await weft::submit<&cluster_bench_groups>(there, g_config.sync_batch);
    });
    report("placement_group_create_removal_from_worker", rate, "groups/s");
  }
}

weft::Task<int> driver(weft::Runtime&) {
  if (wanted("remote_tasks_sync") || wanted("remote_task_roundtrip_us")) {
    co_await remote_tasks_sync();
  }
  if (wanted("remote_tasks_async")) co_await remote_tasks_async();
  if (wanted("remote_actor_calls_sync") || wanted("remote_actor_calls_async") ||
      wanted("n_n_actor_calls_async")) {
    co_await actor_metrics();
  }
  if (wanted("placement_group_create_removal") ||
      wanted("placement_group_create_removal_from_worker")) {
    co_await placement_groups();
  }
  if (wanted("object_transfer_gigabytes") || wanted("object_local_after_return_s") ||
      wanted("object_remote_after_return_s")) {
    co_await object_transfer();
  }
  if (wanted("nested_refs_task_s")) co_await nested_refs_task();
  co_return 0;
}

bool wants_cluster() {
  for (const char* m :
       {"remote_tasks_sync", "remote_task_roundtrip_us", "remote_tasks_async",
        "remote_actor_calls_sync", "remote_actor_calls_async", "n_n_actor_calls_async",
        "placement_group_create_removal", "placement_group_create_removal_from_worker",
        "object_transfer_gigabytes", "object_local_after_return_s", "object_remote_after_return_s",
        "nested_refs_task_s"}) {
    if (wanted(m)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// The table.

enum class Goal { none, at_least, rtt_ratio, bandwidth_ratio, machine };

struct Target {
  const char* metric;
  Goal goal;
  double bound;  // at_least: minimum; ratios: the factor
};

constexpr Target kTargets[] = {
    {"loopback_rtt_us", Goal::machine, 0},
    {"loopback_gigabytes", Goal::machine, 0},
    {"remote_tasks_sync", Goal::none, 0},
    {"remote_tasks_async", Goal::at_least, 250'000},
    {"remote_task_roundtrip_us", Goal::rtt_ratio, 2.0},
    {"remote_actor_calls_sync", Goal::none, 0},
    {"remote_actor_calls_async", Goal::at_least, 300'000},
    {"n_n_actor_calls_async", Goal::none, 0},
    {"placement_group_create_removal", Goal::at_least, 20'000},
    {"placement_group_create_removal_from_worker", Goal::none, 0},
    {"object_local_after_return_s", Goal::none, 0},
    {"object_remote_after_return_s", Goal::none, 0},
    {"object_transfer_gigabytes", Goal::bandwidth_ratio, 0.6},
    {"nested_refs_task_s", Goal::none, 0},
};

// "vs target" is always value / goal for throughputs and goal / value for
// times, so 1.00x or more meets the target.
void print_table() {
  const weft_bench::Result* rtt = g_results.find("loopback_rtt_us");
  const weft_bench::Result* bw = g_results.find("loopback_gigabytes");
  std::printf("\n%-43s %14s  %-8s %26s  %s\n", "metric", "value", "unit", "target", "vs target");
  std::printf("%s\n", std::string(112, '-').c_str());
  for (const auto& target : kTargets) {
    const weft_bench::Result* r = g_results.find(target.metric);
    if (r == nullptr) continue;
    std::string goal = "-";
    std::string ratio = "-";
    char buf[96];
    if (target.goal == Goal::machine) {
      goal = "(machine limit)";
    } else if (target.goal == Goal::at_least) {
      goal = ">= " + weft_bench::with_commas(target.bound);
      std::snprintf(buf, sizeof buf, "%.2fx%s", r->value / target.bound,
                    r->value >= target.bound ? "" : "  BELOW");
      ratio = buf;
    } else if (target.goal == Goal::rtt_ratio && rtt != nullptr) {
      const double want = target.bound * rtt->value;
      std::snprintf(buf, sizeof buf, "<= %.0f x loopback = %.1f", target.bound, want);
      goal = buf;
      std::snprintf(buf, sizeof buf, "%.2fx (remote/loopback %.2f)%s", want / r->value,
                    r->value / rtt->value, r->value <= want ? "" : "  BELOW");
      ratio = buf;
    } else if (target.goal == Goal::bandwidth_ratio && bw != nullptr) {
      const double want = target.bound * bw->value;
      std::snprintf(buf, sizeof buf, ">= %.1f x loopback = %.2f", target.bound, want);
      goal = buf;
      std::snprintf(buf, sizeof buf, "%.2fx (transfer/loopback %.2f)%s", r->value / want,
                    r->value / bw->value, r->value >= want ? "" : "  BELOW");
      ratio = buf;
    }
    std::printf("%-43s %14s  %-8s %26s  %s\n", r->metric.c_str(),
                weft_bench::with_commas(r->value).c_str(), r->unit.c_str(), goal.c_str(),
                ratio.c_str());
  }
  std::printf(
      "\n2 nodes (head in this process, 1 worker process), loopback TCP; best of %d slices of "
      "%.2f s after %.2f s warm-up; object %.0f MiB, best of %d; %u CPUs available\n",
      timing.reps, timing.slice_s, timing.warmup_s,
      static_cast<double>(g_config.object_bytes) / (1 << 20), g_config.object_reps,
      weft::available_cpus());
}

int usage(const char* argv0, int rc) {
  std::fprintf(rc == 0 ? stdout : stderr,
               "usage: %s [--quick] [--filter SUBSTR] [--threads N]\n"
               "  --quick          tiny time slices and a 64 MiB object (CI smoke run)\n"
               "  --filter SUBSTR  only metrics whose name contains SUBSTR\n"
               "  --threads N      executor threads on each node (default: one per core)\n",
               argv0);
  return rc;
}

std::string random_token() {
  std::random_device rd;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

weft::NodeId random_node_id() {
  std::random_device rd;
  return (((static_cast<weft::NodeId>(rd()) << 16) ^ rd()) & 0xffffffffffffULL) | 1;
}

// Starts the head here and one worker process, runs the driver, stops both.
int run_cluster() {
  weft::Node node({.id = random_node_id(),
                   .threads = g_config.threads,
                   .store = {.capacity = g_config.store_bytes}});
  const std::string token = random_token();
  node.start_cluster({.head = true, .token = token});
  g_head = node.id();
  const std::string address = "127.0.0.1:" + std::to_string(node.cluster()->port());
  std::vector<std::string> args{"--worker", "--address", address, "--object-store-memory",
                                std::to_string(g_config.store_bytes)};
  if (g_config.threads != 0) {
    args.push_back("--threads");
    args.push_back(std::to_string(g_config.threads));
  }
  auto worker = weft::detail::ChildProcess::spawn_self(args, {"WEFT_CLUSTER_TOKEN=" + token});
  if (!node.cluster()->wait_for_nodes(2, std::chrono::seconds(30))) {
    throw std::runtime_error("the worker did not join within 30 s");
  }
  for (const auto& n : node.cluster()->view().nodes) {
    if (n.alive && n.info.id != g_head) g_remote = n.info.id;
  }
  const int rc = node.run(driver);
  node.cluster()->stop_cluster();
  for (int i = 0; i < 200 && worker.running(); ++i) ::usleep(10'000);
  return rc;  // a worker still running is killed by its destructor
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--worker") {
      return weft::run(argc, argv, [](weft::Runtime&) -> weft::Task<int> { co_return 0; });
    }
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      timing.warmup_s = 0;
      timing.slice_s = 0.01;
      timing.reps = 1;
      g_config.sync_batch = 100;
      g_config.async_batch = 1000;
      g_config.object_bytes = std::size_t{64} << 20;
      g_config.object_reps = 1;
      g_config.nested_ref_bytes = 8'000;
      g_config.store_bytes = std::size_t{512} << 20;
      g_config.stream_bytes = std::size_t{16} << 20;
    } else if (arg == "--filter" && i + 1 < argc) {
      g_config.filter = argv[++i];
    } else if (arg == "--threads" && i + 1 < argc) {
      g_config.threads = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--help" || arg == "-h") {
      return usage(argv[0], 0);
    } else {
      return usage(argv[0], 2);
    }
  }

  try {
    bench_loopback_rtt();
    bench_loopback_bandwidth();
    const int rc = wants_cluster() ? run_cluster() : 0;
    if (g_results.empty()) {
      std::fprintf(stderr, "cluster_bench: no metric matches --filter '%s'\n",
                   g_config.filter.c_str());
      return 2;
    }
    print_table();
    return rc;
  } catch (const weft::TaskError& e) {
    std::fprintf(stderr, "cluster_bench: %s in %s: %s\n", e.type_name().c_str(),
                 e.task_name().c_str(), e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cluster_bench: %s\n", e.what());
  }
  return 1;
}
