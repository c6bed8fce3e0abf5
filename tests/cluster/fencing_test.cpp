// Fencing by node incarnation: a node the head declared dead (here stalled
// with SIGSTOP past the 1.5 s failure timeout, as a partition would cut it
// off) is refused when it comes back, and a worker rejoins as a new node.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cluster_remotes.hpp"
#include "job_driver.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using cluster_test::LocalCluster;
using cluster_test::on;
using cluster_test::within;

namespace {

// The id of the alive node in process `pid` (0 if none).
weft::NodeId alive_node_of(LocalCluster& cluster, int pid) {
  for (const auto& v : cluster.view().nodes) {
    if (v.alive && v.info.pid == pid) return v.info.id;
  }
  return 0;
}

}  // namespace

TEST_CASE("a worker stalled past the failure timeout is fenced and rejoins as a new node") {
  LocalCluster cluster(3);
  const weft::NodeId old_id = cluster.worker_id(0);
  const int pid = cluster.worker(0).pid();
  weft::Node::ThreadScope scope(cluster.head());
  // Work it holds when it stalls is run again elsewhere, once.
  auto held = weft::submit<&cluster_sleep_then_pid>(on(old_id, true), std::int64_t{300});
  REQUIRE(cluster_test::eventually(
      [&] { return cluster.node_view(old_id).load.tasks_in_flight > 0; }, 5s));

  cluster.worker(0).signal(SIGSTOP);
  const bool declared_dead =
      cluster_test::eventually([&] { return !cluster.node_view(old_id).alive; }, 10s);
  cluster.worker(0).signal(SIGCONT);
  REQUIRE(declared_dead);
  int ran_in = 0;
  REQUIRE_NOTHROW(ran_in = weft::get(held, 10s));
  CHECK(ran_in != pid);

  weft::NodeId new_id = 0;
  REQUIRE(cluster_test::eventually(
      [&] {
        new_id = alive_node_of(cluster, pid);
        return new_id != 0;
      },
      15s));
  CHECK(new_id != old_id);
  CHECK_FALSE(cluster.node_view(old_id).alive);
  CHECK(cluster.alive_nodes() == 3);

  // The new incarnation does work; so do the others.
  CHECK(weft::get(weft::submit<&cluster_pid>(on(new_id)), 10s) == pid);
  CHECK(weft::get(weft::submit<&cluster_pid>(on(cluster.worker_id(1))), 10s) ==
        cluster.worker(1).pid());
  CHECK(weft::get(weft::submit<&cluster_add>(on(new_id), 2, 3), 10s) == 5);
}

TEST_CASE("a driver whose node was declared dead fails saying so") {
  LocalCluster cluster(2);
  // Run as a user runs it, its output captured; its pid comes from the key
  // it puts once running.
  cluster_test::ProcessResult result;
  std::thread driver([&] {
    result = cluster_test::run_process(cluster_test::self_exe(),
                                       {"--job-driver", "--address", cluster.address(), "--threads",
                                        "1", "--object-store-memory", "64M"},
                                       {cluster.token_env()}, 60s);
  });
  int pid = 0;
  const bool started = cluster_test::eventually(
      [&] {
        const auto keys =
            cluster.head().run([](weft::Runtime&) -> weft::Task<std::vector<std::string>> {
              co_return co_await weft::kv_keys("job-driver/");
            });
        if (!keys.empty()) pid = std::stoi(keys.front().substr(std::string("job-driver/").size()));
        return pid != 0;
      },
      20s);
  weft::NodeId node = 0;
  bool declared_dead = false;
  if (started && cluster_test::eventually([&] { return (node = cluster.node_of(pid)) != 0; }, 5s)) {
    kill(pid, SIGSTOP);
    declared_dead = cluster_test::eventually([&] { return !cluster.node_view(node).alive; }, 10s);
    // Released while stalled: its driver function returns 0 when it wakes.
    cluster.head().run([&](weft::Runtime&) -> weft::Task<void> {
      co_await weft::kv_put(cluster_test::job_driver_release_key(pid), "go");
    });
    kill(pid, SIGCONT);
  }
  driver.join();
  INFO(result.output);
  REQUIRE(started);
  REQUIRE(declared_dead);
  CHECK_FALSE(result.timed_out);
  CHECK(result.status == 1);
  CHECK(result.output.find(fmt::format("the head declared node {:x} dead", node)) !=
        std::string::npos);
  CHECK(result.output.find("this driver's work in the cluster is lost") != std::string::npos);
  // The head's verdict crossed the wire as a refusal; nothing of that shows.
  CHECK(result.output.find("remote exception") == std::string::npos);
  CHECK(result.output.find("weft-error") == std::string::npos);
  CHECK(cluster.alive_nodes() == 2);
}
