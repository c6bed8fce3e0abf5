// Placement bodies; compiled once into libweft.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

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

namespace {

// Tasks a node runs at once before it counts as full: its whole cpus, at least one.
double slots_of(const PlacementCandidate& node) noexcept {
  return std::max(1.0, std::floor(static_cast<double>(node.total.milli("cpu")) / 1000.0));
}

}  // namespace

double load_of(const PlacementCandidate& node) noexcept {
  double load = static_cast<double>(node.tasks_in_flight) / slots_of(node);
  for (const auto& [name, total] : node.total.amounts()) {
    if (total <= 0) continue;
    const double used = static_cast<double>(total - node.available.milli(name));
    load = std::max(load, used / static_cast<double>(total));
  }
  return load;
}

bool has_room(const PlacementCandidate& node, const ResourceSet& demand) noexcept {
  return demand.fits_in(node.available) &&
         static_cast<double>(node.tasks_in_flight) < slots_of(node);
}

namespace {

// Whether candidate a is less loaded than b (see load_of).
bool less_loaded(const PlacementCandidate& a, double load_a, const PlacementCandidate& b,
                 double load_b) noexcept {
  if (load_a != load_b) return load_a < load_b;
  if (a.tasks_in_flight != b.tasks_in_flight) return a.tasks_in_flight < b.tasks_in_flight;
  return a.id < b.id;
}

// Candidate indices, least loaded first.
std::vector<std::size_t> by_load(std::span<const PlacementCandidate> nodes) {
  std::vector<std::size_t> order(nodes.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::vector<double> load(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) load[i] = load_of(nodes[i]);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return less_loaded(nodes[a], load[a], nodes[b], load[b]);
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

const PlacementCandidate* find_candidate(std::span<const PlacementCandidate> nodes, NodeId id) {
  for (const auto& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::string describe(const PlacementRequest& r) {
  return r.name.empty() ? std::string(r.what) : fmt::format("{} {}", r.what, r.name);
}

[[noreturn]] void never_fits(const PlacementRequest& r, std::string_view why) {
  throw InfeasibleError(fmt::format(
      "{} can never run: it asks for {} and {}; lower the request or add a node that has it",
      describe(r), r.demand.to_string(), why));
}

[[noreturn]] void pinned_to_missing(const PlacementRequest& r, std::string_view how, NodeId node) {
  throw InfeasibleError(
      fmt::format("{} cannot run: it is {} node {:x}, which is not alive; "
                  "place it on an alive node, or let it fall back (soft "
                  "affinity)",
                  describe(r), how, node));
}

std::optional<NodeId> most_argument_bytes(const PlacementRequest& r,
                                          std::span<const PlacementCandidate> nodes,
                                          const std::vector<const PlacementCandidate*>& room) {
  if (r.arguments.empty() || room.empty()) return std::nullopt;
  std::vector<std::uint64_t> held(nodes.size(), 0);
  for (const auto& arg : r.arguments) {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (std::find(arg.nodes.begin(), arg.nodes.end(), nodes[i].id) != arg.nodes.end()) {
        held[i] += arg.bytes;
      }
    }
  }
  // More bytes first; among equals the local node, then the less loaded.
  auto before = [&](const PlacementCandidate* a, const PlacementCandidate* b) {
    const auto bytes_a = held[static_cast<std::size_t>(a - nodes.data())];
    const auto bytes_b = held[static_cast<std::size_t>(b - nodes.data())];
    if (bytes_a != bytes_b) return bytes_a > bytes_b;
    if ((a->id == r.local) != (b->id == r.local)) return a->id == r.local;
    return less_loaded(*a, load_of(*a), *b, load_of(*b));
  };
  const PlacementCandidate* best = *std::min_element(room.begin(), room.end(), before);
  const std::uint64_t best_bytes = held[static_cast<std::size_t>(best - nodes.data())];
  if (best_bytes < locality_min_bytes) return std::nullopt;
  return best->id;
}

NodeId hybrid(const PlacementRequest& r, std::span<const PlacementCandidate> nodes) {
  std::vector<const PlacementCandidate*> feasible, room;
  for (const auto& n : nodes) {
    if (!r.demand.fits_in(n.total)) continue;
    feasible.push_back(&n);
    if (has_room(n, r.demand)) room.push_back(&n);
  }
  if (feasible.empty()) {
    never_fits(r, nodes.empty() ? "no node is alive" : "no alive node has that much in total");
  }
  if (auto holder = most_argument_bytes(r, nodes, room)) return *holder;
  for (const auto* n : room) {
    if (n->id == r.local) return r.local;
  }
  const auto& pool = room.empty() ? feasible : room;
  const PlacementCandidate* best = nullptr;
  double best_load = 0;
  for (const auto* n : pool) {
    const double load = load_of(*n);
    if (!best || less_loaded(*n, load, *best, best_load)) {
      best = n;
      best_load = load;
    }
  }
  return best->id;
}

// The first node after `cursor` by id, wrapping around, among those `ok` accepts.
template <typename Ok>
const PlacementCandidate* round_robin(std::span<const PlacementCandidate> nodes, NodeId cursor,
                                      Ok ok) {
  const PlacementCandidate* first = nullptr;
  const PlacementCandidate* next = nullptr;
  for (const auto& n : nodes) {
    if (!ok(n)) continue;
    if (!first || n.id < first->id) first = &n;
    if (n.id > cursor && (!next || n.id < next->id)) next = &n;
  }
  return next ? next : first;
}

}  // namespace

NodeId pick_node(const PlacementRequest& request, std::span<const PlacementCandidate> nodes,
                 NodeId& spread_cursor) {
  const ResourceSet& demand = request.demand;
  if (request.bundle_node != 0) {
    if (!find_candidate(nodes, request.bundle_node)) {
      pinned_to_missing(request, "placed in a placement group bundle on", request.bundle_node);
    }
    return request.bundle_node;
  }

  if (const auto* affinity = std::get_if<NodeAffinity>(&request.strategy)) {
    const auto* n = find_candidate(nodes, affinity->node);
    if (affinity->soft) {
      if (n && has_room(*n, demand)) return n->id;
      return hybrid(request, nodes);
    }
    if (!n) pinned_to_missing(request, "pinned (hard node affinity) to", affinity->node);
    if (!demand.fits_in(n->total)) {
      never_fits(request, fmt::format("it is pinned (hard node affinity) to node {:x}, which has "
                                      "{} in total",
                                      n->id, n->total.to_string()));
    }
    return n->id;
  }

  if (std::holds_alternative<SpreadStrategy>(request.strategy)) {
    const auto* chosen = round_robin(
        nodes, spread_cursor, [&](const PlacementCandidate& n) { return has_room(n, demand); });
    if (!chosen) {
      chosen = round_robin(nodes, spread_cursor,
                           [&](const PlacementCandidate& n) { return demand.fits_in(n.total); });
    }
    if (!chosen) return hybrid(request, nodes);  // throws: nothing fits
    spread_cursor = chosen->id;
    return chosen->id;
  }

  return hybrid(request, nodes);
}

}  // namespace weft
