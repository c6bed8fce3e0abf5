// Which faults a simulated run injects (weft-sim --faults, world.hpp).
//
//   delay      random latency per message chunk, so messages reorder across
//              connections (within a connection, TCP's order holds)
//   drop       a random connection breaks
//   crash      a worker stops at once and a new node joins in its place
//   partition  the link between two nodes goes down, then heals
//   slow       a node runs at a fraction of the others' pace and its
//              traffic takes longer
//
// The seed decides when each comes and what it hits.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "weft/core/clock.hpp"

namespace weft::sim {

struct FaultSet {
  bool delay = true;
  bool drop = false;
  bool crash = false;
  bool partition = false;
  bool slow = false;

  // "none", "all", or a comma-separated list of the names above; throws
  // weft::UsageError naming an unknown one.
  static FaultSet parse(std::string_view list);
  static FaultSet all() noexcept { return {true, true, true, true, true}; }
  // Whether any fault beyond delay is on.
  bool any_event() const noexcept { return drop || crash || partition || slow; }
  // The list parse() reads back.
  std::string describe() const;
};

class World;

// When the next fault comes and what it hits, and the heals, restarts and
// recoveries that follow them, all drawn from the world's random source.
class FaultPlan {
 public:
  // A fault's undoing, due at a time: a heal, a restart, a node back to pace.
  struct Undo {
    Clock::time_point at;
    std::string what;
    std::function<void(World&)> run;
    void apply(World& world) const { run(world); }
  };

  FaultPlan(FaultSet set, Clock::duration mean_interval) : set_(set), interval_(mean_interval) {}

  void start(Clock::time_point now, std::mt19937_64& rng);
  // Applies the undos that are due, then the next fault if it is.
  void apply_due(World& world);
  // When something is due next, if anything is.
  std::optional<Clock::time_point> next_due() const;
  // No new faults from now on.
  void stop() noexcept { stopped_ = true; }
  // The undos not yet applied, soonest first; the plan forgets them.
  std::vector<Undo> take_all_pending();

  // While one lives, nothing is applied (a node starting blocks the world
  // meanwhile, and a fault inside that must not start another).
  class Pause {
   public:
    explicit Pause(FaultPlan& plan) noexcept : plan_(plan) { ++plan_.paused_; }
    ~Pause() { --plan_.paused_; }
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;

   private:
    FaultPlan& plan_;
  };

 private:
  // Crashes beyond this are not drawn, so a small cluster keeps a quorum of workers.
  static constexpr unsigned max_crashes = 2;

  void inject(World& world);
  void schedule(Clock::time_point at, std::string what, std::function<void(World&)> run);
  Clock::duration draw(std::mt19937_64& rng, Clock::duration lo, Clock::duration hi);

  FaultSet set_;
  Clock::duration interval_;
  Clock::time_point next_fault_{};
  std::vector<Undo> pending_;  // sorted by `at`, ties in the order scheduled
  unsigned crashes_ = 0;
  unsigned paused_ = 0;
  bool stopped_ = false;
};

}  // namespace weft::sim
