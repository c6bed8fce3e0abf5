// Jobs: every driver is a job in the head's table from its start to its
// end, and `weft status` lists it. The driver is a separate program joining
// with --address (job_driver.hpp), as a user runs one.
#include <signal.h>

#include <sstream>
#include <string>
#include <vector>

#include "job_driver.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using cluster_test::LocalCluster;

namespace {

// A job driver process joined to `cluster`, running until released.
weft::detail::ChildProcess start_driver(LocalCluster& cluster) {
  return weft::detail::ChildProcess::spawn_self({"--job-driver", "--address", cluster.address(),
                                                 "--threads", "1", "--object-store-memory", "64M"},
                                                {cluster.token_env()});
}

bool driver_running(LocalCluster& cluster, int pid) {
  return cluster.head().run([&](weft::Runtime&) -> weft::Task<bool> {
    co_return (co_await weft::kv_get(cluster_test::job_driver_running_key(pid))).has_value();
  });
}

// The job rows of `weft status` whose driver is `node`: "<date> <time> <state>" each.
std::vector<std::string> jobs_of(LocalCluster& cluster, weft::NodeId node) {
  const auto status = cluster_test::run_process(
      WEFT_TOOL_PATH, {"status", "--address", cluster.address()}, {cluster.token_env()}, 20s);
  INFO(status.output);
  REQUIRE(status.status == 0);
  std::vector<std::string> rows;
  std::istringstream lines(status.output);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string job, driver, date, time, state, extra;
    fields >> job >> driver >> date >> time >> state;
    if (driver == fmt::format("{:x}", node) && !(fields >> extra) &&
        job.find_first_not_of("0123456789") == std::string::npos) {
      rows.push_back(date + " " + time + " " + state);
    }
  }
  return rows;
}

// Whether a status row's start looks like "2024-05-01 12:00:03".
bool has_start_time(const std::string& row) {
  return row.size() > 19 && row[4] == '-' && row[7] == '-' && row[10] == ' ' && row[13] == ':';
}

}  // namespace

TEST_CASE("a joined driver is a running job, then a finished one, and its node left, not dead") {
  LocalCluster cluster(1);
  auto driver = start_driver(cluster);
  REQUIRE(cluster_test::eventually([&] { return driver_running(cluster, driver.pid()); }, 30s));
  const weft::NodeId node = cluster.node_of(driver.pid());
  REQUIRE(node != 0);

  const auto while_running = jobs_of(cluster, node);
  cluster.head().run([&](weft::Runtime&) -> weft::Task<int> {
    co_await weft::kv_put(cluster_test::job_driver_release_key(driver.pid()), "go");
    co_return 0;
  });
  const bool exited = cluster_test::eventually([&] { return !driver.running(); }, 30s);
  // The driver waited for the head's answer to its leave before it exited:
  // no failure timeout has to pass for the view to say so.
  const weft::NodeView left = cluster.node_view(node);
  const auto after = jobs_of(cluster, node);

  REQUIRE(while_running.size() == 1);
  CHECK(has_start_time(while_running[0]));
  CHECK(while_running[0].ends_with(" running"));
  CHECK(exited);
  CHECK(driver.wait() == 0);
  REQUIRE(after.size() == 1);
  CHECK(after[0].ends_with(" finished"));
  // Listed as left, not dead, holding nothing.
  CHECK_FALSE(left.alive);
  CHECK(left.left);
  CHECK(weft::ResourceSet(left.load.available) == weft::ResourceSet(left.info.totals));
  CHECK(left.load.tasks_in_flight == 0);
}

TEST_CASE("a killed driver's job is finished once the head declares its node dead") {
  LocalCluster cluster(1);
  auto driver = start_driver(cluster);
  REQUIRE(cluster_test::eventually([&] { return driver_running(cluster, driver.pid()); }, 30s));
  const weft::NodeId node = cluster.node_of(driver.pid());
  REQUIRE(node != 0);

  driver.signal(SIGKILL);
  driver.wait();
  const bool declared_dead =
      cluster_test::eventually([&] { return !cluster.node_view(node).alive; }, 10s);
  const auto after = jobs_of(cluster, node);

  CHECK(declared_dead);
  REQUIRE(after.size() == 1);
  CHECK(after[0].ends_with(" finished"));
}
