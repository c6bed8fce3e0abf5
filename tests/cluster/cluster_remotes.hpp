// Every function and actor the cluster tests run on remote nodes.
//
// They live in this one header, included by the test binary and by
// other_build.cpp, so that the two builds' registries differ in exactly one
// function (only_in_other_build) and the handshake's refusal has a single,
// known difference to name. Anything registered (WEFT_REMOTE, WEFT_ACTOR, an
// actor constructor used by spawn) belongs here, not in a test file.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "weft/weft.hpp"

// --- tasks ------------------------------------------------------------------------

// The process a task ran in: tells the test which node ran it.
inline int cluster_pid() { return static_cast<int>(getpid()); }
WEFT_REMOTE(cluster_pid);

inline int cluster_add(int a, int b) { return a + b; }
WEFT_REMOTE(cluster_add);

// `n` bytes following a pattern the summing tasks can check.
inline std::vector<std::uint8_t> cluster_bytes(std::uint64_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::uint64_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 31 + seed);
  return v;
}
WEFT_REMOTE(cluster_bytes);

// As cluster_bytes, after `ms` milliseconds: a result that is still pending
// when the test passes it on.
inline weft::Task<std::vector<std::uint8_t>> cluster_bytes_later(std::uint64_t n,
                                                                 std::uint32_t seed,
                                                                 std::int64_t ms) {
  co_await weft::sleep_for(std::chrono::milliseconds(ms));
  co_return cluster_bytes(n, seed);
}
WEFT_REMOTE(cluster_bytes_later);

// The sum the summing tasks should find for cluster_bytes(n, seed).
inline std::uint64_t cluster_expected_sum(std::uint64_t n, std::uint32_t seed) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += static_cast<std::uint8_t>(i * 31 + seed);
  return sum;
}

// {sum of the bytes, size, pid of the node that summed them}.
inline std::vector<std::uint64_t> cluster_sum_bytes(std::vector<std::uint8_t> v) {
  std::uint64_t sum = 0;
  for (auto b : v) sum += b;
  return {sum, v.size(), static_cast<std::uint64_t>(getpid())};
}
WEFT_REMOTE(cluster_sum_bytes);

// As cluster_sum_bytes, but receives the ref and awaits it where it runs.
inline weft::Task<std::vector<std::uint64_t>> cluster_sum_bytes_ref(
    weft::ObjectRef<std::vector<std::uint8_t>> ref) {
  auto v = co_await ref;
  co_return cluster_sum_bytes(std::move(v));
}
WEFT_REMOTE(cluster_sum_bytes_ref);

inline std::uint64_t cluster_string_length(std::string s) { return s.size(); }
WEFT_REMOTE(cluster_string_length);

// Sleeps `ms` milliseconds on its node, then returns that node's pid.
inline weft::Task<int> cluster_sleep_then_pid(std::int64_t ms) {
  co_await weft::sleep_for(std::chrono::milliseconds(ms));
  co_return cluster_pid();
}
WEFT_REMOTE(cluster_sleep_then_pid);

// Puts a small and a large value where it runs and returns refs to them:
// objects owned by that node, named inside a result owned by the caller.
inline std::pair<weft::ObjectRef<int>, weft::ObjectRef<std::vector<std::uint8_t>>> cluster_put_pair(
    int small, std::uint64_t n, std::uint32_t seed) {
  return {weft::put(small), weft::put(cluster_bytes(n, seed))};
}
WEFT_REMOTE(cluster_put_pair);

// A value (larger than travels inline) that names another object.
using ClusterBigWithRef = std::pair<std::vector<std::uint8_t>, weft::ObjectRef<int>>;
inline ClusterBigWithRef cluster_big_with_ref(std::uint64_t n, int value) {
  return {cluster_bytes(n, 1), weft::put(value)};
}
WEFT_REMOTE(cluster_big_with_ref);

using ClusterRefPair = std::pair<weft::ObjectRef<int>, weft::ObjectRef<std::vector<std::uint8_t>>>;

// Reads objects through refs found inside another object's value:
// {the int + the sum of the bytes, size of the big value, pid}.
inline weft::Task<std::vector<std::uint64_t>> cluster_read_through(
    weft::ObjectRef<ClusterRefPair> pair, weft::ObjectRef<ClusterBigWithRef> big) {
  auto p = co_await pair;
  auto b = co_await big;
  std::uint64_t sum = static_cast<std::uint64_t>(co_await p.first);
  for (auto x : co_await p.second) sum += x;
  sum += static_cast<std::uint64_t>(co_await b.second);
  co_return std::vector<std::uint64_t>{sum, b.first.size(),
                                       static_cast<std::uint64_t>(cluster_pid())};
}
WEFT_REMOTE(cluster_read_through);

