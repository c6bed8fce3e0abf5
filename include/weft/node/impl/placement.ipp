// Placement bodies; compiled once into libweft.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/node/placement.hpp"

namespace weft {

ResourceSet::ResourceSet(const Resources& r) {
  detail::for_each_resource(r, [this](std::string_view name, double amount) {
    add(std::string(name), detail::to_milli(amount));
  });
}

void ResourceSet::add(const std::string& name, std::int64_t milli) {
  if (milli == 0) return;
  auto it = milli_.find(name);
  if (it == milli_.end()) {
    milli_.emplace(name, milli);
  } else if ((it->second += milli) == 0) {
    milli_.erase(it);
  }
}

Resources ResourceSet::to_resources() const {
  Resources r{.cpu = 0};
  for (const auto& [name, milli] : milli_) detail::set_resource(r, name, detail::from_milli(milli));
  return r;
}

bool ResourceSet::fits_in(const ResourceSet& available) const noexcept {
  return std::all_of(milli_.begin(), milli_.end(),
                     [&](const auto& e) { return e.second <= available.milli(e.first); });
}

std::int64_t ResourceSet::milli(std::string_view name) const noexcept {
  auto it = milli_.find(name);
  return it == milli_.end() ? 0 : it->second;
}

ResourceSet& ResourceSet::operator+=(const ResourceSet& other) {
  for (const auto& [name, milli] : other.milli_) add(name, milli);
  return *this;
}

ResourceSet& ResourceSet::operator-=(const ResourceSet& other) {
  for (const auto& [name, milli] : other.milli_) add(name, -milli);
  return *this;
}

ResourceSet ResourceSet::clamped() const {
  ResourceSet out;
  for (const auto& [name, milli] : milli_) {
    if (milli > 0) out.milli_.emplace(name, milli);
  }
  return out;
}

std::string ResourceSet::to_string() const {
  std::string out = "{";
  for (const auto& [name, milli] : milli_) {
    if (out.size() > 1) out += ", ";
    out += fmt::format("{}: {}", name, detail::from_milli(milli));
  }
  return out + "}";
}

std::string_view to_string(PlacementStrategy s) noexcept {
  switch (s) {
    case PlacementStrategy::pack:
      return "PACK";
    case PlacementStrategy::spread:
      return "SPREAD";
    case PlacementStrategy::strict_pack:
      return "STRICT_PACK";
    case PlacementStrategy::strict_spread:
      return "STRICT_SPREAD";
  }
  return "UNKNOWN";
}

double load_of(const PlacementCandidate& node) noexcept {
  double load = 0;
  for (const auto& [name, total] : node.total.amounts()) {
    if (total <= 0) continue;
    const double used = static_cast<double>(total - node.available.milli(name));
    load = std::max(load, used / static_cast<double>(total));
  }
  return load;
}

namespace {

// Candidate indices, least loaded first.
std::vector<std::size_t> by_load(std::span<const PlacementCandidate> nodes) {
  std::vector<std::size_t> order(nodes.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::vector<double> load(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) load[i] = load_of(nodes[i]);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (load[a] != load[b]) return load[a] < load[b];
    if (nodes[a].tasks_in_flight != nodes[b].tasks_in_flight) {
      return nodes[a].tasks_in_flight < nodes[b].tasks_in_flight;
    }
    return nodes[a].id < nodes[b].id;
  });
  return order;
}

// Bundle indices, largest first: the sum of each bundle's share of the
// cluster's total of every resource it asks for (first fit decreasing).
std::vector<std::size_t> largest_first(std::span<const ResourceSet> bundles,
                                       std::span<const PlacementCandidate> nodes) {
  ResourceSet cluster;
  for (const auto& n : nodes) cluster += n.total;
  std::vector<double> size(bundles.size(), 0.0);
  for (std::size_t i = 0; i < bundles.size(); ++i) {
    for (const auto& [name, milli] : bundles[i].amounts()) {
      const auto total = std::max<std::int64_t>(cluster.milli(name), 1);
      size[i] += static_cast<double>(milli) / static_cast<double>(total);
    }
  }
  std::vector<std::size_t> order(bundles.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return size[a] > size[b]; });
  return order;
}

