#include "sim/faults.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "sim/world.hpp"

#include "weft/error.hpp"

namespace weft::sim {

FaultSet FaultSet::parse(std::string_view list) {
  if (list == "all") return all();
  FaultSet set;
  set.delay = false;
  if (list == "none") return set;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view name = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (name == "delay") {
      set.delay = true;
    } else if (name == "drop") {
      set.drop = true;
    } else if (name == "crash") {
      set.crash = true;
    } else if (name == "partition") {
      set.partition = true;
    } else if (name == "slow") {
      set.slow = true;
    } else {
      throw UsageError(fmt::format(
          "unknown fault '{}': use none, all, or a list of delay,drop,crash,partition,slow", name));
    }
  }
  return set;
}

std::string FaultSet::describe() const {
  std::string out;
  const auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(delay, "delay");
  add(drop, "drop");
  add(crash, "crash");
  add(partition, "partition");
  add(slow, "slow");
  return out.empty() ? "none" : out;
}

// --- FaultPlan -------------------------------------------------------------------

Clock::duration FaultPlan::draw(std::mt19937_64& rng, Clock::duration lo, Clock::duration hi) {
  const auto span = static_cast<std::uint64_t>((hi - lo).count()) + 1;
  return lo + Clock::duration(static_cast<Clock::rep>(rng() % span));
}

void FaultPlan::start(Clock::time_point now, std::mt19937_64& rng) {
  next_fault_ = now + draw(rng, interval_ / 2, interval_ * 3 / 2);
}

std::optional<Clock::time_point> FaultPlan::next_due() const {
  std::optional<Clock::time_point> next;
  if (paused_ > 0) return next;  // nothing comes due until the pause ends
  if (!pending_.empty()) next = pending_.front().at;
  if (!stopped_ && set_.any_event() && (!next || next_fault_ < *next)) next = next_fault_;
  return next;
}

std::vector<FaultPlan::Undo> FaultPlan::take_all_pending() { return std::exchange(pending_, {}); }

void FaultPlan::schedule(Clock::time_point at, std::string what, std::function<void(World&)> run) {
  auto pos = std::upper_bound(pending_.begin(), pending_.end(), at,
                              [](Clock::time_point t, const Undo& u) { return t < u.at; });
  pending_.insert(pos, Undo{at, std::move(what), std::move(run)});
}

void FaultPlan::apply_due(World& world) {
  if (paused_ > 0) return;
  const auto now = world.now();
  while (!pending_.empty() && pending_.front().at <= now) {
    Undo undo = std::move(pending_.front());
    pending_.erase(pending_.begin());
    world.note(undo.what);
    undo.apply(world);
  }
  if (stopped_ || !set_.any_event() || now < next_fault_) return;
  inject(world);
  next_fault_ = now + draw(world.random(), interval_ / 2, interval_ * 3 / 2);
}

void FaultPlan::inject(World& world) {
  auto& rng = world.random();
  std::vector<int> kinds;
  if (set_.drop) kinds.push_back(0);
  if (set_.crash && crashes_ < max_crashes) kinds.push_back(1);
  if (set_.partition) kinds.push_back(2);
  if (set_.slow) kinds.push_back(3);
  if (kinds.empty()) return;
  std::vector<std::size_t> alive;
  for (std::size_t i = 0; i < world.size(); ++i) {
    if (!world.node(i).crashed()) alive.push_back(i);
  }
  const auto now = world.now();
  switch (kinds[rng() % kinds.size()]) {
    case 0: {
      auto& net = world.network();
      if (net.connections() == 0) return;
      const std::size_t c = rng() % net.connections();
      world.note(fmt::format("DROP connection {} of {}", c, net.connections()));
      net.drop(c);
      return;
    }
    case 1: {
      if (alive.size() < 2) return;
      const std::size_t victim = alive[1 + rng() % (alive.size() - 1)];  // never the head
      ++crashes_;
      world.crash(victim);
      schedule(now + draw(rng, std::chrono::milliseconds(100), std::chrono::seconds(1)),
               "RESTART: a new node joins", [](World& w) { w.add_node(); });
      return;
    }
    case 2: {
      if (alive.size() < 2) return;
      const std::size_t ia = rng() % alive.size();
      std::size_t ib = rng() % (alive.size() - 1);
      if (ib >= ia) ++ib;
      const std::size_t a = alive[ia], b = alive[ib];
      const std::string ha = world.node(a).host(), hb = world.node(b).host();
      world.note(fmt::format("PARTITION {} | {}", ha, hb));
      world.network().partition(ha, hb);
      schedule(now + draw(rng, std::chrono::milliseconds(50), std::chrono::seconds(3)),
               fmt::format("HEAL {} | {}", ha, hb),
               [ha, hb](World& w) { w.network().heal(ha, hb); });
      return;
    }
    default: {
      const std::size_t i = alive[rng() % alive.size()];
      const auto extra = draw(rng, std::chrono::milliseconds(1), std::chrono::milliseconds(10));
      world.note(fmt::format("SLOW node {} (+{} us a message)", world.node(i).host(),
                             std::chrono::duration_cast<std::chrono::microseconds>(extra).count()));
      world.slow(i, extra);
      schedule(now + draw(rng, std::chrono::milliseconds(200), std::chrono::seconds(2)),
               fmt::format("PACE node {} back to normal", world.node(i).host()),
               [i](World& w) { w.slow(i, Clock::duration::zero()); });
      return;
    }
  }
}

}  // namespace weft::sim
