// Actors across real node processes: names found from other nodes, handles
// passed to tasks elsewhere, per-caller order through a proxy, and kill
// failing the calls a proxy holds.
#include <cstdint>
#include <numeric>
#include <string>
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

TEST_CASE("a named actor created on one node is reached from another node") {
  LocalCluster cluster(3);
  const weft::NodeId b = cluster.worker_id(0), c = cluster.worker_id(1);

  struct Seen {
    int home_pid = 0, from_c = 0, second_from_c = 0, value = 0;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    weft::ActorOptions options;
    options.name = "x";
    options.strategy = weft::NodeAffinity{b, false};
    auto counter = co_await weft::spawn<ClusterCounter>().options(options);
    Seen s;
    s.home_pid = co_await within(counter.call<&ClusterCounter::pid>());
    s.from_c = co_await within(weft::submit<&cluster_add_to_named>(on(c), std::string("x"), 5));
    s.second_from_c =
        co_await within(weft::submit<&cluster_add_to_named>(on(c), std::string("x"), 2));
    s.value = co_await within(counter.call<&ClusterCounter::value>());
    weft::kill(counter);
    co_return s;
  });

  CHECK(seen.home_pid == cluster.worker(0).pid());
  CHECK(seen.from_c == 5);
  CHECK(seen.second_from_c == 7);
  CHECK(seen.value == 7);
}

TEST_CASE("refs passed to an actor's constructor on another node stay readable there") {
  LocalCluster cluster(2);
  const weft::NodeId b = cluster.worker_id(0);
  constexpr std::uint64_t n = 1 << 20;

  const auto seen =
      cluster.head().run([&](weft::Runtime&) -> weft::Task<std::vector<std::uint64_t>> {
        weft::ActorOptions there;
        there.strategy = weft::NodeAffinity{b, false};
        auto holder = co_await [&]() -> weft::Task<weft::ActorHandle<ClusterHolder>> {
          // The refs die with this scope: the actor's copies are all that is left.
          auto bytes = weft::put(cluster_bytes(n, 4));
          auto extra = weft::put(5);
          co_return co_await weft::spawn<ClusterHolder>(bytes, extra).options(there);
        }();
        auto result = co_await within(holder.call<&ClusterHolder::sum>());
        weft::kill(holder);
        co_return result;
      });

  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == cluster_expected_sum(n, 4) + 5);
  CHECK(static_cast<int>(seen[1]) == cluster.worker(0).pid());
  // The actor's end frees its copies; the head's went with the driver's refs.
  const bool emptied = cluster.stores_empty_within(5s);
  INFO(cluster.store_loads());
  CHECK(emptied);
}

TEST_CASE("an actor handle passed to a task on another node reaches the actor") {
  LocalCluster cluster(3);
  const weft::NodeId b = cluster.worker_id(0), c = cluster.worker_id(1);

  struct Seen {
    std::vector<int> remote_from_c, remote_from_home, local_from_c;
    int remote_value = 0, local_value = 0;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    weft::ActorOptions on_b;
    on_b.strategy = weft::NodeAffinity{b, false};
    auto remote = co_await weft::spawn<ClusterCounter>().options(on_b);
    weft::ActorOptions here;
    here.strategy = weft::NodeAffinity{cluster.head_id(), false};
    auto local = co_await weft::spawn<ClusterCounter>().options(here);
    Seen s;
    // An actor on B, through a handle decoded on C (a proxy) and on B (the instance).
    s.remote_from_c = co_await within(weft::submit<&cluster_add_via_handle>(on(c), remote, 3));
    s.remote_from_home = co_await within(weft::submit<&cluster_add_via_handle>(on(b), remote, 4));
    s.remote_value = co_await within(remote.call<&ClusterCounter::value>());
    // An actor on the driver's node, called back from C.
    s.local_from_c = co_await within(weft::submit<&cluster_add_via_handle>(on(c), local, 10));
    s.local_value = co_await within(local.call<&ClusterCounter::value>());
    weft::kill(remote);
    weft::kill(local);
    co_return s;
  });

  CHECK(seen.remote_from_c == std::vector<int>{3, cluster.worker(1).pid()});
  CHECK(seen.remote_from_home == std::vector<int>{7, cluster.worker(0).pid()});
  CHECK(seen.remote_value == 7);
  CHECK(seen.local_from_c == std::vector<int>{10, cluster.worker(1).pid()});
  CHECK(seen.local_value == 10);
}

