// Errors that cross nodes: a refusal made on the head reaches a worker as the
// same weft error type with the head's message, and no message a user sees
// carries the transport's own text (capnp's "remote exception:", KJ's source
// expressions, the wire's refusal tag).
#include <string>
#include <string_view>

#include "cluster_remotes.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using cluster_test::LocalCluster;
using cluster_test::on;
using cluster_test::within;

namespace {

// What a user would see of an error: its weft type and message.
template <typename Body>
weft::Task<std::string> what_failed(Body body) {
  try {
    co_await body();
  } catch (const weft::InfeasibleError& e) {
    co_return std::string("InfeasibleError: ") + e.what();
  } catch (const weft::UsageError& e) {
    co_return std::string("UsageError: ") + e.what();
  } catch (const std::exception& e) {
    co_return std::string("other: ") + e.what();
  }
  co_return "no error";
}

}  // namespace

inline weft::Task<std::string> errors_reserve_too_much() {
  return what_failed([]() -> weft::Task<void> {
    const std::vector<weft::Resources> bundles(1, weft::Resources{.cpu = 1e6});
    co_await weft::create_placement_group(bundles, weft::PlacementStrategy::pack);
  });
}
WEFT_REMOTE(errors_reserve_too_much);

inline weft::Task<std::string> errors_spawn_named(std::string name) {
  return what_failed([name]() -> weft::Task<void> {
    weft::ActorOptions named;
    named.name = name;
    co_await weft::spawn<ClusterCounter>().options(named);
  });
}
WEFT_REMOTE(errors_spawn_named);

namespace {

bool shows_transport_text(std::string_view message) {
  for (std::string_view internal : {"remote exception", "weft-error", "fmt::", "KJ", "kj::"}) {
    if (message.find(internal) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a placement group the head refuses reaches a worker as InfeasibleError, as said") {
  LocalCluster cluster(2);
  const weft::NodeId a = cluster.worker_id(0);

  const std::string seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<std::string> {
    co_return co_await within(weft::submit<&errors_reserve_too_much>(on(a)));
  });

  INFO(seen);
  CHECK(seen.starts_with("InfeasibleError: "));
  CHECK(seen.find("cpu: 1000000") != std::string::npos);
  CHECK_FALSE(shows_transport_text(seen));
}

TEST_CASE("an actor name already taken is refused on a worker with UsageError") {
  LocalCluster cluster(2);
  const weft::NodeId a = cluster.worker_id(0);

  const std::string seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<std::string> {
    weft::ActorOptions named;
    named.name = "taken";
    auto holder = co_await weft::spawn<ClusterCounter>().options(named);
    std::string from_worker =
        co_await within(weft::submit<&errors_spawn_named>(on(a), std::string("taken")));
    weft::kill(holder);
    co_return from_worker;
  });

  INFO(seen);
  CHECK(seen.starts_with("UsageError: "));
  CHECK(seen.find("an actor named 'taken' already exists") != std::string::npos);
  CHECK_FALSE(shows_transport_text(seen));
}
