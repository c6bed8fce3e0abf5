// The process's table of registered functions and actors; compiled once into libweft.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "weft/core/log.hpp"
#include "weft/remote/registry.hpp"

namespace weft::detail {

namespace {
struct Registry {
  std::mutex mutex;
  std::map<std::uint64_t, RegistryEntry> entries;  // fnv1a64(name) -> entry
};
Registry& registry() {
  static Registry r;
  return r;
}
}  // namespace

bool register_remote(RegistryEntry entry) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  const std::uint64_t id = fnv1a64(entry.name);
  auto [it, inserted] = r.entries.emplace(id, entry);
  if (!inserted && it->second.name != entry.name) {
    log(LogLevel::error, "'{}' and '{}' hash to the same id; rename one", it->second.name,
        entry.name);
    std::abort();
  }
  return true;
}

const RegistryEntry* find_registered(std::uint64_t id) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.entries.find(id);
  return it == r.entries.end() ? nullptr : &it->second;
}

std::vector<RegistryEntry> registry_entries() {
  auto& r = registry();
  std::vector<RegistryEntry> out;
  {
    std::lock_guard lock(r.mutex);
    out.reserve(r.entries.size());
    for (const auto& [id, entry] : r.entries) out.push_back(entry);
  }
  std::sort(out.begin(), out.end(),
            [](const RegistryEntry& a, const RegistryEntry& b) { return a.name < b.name; });
  return out;
}

std::uint64_t registry_fingerprint() {
  std::uint64_t h = fnv1a64("weft-registry");
  for (const auto& e : registry_entries()) {
    h = (h ^ fnv1a64(e.name)) * 0x100000001b3ULL;
    h = (h ^ fnv1a64(e.signature)) * 0x100000001b3ULL;
  }
  return h;
}

std::vector<std::string> split_method_names(std::string_view list) {
  std::vector<std::string> names;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) names.push_back(std::move(current));
    current.clear();
  };
  for (char c : list) {
    if (c == ',') {
      flush();
    } else if (c != '&' && !std::isspace(static_cast<unsigned char>(c))) {
      current.push_back(c);
    }
  }
  flush();
  return names;
}

}  // namespace weft::detail
