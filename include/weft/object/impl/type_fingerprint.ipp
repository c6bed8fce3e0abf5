// Type-name memory for error messages; compiled once into libweft.
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>

#include "weft/object/type_fingerprint.hpp"

namespace weft::detail {

namespace {
// Type metadata of the program's code, like the function registry: not
// runtime state, so one table per process is right.
struct TypeNames {
  std::mutex mutex;
  std::unordered_map<std::uint64_t, std::string> names;
};
TypeNames& type_names() {
  static TypeNames table;
  return table;
}
}  // namespace

void remember_type_name(std::uint64_t fingerprint, std::string_view name) {
  auto& t = type_names();
  std::lock_guard lock(t.mutex);
  t.names.emplace(fingerprint, std::string(name));
}

std::string describe_fingerprint(std::uint64_t fingerprint) {
  auto& t = type_names();
  std::lock_guard lock(t.mutex);
  if (auto it = t.names.find(fingerprint); it != t.names.end()) return it->second;
  return fmt::format("a type with fingerprint {:#018x}", fingerprint);
}

}  // namespace weft::detail
