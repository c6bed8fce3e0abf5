// Joining and leaving: the handshake's refusals, the `weft` tool, and
// --local-nodes end to end. Other programs run as real processes.
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cluster_remotes.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using cluster_test::LocalCluster;
using cluster_test::on;
using cluster_test::run_process;
using cluster_test::within;

namespace {

// The pids the tasks pinned to the head and to worker 0 ran in.
std::vector<int> pids_of_head_and_first_worker(LocalCluster& cluster) {
  const weft::NodeId head = cluster.head_id(), worker = cluster.worker_id(0);
  return cluster.head().run([&](weft::Runtime&) -> weft::Task<std::vector<int>> {
    std::vector<int> pids;
    pids.push_back(co_await within(weft::submit<&cluster_pid>(on(head))));
    pids.push_back(co_await within(weft::submit<&cluster_pid>(on(worker))));
    co_return pids;
  });
}

// Processes whose parent is `parent` (zombies included).
[[maybe_unused]] std::vector<int> children_of(int parent) {  // unused without examples
  std::vector<int> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = readdir(proc)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream stat(fmt::format("/proc/{}/stat", pid));
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(text.substr(close + 1));
    std::string state;
    int ppid = 0;
    fields >> state >> ppid;
    if (ppid == parent) out.push_back(pid);
  }
  closedir(proc);
  return out;
}

}  // namespace

TEST_CASE(
    "a node with the wrong token is refused with a clear message and the head keeps running") {
  LocalCluster cluster(2);

  const auto refused = run_process(cluster_test::self_exe(), cluster.worker_args(),
                                   {"WEFT_CLUSTER_TOKEN=not-" + cluster.token()}, 20s);

  INFO(refused.output);
  CHECK_FALSE(refused.timed_out);
  CHECK(refused.status != 0);
  CHECK(refused.output.find("wrong cluster token") != std::string::npos);
  CHECK(refused.output.find("remote exception") == std::string::npos);
  CHECK(refused.output.find("fmt::format") == std::string::npos);
  CHECK(refused.output.find(cluster.token()) == std::string::npos);
  CHECK(cluster.view().nodes.size() == 2);
  CHECK(cluster.alive_nodes() == 2);
  CHECK(pids_of_head_and_first_worker(cluster) ==
        std::vector<int>{static_cast<int>(getpid()), cluster.worker(0).pid()});
}

TEST_CASE("a different build is refused with a message naming the difference") {
  LocalCluster cluster(2);

  const auto refused =
      run_process(CLUSTER_OTHER_BUILD_PATH, cluster.worker_args(), {cluster.token_env()}, 20s);

  INFO(refused.output);
  CHECK_FALSE(refused.timed_out);
  CHECK(refused.status != 0);
  CHECK(refused.output.find("different build") != std::string::npos);
  CHECK(refused.output.find("'only_in_other_build'") != std::string::npos);
  CHECK(cluster.view().nodes.size() == 2);
  CHECK(pids_of_head_and_first_worker(cluster) ==
        std::vector<int>{static_cast<int>(getpid()), cluster.worker(0).pid()});
}

TEST_CASE("weft status lists every node of the cluster as alive") {
  LocalCluster cluster(3);

  const auto status = run_process(WEFT_TOOL_PATH, {"status", "--address", cluster.address()},
                                  {cluster.token_env()}, 20s);

  INFO(status.output);
  CHECK_FALSE(status.timed_out);
  CHECK(status.status == 0);
  CHECK(status.output.find("cluster: 3 nodes alive") != std::string::npos);
  std::set<std::string> rows;
  std::istringstream lines(status.output);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, address, pid, state;
    fields >> id >> address >> pid >> state;
    if (id != "cluster:" && state == "alive") rows.insert(id + " " + pid);
  }
  std::set<std::string> expected;
  for (const auto& n : cluster.view().nodes)
    expected.insert(fmt::format("{:x} {}", n.info.id, n.info.pid));
  CHECK(rows == expected);
}

TEST_CASE("weft with the wrong token is refused") {
  LocalCluster cluster(2);

  const auto status = run_process(WEFT_TOOL_PATH, {"status", "--address", cluster.address()},
                                  {"WEFT_CLUSTER_TOKEN=not-" + cluster.token()}, 20s);

  INFO(status.output);
  CHECK_FALSE(status.timed_out);
  CHECK(status.status != 0);
  CHECK(status.output.find("wrong cluster token") != std::string::npos);
  CHECK(status.output.find("remote exception") == std::string::npos);
  CHECK(status.output.find("fmt::format") == std::string::npos);
  CHECK(cluster.alive_nodes() == 2);
}

TEST_CASE("weft stop stops every node of the cluster") {
  LocalCluster cluster(3);

  const auto stop = run_process(WEFT_TOOL_PATH, {"stop", "--address", cluster.address()},
                                {cluster.token_env()}, 20s);

  INFO(stop.output);
  CHECK_FALSE(stop.timed_out);
  CHECK(stop.status == 0);
  CHECK(stop.output.find("cluster stopped") != std::string::npos);
  for (std::size_t i = 0; i < cluster.workers(); ++i) {
    auto& worker = cluster.worker(i);
    CHECK(cluster_test::eventually([&] { return !worker.running(); }, 5s));
    CHECK(worker.wait() == 0);
  }
}

TEST_CASE("a program run with --local-nodes 3 works and leaves no node process behind") {
#ifndef CLUSTER_PI_PATH
  WARN("the examples are not built; skipped");
#else
  // Orphans of the program become children of this process, where we can see them.
  REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);

  const auto run = run_process(
      CLUSTER_PI_PATH, {"--local-nodes", "3", "--threads", "1", "--object-store-memory", "256M"},
      {}, 30s);
  const auto left_behind = children_of(static_cast<int>(getpid()));
  for (int pid : left_behind) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }

  INFO(run.output);
  CHECK_FALSE(run.timed_out);
  CHECK(run.status == 0);
  CHECK(run.output.find("3-node cluster up") != std::string::npos);
  CHECK(run.output.find("pi ~=") != std::string::npos);
  // A normal stop is no failure: nobody reports a node lost or dead.
  CHECK(run.output.find("warning") == std::string::npos);
  CHECK(run.output.find("dead") == std::string::npos);
  CHECK(left_behind.empty());
#endif
}
