// The key-value store on a node that runs alone: the node keeps the pairs
// itself, and the limits on keys and values hold as they do in a cluster.
// Drivers return what they saw; the test thread asserts (Catch2 2.x is not
// thread-safe).
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "weft/weft.hpp"
#include "weft_test.hpp"

namespace {

weft::NodeOptions small_node() { return {.threads = 2, .store = {.capacity = 16 << 20}}; }

// What awaiting `task` threw, as text ("" if nothing).
template <typename T>
weft::Task<std::string> error_of(weft::Task<T> task) {
  std::string what;
  try {
    co_await std::move(task);
  } catch (const weft::UsageError& e) {
    what = e.what();
  }
  co_return what;
}

struct Seen {
  std::optional<std::string> value, overwritten, after_delete;
  std::vector<std::string> keys, all_keys;
  bool deleted = false, deleted_again = true;
};

}  // namespace

TEST_CASE("on a node alone, kv_put, kv_get, kv_delete and kv_keys use the node's own store") {
  weft::Node node(small_node());
  const Seen seen = node.run([](weft::Runtime&) -> weft::Task<Seen> {
    Seen s;
    co_await weft::kv_put("tune/trial/1", std::string("a\0b", 3));
    co_await weft::kv_put("tune/best", "1");
    co_await weft::kv_put("other", "x");
    s.value = co_await weft::kv_get("tune/trial/1");
    co_await weft::kv_put("tune/best", "2");
    s.overwritten = co_await weft::kv_get("tune/best");
    s.keys = co_await weft::kv_keys("tune/");
    s.deleted = co_await weft::kv_delete("other");
    s.deleted_again = co_await weft::kv_delete("other");
    s.after_delete = co_await weft::kv_get("other");
    s.all_keys = co_await weft::kv_keys();
    co_return s;
  });
  CHECK(seen.value == std::string("a\0b", 3));
  CHECK(seen.overwritten == "2");
  CHECK(seen.keys == std::vector<std::string>{"tune/best", "tune/trial/1"});
  CHECK(seen.deleted);
  CHECK_FALSE(seen.deleted_again);
  CHECK_FALSE(seen.after_delete);
  CHECK(seen.all_keys == std::vector<std::string>{"tune/best", "tune/trial/1"});
}

TEST_CASE("a value over kv_max_value_bytes is refused with an error naming the limit") {
  struct Outcome {
    std::string refusal;
    std::optional<std::string> at_limit;
  };
  weft::Node node(small_node());
  const Outcome outcome = node.run([](weft::Runtime&) -> weft::Task<Outcome> {
    Outcome o;
    o.refusal =
        co_await error_of(weft::kv_put("big", std::string(weft::kv_max_value_bytes + 1, 'x')));
    co_await weft::kv_put("big", std::string(weft::kv_max_value_bytes, 'y'));
    o.at_limit = co_await weft::kv_get("big");
    co_return o;
  });
  CHECK_THAT(outcome.refusal, Catch::Contains("'big'") && Catch::Contains("8 MiB limit") &&
                                  Catch::Contains("kv_max_value_bytes"));
  CHECK(outcome.at_limit == std::string(weft::kv_max_value_bytes, 'y'));
}

TEST_CASE("an empty key or one over kv_max_key_bytes is refused with an error naming the limit") {
  weft::Node node(small_node());
  const auto errors = node.run([](weft::Runtime&) -> weft::Task<std::vector<std::string>> {
    const std::string long_key(weft::kv_max_key_bytes + 1, 'k');
    std::vector<std::string> e;
    e.push_back(co_await error_of(weft::kv_put(long_key, "v")));
    e.push_back(co_await error_of(weft::kv_get(long_key)));
    e.push_back(co_await error_of(weft::kv_delete(long_key)));
    e.push_back(co_await error_of(weft::kv_keys(long_key)));
    e.push_back(co_await error_of(weft::kv_put("", "v")));
    co_return e;
  });
  REQUIRE(errors.size() == 5);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK_THAT(errors[i], Catch::Contains("1025 bytes") && Catch::Contains("1024-byte limit") &&
                              Catch::Contains("kv_max_key_bytes"));
  }
  CHECK_THAT(errors[4], Catch::Contains("must not be empty"));
}
