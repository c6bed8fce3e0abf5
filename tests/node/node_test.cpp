// The node: command-line flags, weft::run, several nodes in one process, and
// what destroying a node waits for. Catch2 assertions stay on the test's own
// thread (Catch2 2.x is not thread-safe).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "weft/weft.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;

namespace {

// argv for parse_node_flags / weft::run, owning its strings.
class Args {
 public:
  Args(std::initializer_list<const char*> args) : strings_(args.begin(), args.end()) {
    strings_.insert(strings_.begin(), "node_tests");
    for (auto& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  Args(const Args&) = delete;
  Args& operator=(const Args&) = delete;
  int argc() const { return static_cast<int>(strings_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

weft::RunOptions parse_run(std::initializer_list<const char*> list) {
  Args args(list);
  return weft::parse_run_flags(args.argc(), args.argv());
}
weft::NodeOptions parse(std::initializer_list<const char*> list) { return parse_run(list).node; }

// Which node's store the task ran against.
weft::NodeId node_where_am_i(int) { return weft::current_store()->node_id(); }

std::atomic<bool> node_slow_task_finished{false};
weft::Task<void> node_slow_task() {
  co_await weft::sleep_for(20ms);
  node_slow_task_finished.store(true);
}

weft::Task<int> node_driver_returning_7(weft::Runtime&) { co_return 7; }
weft::Task<int> node_driver_throwing(weft::Runtime&) {
  throw std::runtime_error("driver gave up");
  co_return 0;
}
weft::Task<int> node_driver_submitting(weft::Runtime& rt) {
  const weft::NodeId here = co_await weft::submit<&node_where_am_i>(1);
  co_return here == rt.store().node_id() ? 0 : 3;
}

}  // namespace

WEFT_REMOTE(node_where_am_i);
WEFT_REMOTE(node_slow_task);

TEST_CASE("parse_run_flags reads --threads and --object-store-memory") {
  auto o = parse({"--threads", "3", "--object-store-memory", "512M"});
  CHECK(o.threads == 3);
  CHECK(o.store.capacity == std::size_t{512} << 20);
  CHECK(parse({"--object-store-memory", "2G"}).store.capacity == std::size_t{2} << 30);
  CHECK(parse({"--object-store-memory", "64k"}).store.capacity == std::size_t{64} << 10);
  CHECK(parse({"--object-store-memory", "1048576"}).store.capacity == std::size_t{1} << 20);
}

TEST_CASE("parse_run_flags without flags keeps the defaults") {
  CHECK(parse_run({}).mode == weft::RunOptions::Mode::single);
  auto o = parse({});
  CHECK(o.threads == 0);
  CHECK(o.store.capacity == 0);
  CHECK(o.id == weft::NodeOptions{}.id);
}

TEST_CASE("parse_run_flags rejects an unknown flag with UsageError naming it") {
  CHECK_THROWS_WITH(parse({"--thread", "2"}), Catch::Contains("--thread"));
  CHECK_THROWS_AS(parse({"--bogus"}), weft::UsageError);
}

TEST_CASE("parse_run_flags rejects bad sizes and counts with UsageError") {
  CHECK_THROWS_AS(parse({"--object-store-memory", "lots"}), weft::UsageError);
  CHECK_THROWS_AS(parse({"--object-store-memory", "12MB"}), weft::UsageError);
  CHECK_THROWS_AS(parse({"--object-store-memory", "0"}), weft::UsageError);
  CHECK_THROWS_AS(parse({"--object-store-memory"}), weft::UsageError);
  CHECK_THROWS_AS(parse({"--threads", "0"}), weft::UsageError);
  CHECK_THROWS_AS(parse({"--threads", "many"}), weft::UsageError);
  CHECK_THROWS_AS(parse({"--threads"}), weft::UsageError);
}

// parse_size (src/node/run.cpp) checks `value <= 0` only when there is no
// suffix, so "-1G" casts a negative double to size_t (undefined behaviour)
// and "0M" silently selects the 30 %-of-RAM default.
TEST_CASE("parse_run_flags rejects zero and negative sizes that carry a suffix") {
  CHECK_THROWS_AS(parse({"--object-store-memory", "0M"}), weft::UsageError);
  CHECK_THROWS_AS(parse({"--object-store-memory", "-1G"}), weft::UsageError);
}

TEST_CASE("the usage text shows a single percent sign") {
  CHECK_THROWS_WITH(parse({"--help"}), Catch::Contains("30%") && !Catch::Contains("%%"));
}

TEST_CASE("parse_run_flags picks the mode and rejects contradictory ones") {
  CHECK(parse_run({"--local-nodes", "3"}).mode == weft::RunOptions::Mode::local_cluster);
  CHECK(parse_run({"--local-nodes", "3"}).local_nodes == 3);
  CHECK(parse_run({"--head", "--token", "t"}).mode == weft::RunOptions::Mode::head);
  CHECK_THROWS_AS(parse_run({"--head", "--worker", "--address", "h:1"}), weft::UsageError);
  CHECK_THROWS_AS(parse_run({"--worker"}), weft::UsageError);
  CHECK_THROWS_AS(parse_run({"--address", "no-port"}), weft::UsageError);
}

TEST_CASE("parse_run_flags takes --snapshot for a head and refuses it for other nodes") {
  CHECK(parse_run({"--head", "--token", "t", "--snapshot", "/tmp/head.snap"}).snapshot ==
        "/tmp/head.snap");
  CHECK(parse_run({"--local-nodes", "2", "--snapshot", "s"}).snapshot == "s");
  CHECK(parse_run({"--head", "--token", "t"}).snapshot.empty());
  CHECK_THROWS_WITH(parse_run({"--snapshot", "s"}), Catch::Contains("--snapshot is for the head"));
  CHECK_THROWS_WITH(parse_run({"--worker", "--address", "h:1", "--token", "t", "--snapshot", "s"}),
                    Catch::Contains("--snapshot is for the head"));
  CHECK_THROWS_AS(parse_run({"--head", "--snapshot"}), weft::UsageError);
}

TEST_CASE("a head without a cluster token is refused with how to set one, never printing one") {
  unsetenv("WEFT_CLUSTER_TOKEN");
  CHECK_THROWS_WITH(parse_run({"--head"}),
                    Catch::Contains("export WEFT_CLUSTER_TOKEN=") && Catch::Contains("--token"));
  // A local cluster's children inherit the token it makes up.
  CHECK_FALSE(parse_run({"--local-nodes", "2"}).token.empty());
}

TEST_CASE("parse_run_flags takes --log-level by name and refuses other names") {
  CHECK(parse_run({"--log-level", "debug"}).log_level == weft::LogLevel::debug);
  CHECK(parse_run({"--log-level", "error"}).log_level == weft::LogLevel::error);
  CHECK_THROWS_WITH(parse_run({"--log-level", "loud"}),
                    Catch::Contains("error, warn, info or debug") && Catch::Contains("loud"));
  CHECK_THROWS_AS(parse_run({"--log-level"}), weft::UsageError);
}

TEST_CASE("parse_run_flags reads --bind and --advertise, by default 127.0.0.1 and derived") {
  auto o = parse_run({"--head", "--token", "t"});
  CHECK(o.bind == "127.0.0.1");
  CHECK(o.advertise.empty());
  o = parse_run({"--head", "--token", "t", "--bind", "0.0.0.0", "--advertise", "localhost",
                 "--port", "6390"});
  CHECK(o.bind == "0.0.0.0");
  CHECK(o.advertise == "localhost");
  CHECK(o.port == 6390);
  CHECK_NOTHROW(weft::check_run_addresses(o));
  o = parse_run({"--worker", "--address", "localhost:6390", "--token", "t", "--bind", "127.0.0.2"});
  CHECK(o.head_host == "localhost");
  CHECK(o.head_port == 6390);
  CHECK(o.bind == "127.0.0.2");
  CHECK_NOTHROW(weft::check_run_addresses(o));
}

TEST_CASE("bad --bind, --advertise and --address values are usage errors naming the flag") {
  CHECK_THROWS_WITH(parse_run({"--head", "--token", "t", "--bind", "not-an-address"}),
                    Catch::Contains("--bind") && Catch::Contains("not an IPv4 address"));
  // 203.0.113.0/24 is TEST-NET-3, for documentation: on no interface here.
  CHECK_THROWS_WITH(parse_run({"--head", "--token", "t", "--bind", "203.0.113.77"}),
                    Catch::Contains("--bind") && Catch::Contains("not an address of this host"));
  CHECK_THROWS_AS(parse_run({"--head", "--token", "t", "--bind"}), weft::UsageError);
  CHECK_THROWS_WITH(parse_run({"--address", ":6390"}),
                    Catch::Contains("--address needs HOST:PORT"));
  // .invalid never resolves (RFC 2606).
  CHECK_THROWS_WITH(
      weft::check_run_addresses(
          parse_run({"--head", "--token", "t", "--advertise", "no-such-host.invalid"})),
      Catch::Contains("--advertise") && Catch::Contains("cannot resolve 'no-such-host.invalid'"));
  CHECK_THROWS_WITH(weft::check_run_addresses(parse_run(
                        {"--worker", "--address", "no-such-host.invalid:1", "--token", "t"})),
                    Catch::Contains("--address") && Catch::Contains("cannot resolve"));
}

TEST_CASE("weft::run returns the driver's value") {
  Args args{"--threads", "2", "--object-store-memory", "16M"};
  CHECK(weft::run(args.argc(), args.argv(), node_driver_returning_7) == 7);
}

TEST_CASE("weft::run gives the driver a node that runs its tasks") {
  Args args{"--threads", "2", "--object-store-memory", "16M"};
  CHECK(weft::run(args.argc(), args.argv(), node_driver_submitting) == 0);
}

TEST_CASE("weft::run returns 1 when an exception escapes the driver") {
  Args args{"--threads", "1", "--object-store-memory", "16M"};
  CHECK(weft::run(args.argc(), args.argv(), node_driver_throwing) == 1);
}

TEST_CASE("weft::run refuses bad flags without running the driver") {
  Args args{"--object-store-memory", "lots"};
  CHECK(weft::run(args.argc(), args.argv(), node_driver_returning_7) != 7);
}

TEST_CASE("two nodes in one process run their workloads concurrently and own their objects") {
  struct Seen {
    bool tasks_ran_here = false;
    bool ids_owned_here = false;
    std::int64_t sum = 0;
  };
  auto workload = [](weft::Node& node, Seen& seen, std::latch& both_started) {
    seen = node.run([&](weft::Runtime& rt) -> weft::Task<Seen> {
      both_started.arrive_and_wait();  // neither node runs its workload alone
      Seen s;
      s.tasks_ran_here = true;
      s.ids_owned_here = true;
      const weft::NodeId me = rt.store().node_id();
      std::vector<weft::ObjectRef<weft::NodeId>> refs;
      for (int i = 0; i < 200; ++i) refs.push_back(weft::submit<&node_where_am_i>(i));
      auto put_ref = weft::put(std::int64_t{5});
      s.ids_owned_here = put_ref.id().owner == me;
      for (auto& r : refs) {
        s.ids_owned_here = s.ids_owned_here && r.id().owner == me;
        const weft::NodeId ran_on = co_await r;
        s.tasks_ran_here = s.tasks_ran_here && ran_on == me;
        s.sum += static_cast<std::int64_t>(ran_on);
      }
      co_return s;
    });
  };
  weft::Node a({.id = 0xa1, .threads = 1, .store = {.capacity = 16 << 20}});
  weft::Node b({.id = 0xb2, .threads = 1, .store = {.capacity = 16 << 20}});
  std::latch both_started(2);
  Seen seen_a, seen_b;
  std::thread ta([&] { workload(a, seen_a, both_started); });
  std::thread tb([&] { workload(b, seen_b, both_started); });
  ta.join();
  tb.join();
  CHECK(seen_a.tasks_ran_here);
  CHECK(seen_a.ids_owned_here);
  CHECK(seen_a.sum == 200 * 0xa1);
  CHECK(seen_b.tasks_ran_here);
  CHECK(seen_b.ids_owned_here);
  CHECK(seen_b.sum == 200 * 0xb2);
}

TEST_CASE("a node's destructor waits for tasks that are still running") {
  node_slow_task_finished = false;
  {
    weft::Node node({.threads = 2, .store = {.capacity = 16 << 20}});
    weft::Node::ThreadScope scope(node);
    (void)weft::submit<&node_slow_task>();  // not awaited; its ref is dropped at once
    CHECK(node.scheduler().tasks_in_flight() == 1);
  }
  CHECK(node_slow_task_finished);
}

TEST_CASE("a node's destructor waits for tasks left behind by its driver") {
  node_slow_task_finished = false;
  {
    weft::Node node({.threads = 2, .store = {.capacity = 16 << 20}});
    node.run([](weft::Runtime&) -> weft::Task<void> {
      (void)weft::submit<&node_slow_task>();
      co_return;
    });
  }
  CHECK(node_slow_task_finished);
}
