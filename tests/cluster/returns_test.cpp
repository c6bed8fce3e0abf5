// Several results from one task or actor call on another node: each result
// travels on its own (small ones inline, large ones pulled), passes on to a
// third node, and a failure there fails every result with its typed error.
#include <cstdint>
#include <exception>
#include <string>
#include <tuple>
#include <vector>

#include "cluster_remotes.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;
using cluster_test::describe;
using cluster_test::failure_within;
using cluster_test::LocalCluster;
using cluster_test::on;
using cluster_test::within;

TEST_CASE("the results of a task on another node arrive and pass on one by one") {
  LocalCluster cluster(3);
  const weft::NodeId a = cluster.worker_id(0), c = cluster.worker_id(1);
  constexpr std::uint64_t n = 2 << 20;  // past the inline limit: pulled from a

  struct Seen {
    int small = 0, made_on = 0;
    std::size_t large_size = 0;
    std::vector<std::uint64_t> summed_on_c;
    int plus_on_c = 0;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    auto [small, large, pid] = weft::submit<&cluster_small_large>(on(a), 6, n);
    // The large result goes from a to c without the driver reading it.
    auto summed = weft::submit<&cluster_sum_bytes>(on(c), large);
    auto plus = weft::submit<&cluster_add>(on(c), small, 1);
    Seen s;
    s.summed_on_c = co_await within(summed);
    s.plus_on_c = co_await within(plus);
    s.small = co_await within(small);
    s.made_on = co_await within(pid);
    const std::vector<std::uint8_t> bytes = co_await within(large);
    s.large_size = bytes.size();
    co_return s;
  });
  CHECK(seen.small == 7);
  CHECK(seen.plus_on_c == 8);
  CHECK(seen.made_on == cluster.worker(0).pid());
  CHECK(seen.large_size == n);
  REQUIRE(seen.summed_on_c.size() == 3);
  CHECK(seen.summed_on_c[0] == cluster_expected_sum(n, 6));
  CHECK(static_cast<int>(seen.summed_on_c[2]) == cluster.worker(1).pid());

  const bool emptied = cluster.stores_empty_within(5s);
  INFO(cluster.store_loads());
  CHECK(emptied);
}

TEST_CASE("a task that throws on another node fails every one of its results") {
  LocalCluster cluster(2);
  const weft::NodeId a = cluster.worker_id(0);
  const auto errors =
      cluster.head().run([&](weft::Runtime&) -> weft::Task<std::vector<std::exception_ptr>> {
        auto [first, second] = weft::submit<&cluster_pair_throws>(on(a), 4);
        std::vector<std::exception_ptr> out;
        out.push_back(co_await failure_within(second));
        out.push_back(co_await failure_within(first));
        co_return out;
      });
  for (const auto& error : errors) {
    CHECK(describe(error) == "TaskError(std::invalid_argument): no pair on a worker for 4");
  }
}

TEST_CASE("a wrong count for NumReturns on another node is a ReturnCountError for each result") {
  LocalCluster cluster(2);
  const weft::NodeId a = cluster.worker_id(0);
  struct Seen {
    std::vector<int> right;
    std::vector<std::exception_ptr> wrong;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    Seen s;
    auto right = weft::submit<&cluster_count_up>(on(a), weft::NumReturns{3}, 3);
    auto wrong = weft::submit<&cluster_count_up>(on(a), weft::NumReturns{2}, 4);
    for (auto& r : right) s.right.push_back(co_await within(r));
    for (auto& r : wrong) s.wrong.push_back(co_await failure_within(r));
    co_return s;
  });
  CHECK(seen.right == std::vector<int>{100, 101, 102});
  REQUIRE(seen.wrong.size() == 2);
  for (const auto& error : seen.wrong) {
    CHECK_THROWS_MATCHES(std::rethrow_exception(error), weft::ReturnCountError,
                         Catch::Message("cluster_count_up returned 4 values for 2 results; return "
                                        "exactly as many as the caller's NumReturns asks for"));
  }
}

TEST_CASE("an actor method on another node returns several results") {
  LocalCluster cluster(2);
  const weft::NodeId a = cluster.worker_id(0);
  const auto [before, after, total] =
      cluster.head().run([&](weft::Runtime&) -> weft::Task<std::tuple<int, int, int>> {
        weft::ActorOptions there;
        there.strategy = weft::NodeAffinity{a, false};
        auto counter = co_await weft::spawn<ClusterCounter>().options(there);
        counter.call<&ClusterCounter::add>(10);
        auto [b, f] = counter.call<&ClusterCounter::exchange_add>(5);
        const int bv = co_await within(b);
        const int fv = co_await within(f);
        const int tv = co_await within(counter.call<&ClusterCounter::value>());
        co_return std::tuple{bv, fv, tv};
      });
  CHECK(before == 10);
  CHECK(after == 15);
  CHECK(total == 15);
}