// Submits cluster_bytes to node `where` and returns that ref unawaited: the
// caller gets a ref owned here whose value is still being made elsewhere.
inline std::vector<weft::ObjectRef<std::vector<std::uint8_t>>> cluster_bytes_via(
    weft::NodeId where, std::uint64_t n, std::uint32_t seed) {
  weft::TaskOptions there{.strategy = weft::NodeAffinity{where}};
  return {weft::submit<&cluster_bytes>(there, n, seed)};
}
WEFT_REMOTE(cluster_bytes_via);

// From the node it runs on: reserves `cpu` on every one of `nodes` nodes
// (STRICT_SPREAD), removes that group and at once reserves the same again,
// which fits only if the head applied the removal first; removes that too.
inline weft::Task<bool> cluster_reserve_twice(std::size_t nodes, double cpu) {
  const std::vector<weft::Resources> bundles(nodes, weft::Resources{.cpu = cpu});
  auto first =
      co_await weft::create_placement_group(bundles, weft::PlacementStrategy::strict_spread);
  co_await weft::remove_placement_group(first);
  auto second =
      co_await weft::create_placement_group(bundles, weft::PlacementStrategy::strict_spread);
  co_await weft::remove_placement_group(second);
  co_return (first.bundle_nodes.size() == nodes) && (second.bundle_nodes.size() == nodes);
}
WEFT_REMOTE(cluster_reserve_twice);

// Many refs in one argument or one result (bounded_test.cpp).
using ClusterBytesRefs = std::vector<weft::ObjectRef<std::vector<std::uint8_t>>>;

// {sum of every byte of every object, how many objects, pid}.
inline weft::Task<std::vector<std::uint64_t>> cluster_sum_all(ClusterBytesRefs refs) {
  std::uint64_t sum = 0;
  for (auto& r : refs) {
    for (auto b : co_await r) sum += b;
  }
  co_return std::vector<std::uint64_t>{sum, refs.size(), static_cast<std::uint64_t>(getpid())};
}
WEFT_REMOTE(cluster_sum_all);

// Puts `count` objects of `n` bytes (seeds 0, 1, ...) where it runs.
inline ClusterBytesRefs cluster_put_many(std::uint64_t count, std::uint64_t n) {
  ClusterBytesRefs refs;
  refs.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    refs.push_back(weft::put(cluster_bytes(n, static_cast<std::uint32_t>(i))));
  }
  return refs;
}
WEFT_REMOTE(cluster_put_many);

// --- the key-value store -----------------------------------------------------------

// Each returns what the node it runs on saw.
inline weft::Task<void> cluster_kv_put(std::string key, std::string value) {
  co_await weft::kv_put(std::move(key), std::move(value));
}
WEFT_REMOTE(cluster_kv_put);

inline weft::Task<std::optional<std::string>> cluster_kv_get(std::string key) {
  co_return co_await weft::kv_get(std::move(key));
}
WEFT_REMOTE(cluster_kv_get);

inline weft::Task<bool> cluster_kv_delete(std::string key) {
  co_return co_await weft::kv_delete(std::move(key));
}
WEFT_REMOTE(cluster_kv_delete);

inline weft::Task<std::vector<std::string>> cluster_kv_keys(std::string prefix) {
  co_return co_await weft::kv_keys(std::move(prefix));
}
WEFT_REMOTE(cluster_kv_keys);

// Puts `value_bytes` bytes under `key`; what the refusal said, or "" if stored.
inline weft::Task<std::string> cluster_kv_put_refusal(std::string key, std::uint64_t value_bytes) {
  std::string refusal;
  try {
    co_await weft::kv_put(std::move(key), std::string(value_bytes, 'v'));
  } catch (const weft::Error& e) {
    refusal = e.what();
  }
  co_return refusal;
}
WEFT_REMOTE(cluster_kv_put_refusal);

// --- several results ---------------------------------------------------------------

// A small result, a large one (pulled, past the inline limit) and the pid
// of the node that made them.
inline weft::Returns<int, std::vector<std::uint8_t>, int> cluster_small_large(int x,
                                                                              std::uint64_t n) {
  return {x + 1, cluster_bytes(n, static_cast<std::uint32_t>(x)), cluster_pid()};
}
WEFT_REMOTE(cluster_small_large);

inline weft::Returns<int, int> cluster_pair_throws(int x) {
  std::string message = "no pair on a worker for ";
  message += std::to_string(x);
  throw std::invalid_argument(message);
}
WEFT_REMOTE(cluster_pair_throws);

