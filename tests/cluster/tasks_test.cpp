// Tasks across real node processes: placement, objects moving between
// nodes, the stores emptying afterwards, late joiners and type checks.
#include <unistd.h>

#include <algorithm>
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

TEST_CASE("results come back from every node") {
  LocalCluster cluster(3);
  std::vector<weft::NodeId> ids;
  std::set<int> view_pids;
  for (const auto& n : cluster.view().nodes) {
    ids.push_back(n.info.id);
    view_pids.insert(n.info.pid);
  }
  REQUIRE(ids.size() == 3);

  const auto pids = cluster.head().run([&](weft::Runtime&) -> weft::Task<std::vector<int>> {
    std::vector<weft::ObjectRef<int>> refs;
    for (auto id : ids) refs.push_back(weft::submit<&cluster_pid>(on(id)));
    std::vector<int> out;
    for (auto& r : refs) out.push_back(co_await within(r));
    co_return out;
  });

  REQUIRE(pids.size() == 3);
  CHECK(std::set<int>(pids.begin(), pids.end()) == view_pids);
  for (std::size_t i = 0; i < ids.size(); ++i) CHECK(pids[i] == cluster.pid_of(ids[i]));
  CHECK(std::count(pids.begin(), pids.end(), static_cast<int>(getpid())) == 1);
}

TEST_CASE("a large ref produced on one node is consumed on another") {
  LocalCluster cluster(3);
  const weft::NodeId a = cluster.worker_id(0), c = cluster.worker_id(1);
  constexpr std::uint64_t n = 1 << 20;

  const auto seen =
      cluster.head().run([&](weft::Runtime&) -> weft::Task<std::vector<std::uint64_t>> {
        auto bytes = weft::submit<&cluster_bytes>(on(a), n, 7u);
        co_return co_await within(weft::submit<&cluster_sum_bytes>(on(c), bytes));
      });

  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == cluster_expected_sum(n, 7));
  CHECK(seen[1] == n);
  CHECK(static_cast<int>(seen[2]) == cluster.worker(1).pid());
}

TEST_CASE("a small ref produced on one node is consumed on another") {
  LocalCluster cluster(3);
  const weft::NodeId a = cluster.worker_id(0), c = cluster.worker_id(1);

  const int sum = cluster.head().run([&](weft::Runtime&) -> weft::Task<int> {
    auto forty = weft::submit<&cluster_add>(on(a), 40, 0);
    co_return co_await within(weft::submit<&cluster_add>(on(c), forty, 2));
  });

  CHECK(sum == 42);
}

// Fails today: the owner answers the executing node's pull at once, before
// the object is sealed ("object ... is not sealed here"), see the report.
TEST_CASE("a ref still pending when passed to another node is awaited there") {
  LocalCluster cluster(3);
  const weft::NodeId a = cluster.worker_id(0), c = cluster.worker_id(1);
  constexpr std::uint64_t n = 1 << 20;

  const auto seen =
      cluster.head().run([&](weft::Runtime&) -> weft::Task<std::vector<std::uint64_t>> {
        // The task on C receives the ref itself, so it is sent before A is done.
        auto later = weft::submit<&cluster_bytes_later>(on(a), n, 3u, std::int64_t{300});
        co_return co_await within(weft::submit<&cluster_sum_bytes_ref>(on(c), later));
      });

  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == cluster_expected_sum(n, 3));
  CHECK(static_cast<int>(seen[2]) == cluster.worker(1).pid());
}

