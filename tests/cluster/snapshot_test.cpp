// --snapshot: a head saves its control store to a file while it runs and at
// a clean stop, and a head started again with that file carries on with the
// key-value pairs and jobs of the one before.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "cluster_remotes.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using cluster_test::LocalCluster;
using cluster_test::on;
using cluster_test::within;

namespace {

// A snapshot file under the temp directory, removed (with its .tmp) at scope exit.
struct SnapshotFile {
  SnapshotFile() {
    static std::atomic<int> counter{0};
    path = (std::filesystem::temp_directory_path() /
            fmt::format("weft_cluster_snapshot_{}_{}.snap", getpid(), counter++))
               .string();
  }
  ~SnapshotFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::filesystem::remove(path + ".tmp", ec);
  }
  std::string path;
};

// The value the snapshot at `path` holds under `key` (nullopt if none, or no file).
std::optional<std::string> saved_value(const std::string& path, const std::string& key) {
  weft::detail::ControlStore saved;
  if (!saved.load_snapshot(path)) return std::nullopt;
  return saved.kv_get(key);
}

void put_on_head(LocalCluster& cluster, std::string key, std::string value) {
  cluster.head().run([&](weft::Runtime&) -> weft::Task<int> {
    co_await weft::kv_put(std::move(key), std::move(value));
    co_return 0;
  });
}

}  // namespace

TEST_CASE("a head with --snapshot saves a changed key-value store to the file while it runs") {
  SnapshotFile file;
  LocalCluster cluster(1, file.path);

  put_on_head(cluster, "model/best", "v1");
  const bool saved_v1 =
      cluster_test::eventually([&] { return saved_value(file.path, "model/best") == "v1"; }, 10s);
  put_on_head(cluster, "model/best", "v2");
  const bool saved_v2 =
      cluster_test::eventually([&] { return saved_value(file.path, "model/best") == "v2"; }, 10s);

  CHECK(saved_v1);
  CHECK(saved_v2);
}

TEST_CASE("a head restarted with the same snapshot file keeps the key-value pairs and jobs") {
  SnapshotFile file;
  std::uint64_t job = 0;
  {
    LocalCluster first(1, file.path);
    put_on_head(first, "model/best", std::string("v\0w", 3));
    job = weft::sync_wait(first.link().start_job());
  }  // a clean stop saves at once

  LocalCluster second(2, file.path);
  const weft::NodeId worker = second.worker_id(0);
  const auto on_worker =
      second.head().run([&](weft::Runtime&) -> weft::Task<std::optional<std::string>> {
        co_return co_await within(
            weft::submit<&cluster_kv_get>(on(worker), std::string("model/best")));
      });
  const auto status = cluster_test::run_process(
      WEFT_TOOL_PATH, {"status", "--address", second.address()}, {second.token_env()}, 20s);

  INFO("worker saw " << (on_worker ? "'" + *on_worker + "'" : std::string("nothing")));
  CHECK(on_worker == std::string("v\0w", 3));
  INFO(status.output);
  REQUIRE(status.status == 0);
  // The first head's driver cannot report to this head: its job is over.
  std::istringstream lines(status.output);
  bool listed_finished = false;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id;
    fields >> id;
    listed_finished |= id == std::to_string(job) && line.ends_with(" finished");
  }
  CHECK(listed_finished);
}

TEST_CASE("a head whose snapshot file is not a snapshot refuses to start, naming the file") {
  SnapshotFile file;
  std::ofstream(file.path) << "not a snapshot";
  weft::Node head(
      {.id = cluster_test::random_node_id(), .threads = 1, .store = {.capacity = 16 << 20}});

  CHECK_THROWS_WITH(
      head.start_cluster({.head = true, .token = "t", .snapshot = file.path}),
      Catch::Contains(file.path) && Catch::Contains("not a weft control store snapshot"));
  std::ifstream kept(file.path);
  std::string text((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>());
  CHECK(text == "not a snapshot");
}