[[noreturn]] void bundle_does_not_fit(PlacementStrategy s, std::size_t bundle_count,
                                      std::size_t index, const ResourceSet& bundle,
                                      std::string_view why) {
  throw InfeasibleError(fmt::format(
      "placement group ({}, {} bundles) is infeasible: bundle {} {} {}; nothing was reserved",
      to_string(s), bundle_count, index, bundle.to_string(), why));
}

// All bundles on one node, or nullopt.
std::optional<std::size_t> one_node_for(const ResourceSet& sum,
                                        std::span<const PlacementCandidate> nodes,
                                        const std::vector<std::size_t>& order) {
  for (std::size_t n : order) {
    if (sum.fits_in(nodes[n].available)) return n;
  }
  return std::nullopt;
}

std::vector<NodeId> pack_or_spread(PlacementStrategy s, std::span<const ResourceSet> bundles,
                                   std::span<const PlacementCandidate> nodes,
                                   const std::vector<std::size_t>& order) {
  std::vector<ResourceSet> left;  // available, minus what this group took so far
  for (const auto& n : nodes) left.push_back(n.available);
  std::vector<std::size_t> taken(nodes.size(), 0);  // this group's bundles per node
  std::vector<std::size_t> opened;                  // pack: nodes in the order first used
  std::vector<NodeId> out(bundles.size(), 0);

  for (std::size_t b : largest_first(bundles, nodes)) {
    std::optional<std::size_t> chosen;
    if (s == PlacementStrategy::pack) {
      for (std::size_t n : opened) {
        if (bundles[b].fits_in(left[n])) {
          chosen = n;
          break;
        }
      }
      if (!chosen) {
        for (std::size_t n : order) {
          if (taken[n] == 0 && bundles[b].fits_in(left[n])) {
            chosen = n;
            opened.push_back(n);
            break;
          }
        }
      }
    } else {
      // Fewest of this group's bundles first; among equals the least loaded.
      for (std::size_t n : order) {
        if (!bundles[b].fits_in(left[n])) continue;
        if (!chosen || taken[n] < taken[*chosen]) chosen = n;
      }
    }
    if (!chosen) {
      bundle_does_not_fit(s, bundles.size(), b, bundles[b],
                          "does not fit in the free resources of any alive node (after the "
                          "group's other bundles)");
    }
    left[*chosen] -= bundles[b];
    ++taken[*chosen];
    out[b] = nodes[*chosen].id;
  }
  return out;
}

// Kuhn's augmenting paths: bundle b may take node n when it fits there, and a
// node takes at most one bundle, so bundles never add up on a node.
bool augment(std::size_t b, std::span<const ResourceSet> bundles,
             std::span<const PlacementCandidate> nodes, const std::vector<std::size_t>& order,
             std::vector<bool>& visited, std::vector<std::optional<std::size_t>>& owner) {
  for (std::size_t n : order) {
    if (visited[n] || !bundles[b].fits_in(nodes[n].available)) continue;
    visited[n] = true;
    if (!owner[n] || augment(*owner[n], bundles, nodes, order, visited, owner)) {
      owner[n] = b;
      return true;
    }
  }
  return false;
}

std::vector<NodeId> strict_spread(std::span<const ResourceSet> bundles,
                                  std::span<const PlacementCandidate> nodes,
                                  const std::vector<std::size_t>& order) {
  const auto s = PlacementStrategy::strict_spread;
  if (bundles.size() > nodes.size()) {
    throw InfeasibleError(fmt::format(
        "placement group ({}, {} bundles) is infeasible: it needs {} distinct nodes but only {} "
        "are alive; nothing was reserved",
        to_string(s), bundles.size(), bundles.size(), nodes.size()));
  }
  std::vector<std::optional<std::size_t>> owner(nodes.size());
  for (std::size_t b : largest_first(bundles, nodes)) {
    std::vector<bool> visited(nodes.size(), false);
    if (!augment(b, bundles, nodes, order, visited, owner)) {
      bundle_does_not_fit(s, bundles.size(), b, bundles[b],
                          "finds no node of its own with room (each bundle needs a distinct "
                          "node)");
    }
  }
  std::vector<NodeId> out(bundles.size(), 0);
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    if (owner[n]) out[*owner[n]] = nodes[n].id;
  }
  return out;
}

}  // namespace

