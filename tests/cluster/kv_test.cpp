// The cluster's key-value store: pairs live on the head, and every node
// reads and writes them through it. Tasks pinned to worker processes make
// the calls, so each goes over the wire as a user's would.
#include <optional>
#include <string>
#include <vector>

#include "cluster_remotes.hpp"
#include "local_cluster.hpp"
#include "weft_test.hpp"

using cluster_test::LocalCluster;
using cluster_test::on;
using cluster_test::within;

namespace {

struct Seen {
  std::optional<std::string> on_other_worker, on_head, after_delete;
  std::vector<std::string> keys;
  bool deleted = false, deleted_again = true;
};

}  // namespace

TEST_CASE("a pair put from one worker is read, listed and deleted from other nodes") {
  LocalCluster cluster(3);
  const weft::NodeId a = cluster.worker_id(0), b = cluster.worker_id(1);
  const std::string value("model\0bytes", 11);

  const Seen seen = cluster.head().run([&](weft::Runtime&) -> weft::Task<Seen> {
    Seen s;
    co_await within(weft::submit<&cluster_kv_put>(on(a), std::string("tune/best"), value));
    co_await within(weft::submit<&cluster_kv_put>(on(a), std::string("tune/trial/1"), value));
    co_await weft::kv_put("other", "x");
    s.on_other_worker =
        co_await within(weft::submit<&cluster_kv_get>(on(b), std::string("tune/best")));
    s.on_head = co_await weft::kv_get("tune/best");
    s.keys = co_await within(weft::submit<&cluster_kv_keys>(on(b), std::string("tune/")));
    s.deleted = co_await within(weft::submit<&cluster_kv_delete>(on(b), std::string("tune/best")));
    s.deleted_again =
        co_await within(weft::submit<&cluster_kv_delete>(on(a), std::string("tune/best")));
    s.after_delete =
        co_await within(weft::submit<&cluster_kv_get>(on(a), std::string("tune/best")));
    co_return s;
  });

  CHECK(seen.on_other_worker == value);
  CHECK(seen.on_head == value);
  CHECK(seen.keys == std::vector<std::string>{"tune/best", "tune/trial/1"});
  CHECK(seen.deleted);
  CHECK_FALSE(seen.deleted_again);
  CHECK_FALSE(seen.after_delete);
}

TEST_CASE("an oversize key or value put from a worker is refused with an error naming the limit") {
  struct Outcome {
    std::string value_refusal, key_refusal;
    std::vector<std::string> keys;
  };
  LocalCluster cluster(2);
  const weft::NodeId a = cluster.worker_id(0);

  const Outcome outcome = cluster.head().run([&](weft::Runtime&) -> weft::Task<Outcome> {
    Outcome o;
    const std::uint64_t too_big = weft::kv_max_value_bytes + 1;
    o.value_refusal =
        co_await within(weft::submit<&cluster_kv_put_refusal>(on(a), std::string("big"), too_big));
    o.key_refusal = co_await within(weft::submit<&cluster_kv_put_refusal>(
        on(a), std::string(weft::kv_max_key_bytes + 1, 'k'), std::uint64_t{1}));
    o.keys = co_await weft::kv_keys();
    co_return o;
  });

  CHECK_THAT(outcome.value_refusal, Catch::Contains("'big'") && Catch::Contains("8 MiB limit") &&
                                        Catch::Contains("kv_max_value_bytes"));
  CHECK_THAT(outcome.key_refusal,
             Catch::Contains("1024-byte limit") && Catch::Contains("kv_max_key_bytes"));
  CHECK(outcome.keys.empty());
}