TEST_CASE("store usage is back to zero on every node after a workload") {
  LocalCluster cluster(3);
  const weft::NodeId a = cluster.worker_id(0), c = cluster.worker_id(1);
  constexpr std::uint64_t mib = 1 << 20;

  const bool all_right = cluster.head().run([&](weft::Runtime&) -> weft::Task<bool> {
    bool ok = true;
    // Small values, made and consumed on every node.
    std::vector<weft::ObjectRef<int>> small;
    for (int i = 0; i < 8; ++i) {
      auto x = weft::submit<&cluster_add>(on(i % 2 == 0 ? a : c), i, 1);
      small.push_back(weft::submit<&cluster_add>(on(i % 2 == 0 ? c : a), x, 1));
    }
    // Large results passed between workers, and one larger than a pull chunk.
    auto on_a = weft::submit<&cluster_bytes>(on(a), mib, 1u);
    auto on_c = weft::submit<&cluster_bytes>(on(c), 5 * mib, 2u);
    auto sum_a_on_c = weft::submit<&cluster_sum_bytes>(on(c), on_a);
    auto sum_c_on_a = weft::submit<&cluster_sum_bytes>(on(a), on_c);
    // Large and small arguments put by the driver.
    auto put_big = weft::put(cluster_bytes(2 * mib, 9));
    auto put_small = weft::put(std::string("seven c"));
    auto big_on_a = weft::submit<&cluster_sum_bytes>(on(a), put_big);
    auto big_on_c = weft::submit<&cluster_sum_bytes_ref>(on(c), put_big);
    auto length_on_c = weft::submit<&cluster_string_length>(on(c), put_small);
    // A large result pulled by the driver.
    auto pulled = weft::submit<&cluster_bytes>(on(a), 3 * mib, 4u);

    // (co_await stays out of && and ?:, which GCC 12 miscompiles around it.)
    for (int i = 0; i < 8; ++i) {
      const int value = co_await within(small[static_cast<std::size_t>(i)]);
      ok = ok && value == i + 2;
    }
    const auto s1 = co_await within(sum_a_on_c);
    const auto s2 = co_await within(sum_c_on_a);
    const auto s3 = co_await within(big_on_a);
    const auto s4 = co_await within(big_on_c);
    const auto length = co_await within(length_on_c);
    const auto bytes = co_await within(pulled);
    ok = ok && s1[0] == cluster_expected_sum(mib, 1) && s2[0] == cluster_expected_sum(5 * mib, 2) &&
         s3[0] == cluster_expected_sum(2 * mib, 9) && s4[0] == cluster_expected_sum(2 * mib, 9) &&
         length == 7 && bytes.size() == 3 * mib;
    co_return ok;
  });
  REQUIRE(all_right);

  // Every ref is gone.
  const bool emptied = cluster.stores_empty_within(5s);
  INFO(cluster.store_loads());
  CHECK(emptied);
  CHECK(cluster.head().store().live_objects() == 0);
}

TEST_CASE("refs returned from another node outlive the task that made them") {
  LocalCluster cluster(3);
  const weft::NodeId a = cluster.worker_id(0), c = cluster.worker_id(1);
  constexpr std::uint64_t mib = 1 << 20;

  const bool all_right = cluster.head().run([&](weft::Runtime&) -> weft::Task<bool> {
    // Objects put on A, named in a result that comes back here.
    auto pair = co_await within(weft::submit<&cluster_put_pair>(on(a), 41, 2 * mib, 5u));
    const int small = co_await within(pair.first);
    const auto large = co_await within(pair.second);
    // A ref owned by A whose value is made on C, still pending when A returns it.
    auto via = co_await within(weft::submit<&cluster_bytes_via>(on(a), c, 3 * mib, 6u));
    const auto relayed = co_await within(via.at(0));
    // The returned refs passed on to a third node.
    auto sum_on_c = weft::submit<&cluster_sum_bytes_ref>(on(c), pair.second);
    const auto sums = co_await within(sum_on_c);
    co_return small == 41 && large == cluster_bytes(2 * mib, 5) &&
        relayed == cluster_bytes(3 * mib, 6) && sums.at(0) == cluster_expected_sum(2 * mib, 5);
  });
  CHECK(all_right);

  // The nodes that made and held the objects freed them with the last ref.
  const bool emptied = cluster.stores_empty_within(5s);
  INFO(cluster.store_loads());
  CHECK(emptied);
  CHECK(cluster.head().store().live_objects() == 0);
}

