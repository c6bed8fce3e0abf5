// LocalCluster: a real weft cluster on 127.0.0.1 for the cluster tests.
//
//   cluster_test::LocalCluster cluster(3);          // head here + 2 worker processes
//   int pid = cluster.head().run([&](weft::Runtime&) -> weft::Task<int> {
//     weft::TaskOptions on_b{.strategy = weft::NodeAffinity{cluster.worker_id(0)}};
//     co_return co_await weft::submit<&cluster_pid>(on_b);
//   });
//
// The head node lives in the test process; every worker is this test binary
// exec'ed again with --worker (main.cpp), so nothing of the transport is
// mocked and a failure test kills a real process. Waits are bounded: they
// poll a condition until a deadline, never sleep for a fixed time and hope.
//
// Catch2 2.x is not thread-safe: drivers return what they saw and the test
// thread checks it.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "node/child_process.hpp"
#include "weft/weft.hpp"

extern char** environ;

namespace cluster_test {

using namespace std::chrono_literals;

inline std::string random_hex(int bytes) {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < bytes; ++i) out += fmt::format("{:02x}", rd() & 0xff);
  return out;
}

inline weft::NodeId random_node_id() {
  std::random_device rd;
  return (((static_cast<weft::NodeId>(rd()) << 16) ^ rd()) & 0xffffffffffffULL) | 1;
}

