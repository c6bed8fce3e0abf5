// The cluster's key-value store (Ray's internal KV, DESIGN §8): small shared
// state that every driver, task and actor of a cluster reads and writes by name.
//
//   co_await weft::kv_put("tune/best", encoded_config);
//   std::optional<std::string> best = co_await weft::kv_get("tune/best");
//   std::vector<std::string> keys = co_await weft::kv_keys("tune/");
//   bool existed = co_await weft::kv_delete("tune/best");
//
// In a cluster the pairs live on the head, in its control store: each call
// is one round trip there, and a head started with --snapshot FILE keeps
// them across a restart. A node running alone keeps them itself. Values are
// bytes (a std::string holds any); keep them small, and large data in
// objects or files. Call from any thread a node owns (driver, task, actor).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weft/core/task.hpp"
#include "weft/remote/runtime.hpp"

namespace weft {

// Keys are 1 to kv_max_key_bytes bytes, values at most kv_max_value_bytes;
// anything larger is refused with UsageError naming the limit.
inline constexpr std::size_t kv_max_key_bytes = 1024;
inline constexpr std::size_t kv_max_value_bytes = std::size_t{8} << 20;

namespace detail {
// Throw UsageError naming the limit a key, prefix or value breaks.
void check_kv_key(std::string_view key);
void check_kv_prefix(std::string_view prefix);
void check_kv_value(std::string_view key, std::size_t value_bytes);
}  // namespace detail

// Stores `value` under `key`, replacing what was there.
inline Task<void> kv_put(std::string key, std::string value) {
  detail::check_kv_key(key);
  detail::check_kv_value(key, value.size());
  co_await current_runtime().kv_put(std::move(key), std::move(value));
}

// The value under `key`, or nullopt.
inline Task<std::optional<std::string>> kv_get(std::string key) {
  detail::check_kv_key(key);
  co_return co_await current_runtime().kv_get(std::move(key));
}

// Removes `key`; whether it was there.
inline Task<bool> kv_delete(std::string key) {
  detail::check_kv_key(key);
  co_return co_await current_runtime().kv_delete(std::move(key));
}

// The keys starting with `prefix` (every key for ""), sorted.
inline Task<std::vector<std::string>> kv_keys(std::string prefix = {}) {
  detail::check_kv_prefix(prefix);
  co_return co_await current_runtime().kv_keys(std::move(prefix));
}

}  // namespace weft
