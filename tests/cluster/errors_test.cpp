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
