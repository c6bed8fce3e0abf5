// The trace of a simulated run: what ran at each step, and the faults and
// milestones in between, printed when a seed fails (world.hpp).
//
// Steps are kept in a ring of the last `capacity` (recording one costs a
// few stores, so every step is recorded); notes (faults, a workload's
// milestones) are rare and all kept.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weft/core/clock.hpp"

namespace weft::sim {

class Trace {
 public:
  explicit Trace(std::size_t capacity) : ring_(capacity) {}

  // Step `step` at `at` (since the run began) ran node `node`'s executor
  // job (`executor`) or reactor handler.
  void step(std::uint64_t step, Clock::duration at, std::uint32_t node, bool executor) noexcept {
    if (ring_.empty()) return;
    ring_[next_++ % ring_.size()] = Step{step, at, node, executor};
  }
  void note(std::uint64_t step, Clock::duration at, std::string line) {
    notes_.push_back(Note{step, at, std::move(line)});
  }
  // Every note, and the steps kept, in order.
  std::string render() const;

 private:
  struct Step {
    std::uint64_t step = 0;
    Clock::duration at{};
    std::uint32_t node = 0;
    bool executor = false;
  };
  struct Note {
    std::uint64_t step;
    Clock::duration at;
    std::string line;
  };
  std::vector<Step> ring_;
  std::uint64_t next_ = 0;
  std::vector<Note> notes_;
};

}  // namespace weft::sim
