// The process's table of registered functions and actors; compiled once into libweft.
#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

#include "weft/remote/registry.hpp"

namespace weft::detail {

namespace {
struct Registry {
  std::mutex mutex;
  std::map<std::string, std::string> entries;  // name -> signature
};
Registry& registry() {
  static Registry r;
  return r;
}
}  // namespace

bool register_remote(std::string name, std::string signature) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.entries.insert_or_assign(std::move(name), std::move(signature));
  return true;
}

std::vector<RegistryEntry> registry_entries() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<RegistryEntry> out;
  out.reserve(r.entries.size());
  for (const auto& [name, sig] : r.entries) out.push_back({name, sig});
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
