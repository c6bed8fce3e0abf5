// Where tasks run across real node processes (weft::pick_node, DESIGN §4):
// hybrid keeps work local while the node has room and then overflows, spread
// reaches every node, node affinity hard and soft, and locality draws a task
// to the node holding its large argument.
//
// The head has 2 cpus and each worker 1 (local_cluster.hpp). The sleeping
// tasks hold their node's slot while they sleep, so a node counts as full
// for as long as a test needs it to.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <set>
#include <string>
#include <vector>

#include "cluster_remotes.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using cluster_test::LocalCluster;
using cluster_test::on;
using cluster_test::within;

namespace {

// Whole cpus of node `id`: the tasks it runs at once before placement counts it full.
std::size_t slots_of(LocalCluster& cluster, weft::NodeId id) {
  return static_cast<std::size_t>(cluster.node_view(id).info.totals.cpu);
}

// Resumes once every alive node reports no task in flight, so placement
// starts from idle nodes rather than from a report that lags the last test
// step; false if that takes more than 5 s.
weft::Task<bool> nodes_idle(LocalCluster& cluster) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    const auto view = cluster.view();
    const bool idle = std::all_of(view.nodes.begin(), view.nodes.end(), [](const auto& n) {
      return !n.alive || n.load.tasks_in_flight == 0;
    });
    if (idle) co_return true;
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    co_await weft::sleep_for(10ms);
  }
}

weft::TaskOptions spread() {
  weft::TaskOptions o;
  o.strategy = weft::SpreadStrategy{};
  return o;
}

// The pids `refs` ran in, in order.
weft::Task<std::vector<int>> pids_of(std::vector<weft::ObjectRef<int>> refs) {
  std::vector<int> pids;
  for (auto& r : refs) pids.push_back(co_await within(r, 20s));
  co_return pids;
}

}  // namespace

TEST_CASE("hybrid keeps tasks on the submitting node while it has room, then overflows") {
  LocalCluster cluster(3);
  const std::size_t head_slots = slots_of(cluster, cluster.head_id());
  REQUIRE(head_slots >= 1);
  const int head_pid = cluster.pid_of(cluster.head_id());

  const auto pids = cluster.head().run([&](weft::Runtime&) -> weft::Task<std::vector<int>> {
    if (!co_await nodes_idle(cluster)) co_return std::vector<int>{};
    std::vector<weft::ObjectRef<int>> refs;
    for (std::size_t i = 0; i < head_slots + 2; ++i) {
      refs.push_back(weft::submit<&cluster_sleep_then_pid>(std::int64_t{500}));
    }
    co_return co_await pids_of(std::move(refs));
  });

  REQUIRE(pids.size() == head_slots + 2);
  for (std::size_t i = 0; i < head_slots; ++i) CHECK(pids[i] == head_pid);
  // The head is full: one task to each worker, the least loaded counting what was sent.
  CHECK(std::set<int>(pids.begin() + static_cast<std::ptrdiff_t>(head_slots), pids.end()) ==
        std::set<int>{cluster.worker(0).pid(), cluster.worker(1).pid()});
}

TEST_CASE("spread puts tasks on every node") {
  LocalCluster cluster(3);
  std::set<int> all;
  for (const auto& n : cluster.view().nodes) all.insert(n.info.pid);

  const auto pids = cluster.head().run([&](weft::Runtime&) -> weft::Task<std::vector<int>> {
    if (!co_await nodes_idle(cluster)) co_return std::vector<int>{};
    std::vector<weft::ObjectRef<int>> refs;
    for (int i = 0; i < 6; ++i) {
      refs.push_back(weft::submit<&cluster_sleep_then_pid>(spread(), std::int64_t{200}));
    }
    co_return co_await pids_of(std::move(refs));
  });

  REQUIRE(pids.size() == 6);
  // Round-robin: the first three each on a node of their own, every node used.
  CHECK(std::set<int>(pids.begin(), pids.begin() + 3) == all);
  CHECK(std::set<int>(pids.begin(), pids.end()) == all);
}

TEST_CASE("hard node affinity runs every task on its node, even while that node is full") {
  LocalCluster cluster(3);
  const weft::NodeId a = cluster.worker_id(0);

  const auto pids = cluster.head().run([&](weft::Runtime&) -> weft::Task<std::vector<int>> {
    std::vector<weft::ObjectRef<int>> refs;
    for (int i = 0; i < 3; ++i) {
      refs.push_back(weft::submit<&cluster_sleep_then_pid>(on(a), std::int64_t{200}));
    }
    co_return co_await pids_of(std::move(refs));
  });

  CHECK(pids == std::vector<int>(3, cluster.worker(0).pid()));
}

TEST_CASE("soft node affinity runs on its node while it has room, else falls back") {
  LocalCluster cluster(3);
  const weft::NodeId a = cluster.worker_id(0);
  const int head_pid = cluster.pid_of(cluster.head_id());

  struct Seen {
    int while_free = 0;
    int while_full = 0;
    int busy = 0;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    Seen s;
    s.while_free = co_await within(weft::submit<&cluster_pid>(on(a, true)));
    if (!co_await nodes_idle(cluster)) co_return s;
    // A's one slot is taken: the soft task stays here, where there is room.
    auto busy = weft::submit<&cluster_sleep_then_pid>(on(a), std::int64_t{1500});
    s.while_full = co_await within(weft::submit<&cluster_pid>(on(a, true)));
    s.busy = co_await within(busy);
    co_return s;
  });

  CHECK(seen.while_free == cluster.worker(0).pid());
  CHECK(seen.while_full == head_pid);
  CHECK(seen.busy == cluster.worker(0).pid());
}