// `n` values: called with NumReturns{n} (or another count, to fail).
inline std::vector<int> cluster_count_up(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i + 100);
  return v;
}
WEFT_REMOTE(cluster_count_up);

// --- actors -------------------------------------------------------------------------

class ClusterCounter {
 public:
  int add(int n) { return value_ += n; }
  int value() const { return value_; }
  int pid() const { return cluster_pid(); }
  // The value before and after adding `n`, as two results.
  weft::Returns<int, int> exchange_add(int n) {
    const int before = value_;
    value_ += n;
    return {before, value_};
  }
  // Adds after `ms` milliseconds: a call that stays pending for a while.
  weft::Task<int> slow_add(int n, std::int64_t ms) {
    co_await weft::sleep_for(std::chrono::milliseconds(ms));
    co_return value_ += n;
  }

 private:
  int value_ = 0;
};
WEFT_ACTOR(ClusterCounter, &ClusterCounter::add, &ClusterCounter::value, &ClusterCounter::pid,
           &ClusterCounter::slow_add, &ClusterCounter::exchange_add);

// Records the sequence numbers it is sent, in arrival order.
class ClusterRecorder {
 public:
  int push(int seq) {
    seen_.push_back(seq);
    return seq;
  }
  std::vector<int> seen() const { return seen_; }

 private:
  std::vector<int> seen_;
};
WEFT_ACTOR(ClusterRecorder, &ClusterRecorder::push, &ClusterRecorder::seen);

// Built from refs (a large and a small object), which it keeps and reads later.
class ClusterHolder {
 public:
  ClusterHolder(weft::ObjectRef<std::vector<std::uint8_t>> bytes, weft::ObjectRef<int> extra)
      : bytes_(std::move(bytes)), extra_(std::move(extra)) {}
  // {sum of the bytes + extra, pid of the node it lives on}.
  weft::Task<std::vector<std::uint64_t>> sum() const {
    const auto bytes = co_await bytes_;
    const int extra = co_await extra_;
    std::uint64_t sum = static_cast<std::uint64_t>(extra);
    for (auto b : bytes) sum += b;
    co_return std::vector<std::uint64_t>{sum, static_cast<std::uint64_t>(cluster_pid())};
  }

 private:
  weft::ObjectRef<std::vector<std::uint8_t>> bytes_;
  weft::ObjectRef<int> extra_;
};
WEFT_ACTOR(ClusterHolder, &ClusterHolder::sum);

// Tasks that reach an actor from wherever they run.
inline weft::Task<int> cluster_add_to_named(std::string name, int n) {
  auto counter = co_await weft::get_actor<ClusterCounter>(name);
  co_return co_await counter.call<&ClusterCounter::add>(n);
}
WEFT_REMOTE(cluster_add_to_named);

// {the counter's value after adding n, pid of the node the task ran on}.
inline weft::Task<std::vector<int>> cluster_add_via_handle(
    weft::ActorHandle<ClusterCounter> counter, int n) {
  const int value = co_await counter.call<&ClusterCounter::add>(n);
  co_return std::vector<int>{value, cluster_pid()};
}
WEFT_REMOTE(cluster_add_via_handle);

// spawn<T>(args...) registers T's constructor for those argument types where
// it is instantiated; naming them here gives both builds the same ones.
[[maybe_unused]] static const bool cluster_constructors_registered =
    (static_cast<void>(weft::detail::ConstructorRegistration<ClusterCounter, std::tuple<>>::id),
     static_cast<void>(weft::detail::ConstructorRegistration<ClusterRecorder, std::tuple<>>::id),
     static_cast<void>(
         weft::detail::ConstructorRegistration<
             ClusterHolder,
             std::tuple<weft::ObjectRef<std::vector<std::uint8_t>>, weft::ObjectRef<int>>>::id),
     true);

// --- errors across nodes -------------------------------------------------------

// What a user would see of an error: its weft type and message.
template <typename Body>
weft::Task<std::string> errors_what_failed(Body body) {
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

inline weft::Task<std::string> errors_reserve_too_much() {
  return errors_what_failed([]() -> weft::Task<void> {
    const std::vector<weft::Resources> bundles(1, weft::Resources{.cpu = 1e6});
    co_await weft::create_placement_group(bundles, weft::PlacementStrategy::pack);
  });
}
WEFT_REMOTE(errors_reserve_too_much);

inline weft::Task<std::string> errors_spawn_named(std::string name) {
  return errors_what_failed([name]() -> weft::Task<void> {
    weft::ActorOptions named;
    named.name = name;
    co_await weft::spawn<ClusterCounter>().options(named);
  });
}
WEFT_REMOTE(errors_spawn_named);
