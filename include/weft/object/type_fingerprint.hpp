// A stable 64-bit fingerprint and a readable name for every C++ type.
//
// Every payload carries its type's fingerprint, so reading an object as the
// wrong type is a clear error instead of garbage. The name comes from the
// compiler's own spelling of the type, so it is identical across processes
// built by the same compiler from the same sources.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weft {

template <typename T>
constexpr std::string_view type_name() noexcept {
  // GCC/Clang: "... type_name() [with T = int; ...]" / "... [T = int]".
  std::string_view p = __PRETTY_FUNCTION__;
  auto start = p.find("T = ");
  if (start == std::string_view::npos) return p;
  start += 4;
  auto end = p.find_first_of(";]", start);
  return p.substr(start, end - start);
}

constexpr std::uint64_t fnv1a64(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

template <typename T>
inline constexpr std::uint64_t type_fingerprint = fnv1a64(type_name<T>());

namespace detail {
// Remembers fingerprint -> name for error messages about types this process
// has written. Thread-safe; each type registers once.
void remember_type_name(std::uint64_t fingerprint, std::string_view name);
// The name of a fingerprint this process has seen, else "a type with fingerprint 0x...".
std::string describe_fingerprint(std::uint64_t fingerprint);

template <typename T>
inline void remember_type() {
  static const bool once = (remember_type_name(type_fingerprint<T>, type_name<T>()), true);
  (void)once;
}
}  // namespace detail

}  // namespace weft
