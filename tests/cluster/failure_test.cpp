// Node failure: real worker processes are SIGKILLed while they hold work.
// The head notices within its failure timeout (1.5 s without heartbeats).
#include <chrono>
#include <cstdint>
#include <string>

#include "cluster_remotes.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using cluster_test::LocalCluster;
using cluster_test::on;

namespace {

weft::ActorHandle<ClusterCounter> counter_on(LocalCluster& cluster, weft::NodeId node) {
  return cluster.head().run([&](weft::Runtime&) -> weft::Task<weft::ActorHandle<ClusterCounter>> {
    weft::ActorOptions options;
    options.strategy = weft::NodeAffinity{node, false};
    co_return co_await weft::spawn<ClusterCounter>().options(options);
  });
}

}  // namespace

TEST_CASE("a task whose node is killed while it runs is retried on another node") {
  LocalCluster cluster(3);
  const weft::NodeId b = cluster.worker_id(0);
  const int b_pid = cluster.worker(0).pid();
  weft::Node::ThreadScope scope(cluster.head());

  const auto start = std::chrono::steady_clock::now();
  auto ref = weft::submit<&cluster_sleep_then_pid>(on(b, true), std::int64_t{1000});
  const bool running_on_b =
      cluster_test::eventually([&] { return cluster.node_view(b).load.tasks_in_flight > 0; }, 5s);
  cluster.kill_worker(0);
  int pid = 0;
  REQUIRE_NOTHROW(pid = weft::get(ref, 10s));
  const auto took = std::chrono::steady_clock::now() - start;

  CHECK(running_on_b);
  CHECK(pid != b_pid);
  CHECK((pid == static_cast<int>(getpid()) || pid == cluster.worker(1).pid()));
  CHECK_FALSE(cluster.node_view(b).alive);
  CHECK(took < 10s);
}

TEST_CASE("a pending call to an actor on a killed node fails with ActorDiedError") {
  LocalCluster cluster(3);
  const weft::NodeId c = cluster.worker_id(1);
  auto counter = counter_on(cluster, c);
  weft::Node::ThreadScope scope(cluster.head());
  REQUIRE(weft::get(counter.call<&ClusterCounter::pid>(), 10s) == cluster.worker(1).pid());

  auto pending = counter.call<&ClusterCounter::slow_add>(1, std::int64_t{20000});
  cluster.kill_worker(1);

  std::string error;
  try {
    weft::get(pending, 10s);
  } catch (const weft::ActorDiedError& e) {
    error = e.what();
  }
  CHECK(error.find("died") != std::string::npos);
}

// Fails today: the proxy stays alive and the call waits for a node that is
// gone (see the report).
TEST_CASE("a call to an actor whose node has died fails instead of hanging") {
  LocalCluster cluster(3);
  const weft::NodeId c = cluster.worker_id(1);
  auto counter = counter_on(cluster, c);
  weft::Node::ThreadScope scope(cluster.head());
  REQUIRE(weft::get(counter.call<&ClusterCounter::add>(1), 10s) == 1);
  cluster.kill_worker(1);
  REQUIRE(cluster_test::eventually([&] { return !cluster.node_view(c).alive; }, 5s));

  auto late = counter.call<&ClusterCounter::add>(1);
  CHECK_THROWS_AS(weft::get(late, 3s), weft::ActorDiedError);
}

// Fails today: the send to the dead node fails, but the task is never
// failed (see the report).
TEST_CASE("a task pinned to a node that has died fails instead of hanging") {
  LocalCluster cluster(3);
  const weft::NodeId c = cluster.worker_id(1);
  weft::Node::ThreadScope scope(cluster.head());
  cluster.kill_worker(1);
  REQUIRE(cluster_test::eventually([&] { return !cluster.node_view(c).alive; }, 5s));

  auto pinned = weft::submit<&cluster_pid>(on(c));
  CHECK_THROWS_AS(weft::get(pinned, 3s), weft::Error);
  // ... and not because it timed out.
  CHECK(pinned.is_ready());
}

TEST_CASE("a task pinned to a node that dies while it runs there fails instead of hanging") {
  LocalCluster cluster(3);
  const weft::NodeId c = cluster.worker_id(1);
  weft::Node::ThreadScope scope(cluster.head());
  auto pinned = weft::submit<&cluster_sleep_then_pid>(on(c), std::int64_t{20000});
  REQUIRE(
      cluster_test::eventually([&] { return cluster.node_view(c).load.tasks_in_flight > 0; }, 5s));
  const auto killed = std::chrono::steady_clock::now();
  cluster.kill_worker(1);

  std::string error;
  try {
    weft::get(pinned, 10s);
  } catch (const weft::TimeoutError&) {
    error = "timed out";
  } catch (const weft::Error& e) {
    error = e.what();
  }
  const auto took = std::chrono::steady_clock::now() - killed;
  INFO(error);
  CHECK(error.find(fmt::format("{:x}", c)) != std::string::npos);
  CHECK(error.find("not alive") != std::string::npos);
  // The head's failure timeout (1.5 s) and a view, not the get's 10 s.
  CHECK(took < 5s);
}
