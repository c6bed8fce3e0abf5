// ResourcePool bodies; compiled once into libweft.
#include <cmath>

#include <fmt/format.h>

#include "weft/node/resource_pool.hpp"

namespace weft {

namespace {
std::int64_t to_milli(double v) { return static_cast<std::int64_t>(std::llround(v * 1000)); }
}  // namespace

ResourcePool::ResourcePool(const Resources& capacity) {
  auto add = [this](const std::string& name, double amount) {
    names_.push_back(name);
    total_.push_back(to_milli(amount));
  };
  add("cpu", capacity.cpu);
  add("gpu", capacity.gpu);
  add("memory", capacity.memory);
  for (const auto& [name, amount] : capacity.custom) add(name.str(), amount);
  available_ = total_;
}

std::uint32_t ResourcePool::index_of(const std::string& name) {
  for (std::uint32_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return i;
  }
  names_.push_back(name);
  total_.push_back(0);
  available_.push_back(0);
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

std::string ResourcePool::infeasible_reason(const Demand& d) const {
  for (const auto& [index, amount] : d) {
    if (amount > total_[index]) {
      return fmt::format("needs {} {} but this node has {} in total", amount / 1000.0,
                         names_[index], total_[index] / 1000.0);
    }
  }
  return {};
}

bool ResourcePool::fits(const Demand& d) const noexcept {
  for (const auto& [index, amount] : d) {
    if (available_[index] < amount) return false;
  }
  return true;
}

void ResourcePool::acquire(const Demand& d) noexcept {
  for (const auto& [index, amount] : d) available_[index] -= amount;
}

void ResourcePool::release(const Demand& d) noexcept {
  for (const auto& [index, amount] : d) available_[index] += amount;
}

std::map<std::string, std::pair<double, double>> ResourcePool::snapshot() const {
  std::map<std::string, std::pair<double, double>> out;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    out[names_[i]] = {available_[i] / 1000.0, total_[i] / 1000.0};
  }
  return out;
}

}  // namespace weft