TEST_CASE("calls through one handle to a remote actor run in the order they were made") {
  LocalCluster cluster(3);
  const weft::NodeId b = cluster.worker_id(0);
  constexpr int calls = 1000;

  struct Seen {
    std::vector<int> results, order;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    weft::ActorOptions on_b;
    on_b.strategy = weft::NodeAffinity{b, false};
    auto recorder = co_await weft::spawn<ClusterRecorder>().options(on_b);
    std::vector<weft::ObjectRef<int>> refs;
    refs.reserve(calls);
    for (int i = 0; i < calls; ++i) refs.push_back(recorder.call<&ClusterRecorder::push>(i));
    Seen s;
    for (auto& r : refs) s.results.push_back(co_await within(r));
    s.order = co_await within(recorder.call<&ClusterRecorder::seen>());
    weft::kill(recorder);
    co_return s;
  });

  std::vector<int> expected(calls);
  std::iota(expected.begin(), expected.end(), 0);
  CHECK(seen.results == expected);
  CHECK(seen.order == expected);
}

TEST_CASE("a caller waiting for its refs at a proxy holds back no other caller of that actor") {
  LocalCluster cluster(2);
  const weft::NodeId b = cluster.worker_id(0);

  struct Seen {
    int other = 0, waited = 0, behind = 0;
    bool held_while_other_ran = false;
    std::vector<int> order;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime& rt) -> weft::Task<Seen> {
    weft::ActorOptions on_b;
    on_b.name = "callers";
    on_b.strategy = weft::NodeAffinity{b, false};
    auto recorder = co_await weft::spawn<ClusterRecorder>().options(on_b);
    auto other = co_await weft::get_actor<ClusterRecorder>("callers");
    auto pending = weft::detail::make_pending_object(rt.store());
    auto waited = recorder.call<&ClusterRecorder::push>(weft::ObjectRef<int>(pending));
    auto behind = recorder.call<&ClusterRecorder::push>(2);
    Seen s;
    s.other = co_await within(other.call<&ClusterRecorder::push>(10));
    s.held_while_other_ran = !waited.is_ready() && !behind.is_ready();
    weft::detail::seal_with_value(*pending.get(), 1);
    s.waited = co_await within(waited);
    s.behind = co_await within(behind);
    s.order = co_await within(other.call<&ClusterRecorder::seen>());
    weft::kill(recorder);
    co_return s;
  });

  CHECK(seen.other == 10);
  CHECK(seen.held_while_other_ran);
  CHECK(seen.waited == 1);
  CHECK(seen.behind == 2);
  CHECK(seen.order == std::vector<int>{10, 1, 2});
}

TEST_CASE("killing a remote actor fails at once the calls its proxy holds behind a pending ref") {
  LocalCluster cluster(2);
  const weft::NodeId b = cluster.worker_id(0);

  struct Seen {
    int other = 0;
    std::exception_ptr waited, behind;
  };
  const Seen seen = cluster.head().run([&](weft::Runtime& rt) -> weft::Task<Seen> {
    weft::ActorOptions on_b;
    on_b.name = "held";
    on_b.strategy = weft::NodeAffinity{b, false};
    auto recorder = co_await weft::spawn<ClusterRecorder>().options(on_b);
    auto other = co_await weft::get_actor<ClusterRecorder>("held");
    auto pending = weft::detail::make_pending_object(rt.store());
    auto waited = recorder.call<&ClusterRecorder::push>(weft::ObjectRef<int>(pending));
    auto behind = recorder.call<&ClusterRecorder::push>(2);
    // Once another caller's later call is answered, both are held at the proxy.
    Seen s;
    s.other = co_await within(other.call<&ClusterRecorder::push>(10));
    weft::kill(recorder);
    s.waited = co_await failure_within(waited);
    s.behind = co_await failure_within(behind);
    weft::detail::seal_with_value(*pending.get(), 1);
    co_return s;
  });

  CHECK(seen.other == 10);
  CHECK_THAT(describe(seen.waited), Catch::StartsWith("ActorDiedError"));
  CHECK_THAT(describe(seen.behind), Catch::StartsWith("ActorDiedError"));
}