TEST_CASE("refs inside an object passed by ref are readable on another node") {
  LocalCluster cluster(3);
  const weft::NodeId a = cluster.worker_id(0), c = cluster.worker_id(1);
  constexpr std::uint64_t mib = 1 << 20;

  const auto seen =
      cluster.head().run([&](weft::Runtime&) -> weft::Task<std::vector<std::uint64_t>> {
        // A small object (sent inline) naming a small and a large one.
        auto pair = weft::put(ClusterRefPair{weft::put(40), weft::put(cluster_bytes(mib, 2))});
        // A large object (pulled) made on A, naming an object A put.
        auto big = weft::submit<&cluster_big_with_ref>(on(a), 2 * mib, 2);
        co_return co_await within(weft::submit<&cluster_read_through>(on(c), pair, big));
      });

  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == 40 + cluster_expected_sum(mib, 2) + 2);
  CHECK(seen[1] == 2 * mib);
  CHECK(static_cast<int>(seen[2]) == cluster.worker(1).pid());
  const bool emptied = cluster.stores_empty_within(5s);
  INFO(cluster.store_loads());
  CHECK(emptied);
}

TEST_CASE("a node that joins late receives work") {
  LocalCluster cluster(2);
  const std::size_t late = cluster.add_worker();
  REQUIRE(cluster.wait_for_nodes(3));
  const weft::NodeId late_id = cluster.worker_id(late);
  REQUIRE(late_id != 0);

  std::set<int> spread_pids;
  const int pinned_pid = cluster.head().run([&](weft::Runtime&) -> weft::Task<int> {
    weft::TaskOptions spread;
    spread.strategy = weft::SpreadStrategy{};
    std::vector<weft::ObjectRef<int>> refs;
    for (int i = 0; i < 6; ++i) refs.push_back(weft::submit<&cluster_pid>(spread));
    for (auto& r : refs) spread_pids.insert(co_await within(r));
    co_return co_await within(weft::submit<&cluster_pid>(on(late_id)));
  });

  CHECK(pinned_pid == cluster.worker(late).pid());
  CHECK(spread_pids.count(cluster.worker(late).pid()) == 1);
  CHECK(spread_pids.size() == 3);
}

namespace {

// How reading an int as a std::string on worker 0 fails.
std::exception_ptr mislabelled_read_on_worker(LocalCluster& cluster) {
  const weft::NodeId b = cluster.worker_id(0);
  return cluster.head().run([&](weft::Runtime&) -> weft::Task<std::exception_ptr> {
    auto number = weft::put(42);
    weft::ObjectRef<std::string> mislabelled(number.handle());
    co_return co_await cluster_test::failure_within(
        weft::submit<&cluster_string_length>(on(b), mislabelled));
  });
}

}  // namespace

TEST_CASE("a value read as the wrong type on another node is a TypeMismatchError") {
  LocalCluster cluster(2);

  const std::exception_ptr error = mislabelled_read_on_worker(cluster);

  REQUIRE(error);
  const std::string what = cluster_test::describe(error);
  INFO(what);
  bool typed = false;
  try {
    std::rethrow_exception(error);
  } catch (const weft::TaskError& e) {
    typed = e.type_name() == "weft::TypeMismatchError";
  } catch (const weft::TypeMismatchError&) {
    typed = true;
  } catch (...) {
  }
  CHECK(typed);
  CHECK(what.find("read as `std::") != std::string::npos);
  CHECK(what.find("string") != std::string::npos);
}

// Fails today: the reading node knows only type names it has itself written
// or read, so a fresh worker reports "a type with fingerprint 0x..." for the
// int (see the report).
TEST_CASE("a wrong-type error on another node names the type the value holds") {
  LocalCluster cluster(2);

  const std::string what = cluster_test::describe(mislabelled_read_on_worker(cluster));

  INFO(what);
  CHECK(what.find("type `int`") != std::string::npos);
}
