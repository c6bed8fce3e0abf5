// detail::ResourcePool: a node's logical resources (cpu, gpu, memory, custom), their
// capacities and what is in use, with placement group bundles carved out of
// them. Amounts are kept in thousandths so fractional requests (cpu = 0.5)
// add up exactly. Not synchronised: the scheduler guards it.
//
//   weft::detail::ResourcePool pool({.cpu = 4});
//   auto two = pool.demand({.cpu = 2});
//   pool.add_bundle({.group = 7, .index = 0}, two);   // 2 cpu for bundle 0 of group 7 only
//   pool.fits(two);                                   // true: 2 cpu are left outside it
//   pool.acquire(two, {7, 0});                        // work placed in the bundle
//
// A bundle's resources serve only work that names the bundle; the rest of the
// node serves everything else. Removing a bundle gives its free resources back
// to the node at once, and what its work still holds as that work releases it.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "weft/remote/options.hpp"

namespace weft::detail {

// Bundle `index` of placement group `group`; group 0 names the node's own
// resources, outside every bundle.
struct BundleKey {
  std::uint64_t group = 0;
  std::uint32_t index = 0;

  static BundleKey of(const BundlePlacement& p) noexcept { return {p.group, p.index}; }
  bool is_bundle() const noexcept { return group != 0; }
  friend auto operator<=>(const BundleKey&, const BundleKey&) = default;
};

// "bundle 1 of placement group 7", or "this node" for group 0; for messages.
std::string describe(BundleKey key);

class ResourcePool {
 public:
  // A request in the pool's own indexing: (resource index, thousandths) pairs.
  using Demand = std::vector<std::pair<std::uint32_t, std::int64_t>>;
  static constexpr std::uint32_t cpu_index = 0;

  explicit ResourcePool(const Resources& capacity);

  // Translates a request; an unknown custom name maps to a resource of capacity 0.
  Demand demand(const Resources& request);
  // Why `d` can never fit in `from` (the node's totals, or the bundle's), or
  // an empty string if it can. Bundles do not make the node's own work
  // infeasible: it waits for them to be removed.
  std::string infeasible_reason(const Demand& d, BundleKey from = {}) const;

  // Whether `from` is the node itself or a bundle the pool holds.
  bool holds(BundleKey from) const noexcept;
  bool fits(const Demand& d, BundleKey from = {}) const noexcept;
  // May overdraw: callers check fits() first. `from` must be held.
  void acquire(const Demand& d, BundleKey from = {}) noexcept;
  // Into the bundle while it is held, else into the node (its bundle was
  // removed while the work held it).
  void release(const Demand& d, BundleKey from = {}) noexcept;

  // Carves `d` out of the node for bundle `key` (not held yet). What the
  // node's own work holds now may overlap it: the node's own then waits until
  // that work gives enough back.
  void add_bundle(BundleKey key, const Demand& d);
  // Returns the bundle's free resources to the node now; what its work holds
  // counts as the node's own work from now on. No-op for a bundle not held.
  void remove_bundle(BundleKey key);
  // The bundles held, in key order.
  std::vector<BundleKey> bundles() const;

  // name -> (available, total) for the node, in natural units. Available is
  // what work outside bundles leaves: bundles' reservations count as
  // available here, as the head expects in heartbeats (control_store.hpp).
  std::map<std::string, std::pair<double, double>> snapshot() const;

 private:
  struct Amounts {
    std::vector<std::int64_t> total;
    std::vector<std::int64_t> available;
  };

  std::uint32_t index_of(const std::string& name);

  std::vector<std::string> names_;
  Amounts node_;
  std::vector<std::int64_t> reserved_;  // by the bundles held, per resource
  std::map<BundleKey, Amounts> bundles_;
};

}  // namespace weft::detail
