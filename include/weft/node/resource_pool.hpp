// ResourcePool: a node's logical resources (cpu, gpu, memory, custom), their
// capacities and what is in use. Amounts are kept in thousandths so
// fractional requests (cpu = 0.5) add up exactly. Not synchronised: the
// scheduler guards it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "weft/remote/options.hpp"

namespace weft {

class ResourcePool {
 public:
  // A request in the pool's own indexing: (resource index, thousandths) pairs.
  using Demand = std::vector<std::pair<std::uint32_t, std::int64_t>>;
  static constexpr std::uint32_t cpu_index = 0;

  explicit ResourcePool(const Resources& capacity);

  // Translates a request; an unknown custom name maps to a resource of capacity 0.
  Demand demand(const Resources& request);
  // Why `d` can never fit, or an empty string if it can.
  std::string infeasible_reason(const Demand& d) const;

  bool fits(const Demand& d) const noexcept;
  void acquire(const Demand& d) noexcept;  // may overdraw: callers check fits() first
  void release(const Demand& d) noexcept;

  // name -> (available, total), in natural units.
  std::map<std::string, std::pair<double, double>> snapshot() const;

 private:
  std::uint32_t index_of(const std::string& name);

  std::vector<std::string> names_;
  std::vector<std::int64_t> total_;
  std::vector<std::int64_t> available_;
};

}  // namespace weft