// Polls `done` until it holds or `timeout` passes; returns done().
template <typename F>
bool eventually(F done, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// This test binary's path (what workers run).
inline std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw weft::Error("cannot read /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

struct ProcessResult {
  int status = -1;  // exit status, or 128 + signal
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved
};

// Runs `path args...` with `env` (NAME=VALUE, replacing inherited values of
// the same names), its output captured, and waits for it at most `timeout`
// (then kills it and reports timed_out).
inline ProcessResult run_process(const std::string& path, const std::vector<std::string>& args,
                                 const std::vector<std::string>& env,
                                 std::chrono::milliseconds timeout) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (const auto& mine : env) {
      const auto eq = mine.find('=');
      if (entry.substr(0, eq + 1) == std::string_view(mine).substr(0, eq + 1)) replaced = true;
    }
    if (!replaced) env_strings.emplace_back(entry);
  }
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings{path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  char name[] = "/tmp/weft-cluster-test-XXXXXX";
  const int fd = mkstemp(name);
  if (fd < 0) throw weft::Error("cannot create a temporary file");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fd, 1);
  posix_spawn_file_actions_adddup2(&actions, fd, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fd);
  if (rc != 0) {
    unlink(name);
    throw weft::Error(fmt::format("cannot run {}: error {}", path, rc));
  }
  ProcessResult result;
  int status = 0;
  const bool exited = eventually([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!exited) {
    result.timed_out = true;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(name);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  unlink(name);
  return result;
}

// A head node in this process and worker node processes joined to it.
class LocalCluster {
 public:
  // Forms a cluster of `nodes` nodes (the head counts) and waits for all.
  // A head given a `snapshot` file saves its control store there and starts
  // from it (--snapshot). Every node's object store holds `store_mib` MiB.
  explicit LocalCluster(std::size_t nodes, std::string snapshot = {}, std::size_t store_mib = 256)
      : token_(random_hex(16)),
        store_mib_(store_mib),
        head_(std::make_unique<weft::Node>(weft::NodeOptions{
            .id = random_node_id(), .threads = 2, .store = {.capacity = store_mib << 20}})) {
    head_->start_cluster({.head = true, .token = token_, .snapshot = std::move(snapshot)});
    for (std::size_t i = 1; i < nodes; ++i) add_worker();
    if (!wait_for_nodes(nodes)) {
      throw weft::Error(
          fmt::format("only {} of {} nodes joined within 30 s", alive_nodes(), nodes));
    }
  }

  ~LocalCluster() {
    stop();
    workers_.clear();  // SIGKILLs and reaps whatever did not stop
    head_.reset();
  }

  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  weft::Node& head() noexcept { return *head_; }
  weft::detail::ClusterLink& link() noexcept { return *head_->cluster(); }
  const std::string& token() const noexcept { return token_; }
  std::string address() { return fmt::format("127.0.0.1:{}", link().port()); }
  weft::ClusterView view() { return link().view(); }

  // The flags a worker of this cluster runs with.
  std::vector<std::string> worker_args() {
    return {"--worker",
            "--address",
            address(),
            "--threads",
            "1",
            "--object-store-memory",
            fmt::format("{}M", store_mib_)};
  }
  std::string token_env() const { return "WEFT_CLUSTER_TOKEN=" + token_; }

  // Starts one more worker process; it joins on its own (see wait_for_nodes).
  std::size_t add_worker() {
    workers_.push_back(weft::detail::ChildProcess::spawn_self(worker_args(), {token_env()}));
    return workers_.size() - 1;
  }
  weft::detail::ChildProcess& worker(std::size_t i) { return workers_.at(i); }
  std::size_t workers() const noexcept { return workers_.size(); }

  bool wait_for_nodes(std::size_t n, std::chrono::milliseconds timeout = 30s) {
    return link().wait_for_nodes(n, timeout);
  }
  std::size_t alive_nodes() {
    std::size_t n = 0;
    for (const auto& v : view().nodes) n += v.alive ? 1 : 0;
    return n;
  }

  weft::NodeId head_id() const noexcept { return head_->id(); }
  // The node id of worker i, from the view (0 if it has not joined).
  weft::NodeId worker_id(std::size_t i) { return node_of(workers_.at(i).pid()); }
  // The id of the node running in process `pid` (0 if none).
  weft::NodeId node_of(int pid) {
    for (const auto& v : view().nodes) {
      if (v.info.pid == pid) return v.info.id;
    }
    return 0;
  }
  // Whether every node, alive, reports an empty object store (no live
  // objects, no bytes used) within `timeout`: heartbeats bring each node's
  // load to the head.
  bool stores_empty_within(std::chrono::milliseconds timeout) {
    return eventually(
        [&] {
          for (const auto& n : view().nodes) {
            if (!n.alive || n.load.live_objects != 0 || n.load.store_used != 0) return false;
          }
          return true;
        },
        timeout);
  }
  // Each node's store use, a line each, for failure messages.
  std::string store_loads() {
    std::string loads;
    for (const auto& n : view().nodes) {
      loads += fmt::format("node {:x} (pid {}): {} live objects, {} bytes of store used\n",
                           n.info.id, n.info.pid, n.load.live_objects, n.load.store_used);
    }
    return loads;
  }
  // The pid the view gives node `id` (0 if unknown).
  int pid_of(weft::NodeId id) {
    for (const auto& v : view().nodes) {
      if (v.info.id == id) return v.info.pid;
    }
    return 0;
  }
  // The head's view of node `id` (alive = false if unknown).
  weft::NodeView node_view(weft::NodeId id) {
    for (const auto& v : view().nodes) {
      if (v.info.id == id) return v;
    }
    return {};
  }

  // SIGKILLs worker i and reaps it.
  void kill_worker(std::size_t i) {
    workers_.at(i).signal(SIGKILL);
    workers_.at(i).wait();
  }

  // Stops every node (as `weft stop` does) and waits a bounded time for the
  // worker processes to exit; true if all exited.
  bool stop() {
    if (!stopped_) {
      stopped_ = true;
      link().stop_cluster();
    }
    bool all = true;
    for (auto& w : workers_) all = eventually([&] { return !w.running(); }, 5s) && all;
    return all;
  }

 private:
  std::string token_;
  std::size_t store_mib_;
  std::unique_ptr<weft::Node> head_;
  std::deque<weft::detail::ChildProcess> workers_;
  bool stopped_ = false;
};

// Options that pin a task to node `id`.
inline weft::TaskOptions on(weft::NodeId id, bool soft = false) {
  weft::TaskOptions o;
  o.strategy = weft::NodeAffinity{id, soft};
  return o;
}

// The value of `ref`; throws TimeoutError if it is not sealed within `timeout`.
template <typename T>
weft::Task<T> within(weft::ObjectRef<T> ref, std::chrono::milliseconds timeout = 10s) {
  std::vector<weft::ObjectRef<T>> refs{std::move(ref)};
  auto waited = co_await weft::wait(std::move(refs), {.timeout = timeout});
  if (waited.ready.empty()) {
    throw weft::TimeoutError(fmt::format("no result within {} ms", timeout.count()));
  }
  co_return co_await waited.ready.front();
}

// How `ref` failed: its exception (null if it succeeded); throws
// TimeoutError if it is not sealed within `timeout`.
template <typename T>
weft::Task<std::exception_ptr> failure_within(weft::ObjectRef<T> ref,
                                              std::chrono::milliseconds timeout = 10s) {
  std::exception_ptr error;
  try {
    co_await within(std::move(ref), timeout);
  } catch (const weft::TimeoutError&) {
    throw;
  } catch (...) {
    error = std::current_exception();
  }
  co_return error;
}

// What an error says, for assertions: "<type>: <message>".
inline std::string describe(const std::exception_ptr& error) {
  if (!error) return "no error";
  try {
    std::rethrow_exception(error);
  } catch (const weft::TaskError& e) {
    return fmt::format("TaskError({}): {}", e.type_name(), e.what());
  } catch (const weft::ActorDiedError& e) {
    return fmt::format("ActorDiedError: {}", e.what());
  } catch (const weft::TypeMismatchError& e) {
    return fmt::format("TypeMismatchError: {}", e.what());
  } catch (const std::exception& e) {
    return fmt::format("exception: {}", e.what());
  }
}

}  // namespace cluster_test