std::vector<NodeId> place_bundles(PlacementStrategy strategy, std::span<const ResourceSet> bundles,
                                  std::span<const PlacementCandidate> nodes) {
  if (bundles.empty()) throw UsageError("a placement group needs at least one bundle");
  for (std::size_t i = 0; i < bundles.size(); ++i) {
    if (bundles[i].empty()) {
      throw UsageError(fmt::format(
          "bundle {} of the placement group asks for no resources; every bundle needs some", i));
    }
  }
  const auto order = by_load(nodes);
  ResourceSet sum;
  for (const auto& b : bundles) sum += b;

  switch (strategy) {
    case PlacementStrategy::strict_pack:
    case PlacementStrategy::pack:
      if (auto n = one_node_for(sum, nodes, order)) {
        return std::vector<NodeId>(bundles.size(), nodes[*n].id);
      }
      if (strategy == PlacementStrategy::pack) break;
      {
        std::string most_free = "there are no alive nodes";
        if (!order.empty()) {
          most_free =
              fmt::format("the least loaded alive node, {}, has {} free", nodes[order.front()].id,
                          nodes[order.front()].available.clamped().to_string());
        }
        throw InfeasibleError(fmt::format(
            "placement group ({}, {} bundles) is infeasible: the bundles together need {} on one "
            "node and no alive node has that free ({}); nothing was reserved",
            to_string(strategy), bundles.size(), sum.to_string(), most_free));
      }
    case PlacementStrategy::spread:
      break;
    case PlacementStrategy::strict_spread:
      return strict_spread(bundles, nodes, order);
  }
  return pack_or_spread(strategy, bundles, nodes, order);
}

namespace {

std::optional<NodeId> least_loaded_fitting(const ResourceSet& demand,
                                           std::span<const PlacementCandidate> nodes) {
  for (std::size_t n : by_load(nodes)) {
    if (demand.fits_in(nodes[n].available)) return nodes[n].id;
  }
  return std::nullopt;
}

const PlacementCandidate* find_candidate(std::span<const PlacementCandidate> nodes, NodeId id) {
  for (const auto& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

[[noreturn]] void never_fits(const ResourceSet& demand, std::string_view where) {
  throw InfeasibleError(
      fmt::format("a request for {} can never run: {}; lower the request or add a node that has it",
                  demand.to_string(), where));
}

std::optional<NodeId> hybrid(const ResourceSet& demand, NodeId local,
                             std::span<const PlacementCandidate> nodes) {
  if (const auto* n = find_candidate(nodes, local); n && demand.fits_in(n->available)) return local;
  if (auto best = least_loaded_fitting(demand, nodes)) return best;
  for (const auto& n : nodes) {
    if (demand.fits_in(n.total)) return std::nullopt;
  }
  never_fits(demand, nodes.empty() ? "no node is alive" : "no alive node has that much in total");
}

}  // namespace

std::optional<NodeId> pick_node(const ResourceSet& demand, const SchedulingStrategy& strategy,
                                NodeId local, std::span<const PlacementCandidate> nodes,
                                NodeId& spread_cursor) {
  if (std::holds_alternative<HybridStrategy>(strategy)) return hybrid(demand, local, nodes);

  if (const auto* affinity = std::get_if<NodeAffinity>(&strategy)) {
    const auto* n = find_candidate(nodes, affinity->node);
    if (n && demand.fits_in(n->available)) return n->id;
    if (affinity->soft) return hybrid(demand, local, nodes);
    if (!n) {
      never_fits(demand,
                 fmt::format("it is pinned (hard node affinity) to node {}, which is not alive",
                             affinity->node));
    }
    if (!demand.fits_in(n->total)) {
      never_fits(demand, fmt::format("it is pinned (hard node affinity) to node {}, which has {} "
                                     "in total",
                                     n->id, n->total.to_string()));
    }
    return std::nullopt;
  }

  // Spread: the first fitting node after the cursor, wrapping around by id.
  const PlacementCandidate* first = nullptr;
  const PlacementCandidate* next = nullptr;
  for (const auto& n : nodes) {
    if (!demand.fits_in(n.available)) continue;
    if (!first || n.id < first->id) first = &n;
    if (n.id > spread_cursor && (!next || n.id < next->id)) next = &n;
  }
  if (const auto* chosen = next ? next : first) {
    spread_cursor = chosen->id;
    return chosen->id;
  }
  return hybrid(demand, local, nodes);  // nothing fits now: wait, or infeasible
}

}  // namespace weft
