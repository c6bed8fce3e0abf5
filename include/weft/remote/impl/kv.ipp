// The key-value store's input checks; compiled once into libweft.
#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/remote/kv.hpp"

namespace weft::detail {

namespace {
// The start of a key that may be huge or binary, for error messages.
std::string shown(std::string_view key) {
  constexpr std::size_t shown_bytes = 32;
  return key.size() <= shown_bytes ? std::string(key)
                                   : fmt::format("{}...", key.substr(0, shown_bytes));
}
}  // namespace

void check_kv_prefix(std::string_view prefix) {
  if (prefix.size() > kv_max_key_bytes) {
    throw UsageError(fmt::format(
        "key-value key '{}' is {} bytes, over the {}-byte limit (weft::kv_max_key_bytes)",
        shown(prefix), prefix.size(), kv_max_key_bytes));
  }
}

void check_kv_key(std::string_view key) {
  if (key.empty()) throw UsageError("key-value keys must not be empty");
  check_kv_prefix(key);
}

void check_kv_value(std::string_view key, std::size_t value_bytes) {
  if (value_bytes > kv_max_value_bytes) {
    throw UsageError(
        fmt::format("the value for key-value key '{}' is {} bytes, over the {} MiB limit "
                    "(weft::kv_max_value_bytes); keep large data in objects (weft::put) or files",
                    shown(key), value_bytes, kv_max_value_bytes >> 20));
  }
}

}  // namespace weft::detail
