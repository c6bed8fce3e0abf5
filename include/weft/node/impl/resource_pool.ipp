// ResourcePool bodies; compiled once into libweft.
#include <cassert>

#include <fmt/format.h>

#include "weft/node/resource_pool.hpp"

namespace weft::detail {

std::string describe(BundleKey key) {
  if (!key.is_bundle()) return "this node";
  return fmt::format("bundle {} of placement group {}", key.index, key.group);
}

ResourcePool::ResourcePool(const Resources& capacity) {
  // cpu, gpu and memory come first, at the indices demand() relies on.
  for_each_resource(capacity, [this](std::string_view name, double amount) {
    names_.emplace_back(name);
    node_.total.push_back(to_milli(amount));
  });
  node_.available = node_.total;
  reserved_.assign(names_.size(), 0);
}

std::uint32_t ResourcePool::index_of(const std::string& name) {
  for (std::uint32_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return i;
  }
  names_.push_back(name);
  node_.total.push_back(0);
  node_.available.push_back(0);
  reserved_.push_back(0);
  for (auto& [key, b] : bundles_) {
    b.total.push_back(0);
    b.available.push_back(0);
  }
  return static_cast<std::uint32_t>(names_.size() - 1);
}

ResourcePool::Demand ResourcePool::demand(const Resources& request) {
  Demand d;
  auto add = [&](std::uint32_t index, double amount) {
    if (amount > 0) d.emplace_back(index, to_milli(amount));
  };
  add(0, request.cpu);
  add(1, request.gpu);
  add(2, request.memory);
  for (const auto& [name, amount] : request.custom) add(index_of(name.str()), amount);
  return d;
}

std::string ResourcePool::infeasible_reason(const Demand& d, BundleKey from) const {
  const Amounts* amounts = &node_;
  if (from.is_bundle()) {
    auto it = bundles_.find(from);
    if (it == bundles_.end()) {
      return fmt::format("was placed in {}, which is not on this node (was the group removed?)",
                         describe(from));
    }
    amounts = &it->second;
  }
  for (const auto& [index, amount] : d) {
    if (amount > amounts->total[index]) {
      return fmt::format("needs {} {} but {} has {} in total", from_milli(amount), names_[index],
                         describe(from), from_milli(amounts->total[index]));
    }
  }
  return {};
}

bool ResourcePool::holds(BundleKey from) const noexcept {
  return !from.is_bundle() || bundles_.contains(from);
}

bool ResourcePool::fits(const Demand& d, BundleKey from) const noexcept {
  if (from.is_bundle()) {
    auto it = bundles_.find(from);
    if (it == bundles_.end()) return false;
    for (const auto& [index, amount] : d) {
      if (it->second.available[index] < amount) return false;
    }
    return true;
  }
  for (const auto& [index, amount] : d) {
    if (node_.available[index] - reserved_[index] < amount) return false;
  }
  return true;
}

void ResourcePool::acquire(const Demand& d, BundleKey from) noexcept {
  Amounts* amounts = &node_;
  if (from.is_bundle()) {
    auto it = bundles_.find(from);
    assert(it != bundles_.end() && "acquire from a bundle the pool does not hold");
    amounts = &it->second;
  }
  for (const auto& [index, amount] : d) amounts->available[index] -= amount;
}

void ResourcePool::release(const Demand& d, BundleKey from) noexcept {
  Amounts* amounts = &node_;
  if (auto it = bundles_.find(from); it != bundles_.end()) amounts = &it->second;
  for (const auto& [index, amount] : d) amounts->available[index] += amount;
}

void ResourcePool::add_bundle(BundleKey key, const Demand& d) {
  assert(key.is_bundle() && !bundles_.contains(key));
  Amounts b{std::vector<std::int64_t>(names_.size(), 0), {}};
  for (const auto& [index, amount] : d) {
    b.total[index] += amount;
    reserved_[index] += amount;
  }
  b.available = b.total;
  bundles_.emplace(key, std::move(b));
}

void ResourcePool::remove_bundle(BundleKey key) {
  auto it = bundles_.find(key);
  if (it == bundles_.end()) return;
  const Amounts& b = it->second;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    reserved_[i] -= b.total[i];
    node_.available[i] -= b.total[i] - b.available[i];  // held by its work, now the node's own
  }
  bundles_.erase(it);
}

std::vector<BundleKey> ResourcePool::bundles() const {
  std::vector<BundleKey> keys;
  for (const auto& [key, b] : bundles_) keys.push_back(key);
  return keys;
}

std::map<std::string, std::pair<double, double>> ResourcePool::snapshot() const {
  std::map<std::string, std::pair<double, double>> out;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    out[names_[i]] = {from_milli(node_.available[i]), from_milli(node_.total[i])};
  }
  return out;
}

}  // namespace weft::detail
