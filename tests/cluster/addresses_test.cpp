// Nodes on other addresses than 127.0.0.1: a cluster whose nodes advertise
// a host name (peers resolve it), and a head bound to every address.
// Multi-host runs are tests/netns/run.sh.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "cluster_remotes.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using cluster_test::on;
using cluster_test::within;

TEST_CASE("a cluster whose nodes advertise a host name runs tasks and moves refs across them") {
  const std::string token = cluster_test::random_hex(16);
  weft::Node head(weft::NodeOptions{
      .id = cluster_test::random_node_id(), .threads = 2, .store = {.capacity = 256 << 20}});
  head.start_cluster({.head = true, .advertise_host = "localhost", .token = token});
  weft::detail::ClusterLink& link = *head.cluster();
  CHECK(link.host() == "localhost");
  std::deque<weft::detail::ChildProcess> workers;
  for (int i = 0; i < 2; ++i) {
    workers.push_back(weft::detail::ChildProcess::spawn_self(
        {"--worker", "--address", fmt::format("localhost:{}", link.port()), "--advertise",
         "localhost", "--threads", "1", "--object-store-memory", "256M"},
        {"WEFT_CLUSTER_TOKEN=" + token}));
  }
  REQUIRE(link.wait_for_nodes(3, 30s));
  std::vector<weft::NodeId> ids;
  std::vector<int> pids;
  for (const auto& n : link.view().nodes) {
    CHECK(n.info.host == "localhost");
    if (n.info.id == head.id()) continue;
    ids.push_back(n.info.id);
    pids.push_back(n.info.pid);
  }
  REQUIRE(ids.size() == 2);

  constexpr std::uint64_t n = 8 << 20;  // pulled in chunks, not inlined
  const auto seen = head.run([&](weft::Runtime&) -> weft::Task<std::vector<std::uint64_t>> {
    auto bytes = weft::submit<&cluster_bytes>(on(ids[0]), n, std::uint32_t{3});
    auto summed = weft::submit<&cluster_sum_bytes>(on(ids[1]), bytes);
    auto out = co_await within(std::move(summed), 20s);
    out.push_back(
        static_cast<std::uint64_t>(co_await within(weft::submit<&cluster_pid>(on(ids[0])))));
    co_return out;
  });
  REQUIRE(seen.size() == 4);
  CHECK(seen[0] == cluster_expected_sum(n, 3));
  CHECK(seen[1] == n);
  CHECK(static_cast<int>(seen[2]) == pids[1]);
  CHECK(static_cast<int>(seen[3]) == pids[0]);

  link.stop_cluster();
  for (auto& w : workers) CHECK(cluster_test::eventually([&] { return !w.running(); }, 5s));
}

TEST_CASE("a head bound to 0.0.0.0 advertises one of its own addresses, and is reached there") {
  const std::string token = cluster_test::random_hex(16);
  weft::Node head(weft::NodeOptions{
      .id = cluster_test::random_node_id(), .threads = 1, .store = {.capacity = 64 << 20}});
  head.start_cluster({.head = true, .bind_host = "0.0.0.0", .token = token});
  const std::string host = head.cluster()->host();
  CHECK(host != "0.0.0.0");
  CHECK_FALSE(host.empty());
  auto worker = weft::detail::ChildProcess::spawn_self(
      {"--worker", "--address", fmt::format("{}:{}", host, head.cluster()->port()), "--threads",
       "1", "--object-store-memory", "64M"},
      {"WEFT_CLUSTER_TOKEN=" + token});
  REQUIRE(head.cluster()->wait_for_nodes(2, 30s));
  weft::NodeId worker_id = 0;
  for (const auto& n : head.cluster()->view().nodes) {
    if (n.info.pid == worker.pid()) worker_id = n.info.id;
  }
  REQUIRE(worker_id != 0);
  const int ran_in = head.run([&](weft::Runtime&) -> weft::Task<int> {
    co_return co_await within(weft::submit<&cluster_pid>(on(worker_id)));
  });
  CHECK(ran_in == worker.pid());
  head.cluster()->stop_cluster();
  CHECK(cluster_test::eventually([&] { return !worker.running(); }, 5s));
}

TEST_CASE("a node bound to an address not on this host is refused with a clear error") {
  weft::Node node(weft::NodeOptions{
      .id = cluster_test::random_node_id(), .threads = 1, .store = {.capacity = 16 << 20}});
  CHECK_THROWS_WITH(node.start_cluster({.head = true, .bind_host = "203.0.113.77", .token = "t"}),
                    Catch::Contains("203.0.113.77 is not an address of this host"));
}

TEST_CASE("the children of --local-nodes listen and are reached where the head is") {
#ifndef CLUSTER_PI_PATH
  WARN("the examples are not built; skipped");
#else
  const auto run = cluster_test::run_process(CLUSTER_PI_PATH,
                                             {"--local-nodes", "3", "--advertise", "localhost",
                                              "--threads", "1", "--object-store-memory", "256M"},
                                             {}, 30s);
  INFO(run.output);
  CHECK_FALSE(run.timed_out);
  CHECK(run.status == 0);
  CHECK(run.output.find("3-node cluster up at localhost:") != std::string::npos);
  // Every node, the two children included, says it is reached at localhost.
  std::size_t joined = 0;
  for (std::size_t at = 0;
       (at = run.output.find("joined from localhost:", at)) != std::string::npos; ++at) {
    ++joined;
  }
  CHECK(joined == 2);
  CHECK(run.output.find("pi ~=") != std::string::npos);
#endif
}