TEST_CASE("affinity to a dead node: soft runs elsewhere, hard fails naming the node") {
  LocalCluster cluster(3);
  const weft::NodeId gone = cluster.worker_id(1);
  cluster.kill_worker(1);
  REQUIRE(cluster_test::eventually([&] { return !cluster.node_view(gone).alive; }, 10s));

  struct Seen {
    int soft_pid = 0;
    std::string hard_error;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    Seen s;
    s.soft_pid = co_await within(weft::submit<&cluster_pid>(on(gone, true)));
    try {
      co_await within(weft::submit<&cluster_pid>(on(gone)));
      s.hard_error = "no error";
    } catch (const weft::InfeasibleError& e) {
      s.hard_error = e.what();
    }
    co_return s;
  });

  CHECK(seen.soft_pid != cluster.worker(1).pid());
  CHECK((seen.soft_pid == cluster.worker(0).pid() ||
         seen.soft_pid == cluster.pid_of(cluster.head_id())));
  INFO(seen.hard_error);
  CHECK(seen.hard_error.find("task cluster_pid cannot run") != std::string::npos);
  CHECK(seen.hard_error.find(fmt::format("node {:x}, which is not alive", gone)) !=
        std::string::npos);
}

TEST_CASE("a task asking more than any node has fails with InfeasibleError naming it") {
  LocalCluster cluster(2);

  const std::string refusal = cluster.head().run([&](weft::Runtime&) -> weft::Task<std::string> {
    const weft::TaskOptions huge{.resources = {.cpu = 64}};
    std::string what = "no InfeasibleError";
    try {
      co_await within(weft::submit<&cluster_pid>(huge));
    } catch (const weft::InfeasibleError& e) {
      what = e.what();
    }
    co_return what;
  });

  INFO(refusal);
  CHECK(refusal.find("task cluster_pid can never run: it asks for {cpu: 64}") != std::string::npos);
  CHECK(refusal.find("no alive node has that much in total") != std::string::npos);
}

// Today every object lives with its owner (and a copy wherever it was read),
// so the object here is one a worker put: the worker owns and holds it, and
// the head holds the copy it pulled when the ref arrived inside a result.
TEST_CASE("a task whose large argument is held on another node runs there") {
  LocalCluster cluster(3);
  const weft::NodeId w0 = cluster.worker_id(0), w1 = cluster.worker_id(1);
  // Ties between equally idle nodes go to the smaller id, so the object goes
  // to the larger: only its bytes can draw the task there.
  const weft::NodeId holder = std::max(w0, w1);
  const int holder_pid = cluster.pid_of(holder);
  const std::size_t head_slots = slots_of(cluster, cluster.head_id());
  constexpr std::uint64_t n = 4 << 20;

  struct Seen {
    std::vector<std::uint64_t> sum;
    std::vector<int> fillers;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    Seen s;
    auto pair = co_await within(weft::submit<&cluster_put_pair>(on(holder), 1, n, 8u));
    co_await within(pair.second);  // the head's copy is here too
    if (!co_await nodes_idle(cluster)) co_return s;
    // Fill the head, so the task must leave it; both workers are idle.
    std::vector<weft::ObjectRef<int>> fillers;
    for (std::size_t i = 0; i < head_slots; ++i) {
      fillers.push_back(
          weft::submit<&cluster_sleep_then_pid>(on(cluster.head_id()), std::int64_t{1000}));
    }
    s.sum = co_await within(weft::submit<&cluster_sum_bytes>(pair.second));
    s.fillers = co_await pids_of(std::move(fillers));
    co_return s;
  });

  REQUIRE(seen.sum.size() == 3);
  CHECK(seen.sum[0] == cluster_expected_sum(n, 8));
  CHECK(static_cast<int>(seen.sum[2]) == holder_pid);
  CHECK(seen.fillers == std::vector<int>(head_slots, cluster.pid_of(cluster.head_id())));
}

TEST_CASE("when a node dies, its soft-affinity tasks rerun elsewhere and hard ones fail") {
  LocalCluster cluster(3);
  const weft::NodeId doomed = cluster.worker_id(1);
  const int doomed_pid = cluster.worker(1).pid();

  struct Seen {
    int soft_pid = 0;
    std::string hard_error;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    Seen s;
    // Both are sent to the doomed node: the soft one while it has room.
    auto soft = weft::submit<&cluster_sleep_then_pid>(on(doomed, true), std::int64_t{2000});
    auto hard = weft::submit<&cluster_sleep_then_pid>(on(doomed), std::int64_t{2000});
    cluster.kill_worker(1);
    s.soft_pid = co_await within(soft, 20s);
    try {
      co_await within(hard, 20s);
      s.hard_error = "no error";
    } catch (const weft::InfeasibleError& e) {
      s.hard_error = e.what();
    }
    co_return s;
  });

  CHECK(seen.soft_pid != 0);
  CHECK(seen.soft_pid != doomed_pid);
  INFO(seen.hard_error);
  CHECK(seen.hard_error.find(fmt::format("node {:x}, which is not alive", doomed)) !=
        std::string::npos);
}
