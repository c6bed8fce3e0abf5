#include "sim/trace.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace weft::sim {

namespace {
std::string stamp(std::uint64_t step, Clock::duration at) {
  return fmt::format("step {:>9}  t={:>12.6f}s  ", step, std::chrono::duration<double>(at).count());
}
}  // namespace

std::string Trace::render() const {
  const std::uint64_t kept = std::min<std::uint64_t>(next_, ring_.size());
  const std::uint64_t first_kept = next_ - kept;
  std::string out;
  auto note = notes_.begin();
  const auto notes_before = [&](std::uint64_t step) {
    for (; note != notes_.end() && note->step <= step; ++note) {
      out += stamp(note->step, note->at) + note->line + '\n';
    }
  };
  for (std::uint64_t i = first_kept; i < next_; ++i) {
    const Step& s = ring_[i % ring_.size()];
    notes_before(s.step);
    if (i == first_kept && first_kept > 0) out += fmt::format("... {} earlier steps\n", first_kept);
    out += stamp(s.step, s.at) +
           fmt::format("node {} {}\n", s.node, s.executor ? "executor job" : "reactor handler");
  }
  notes_before(UINT64_MAX);
  return out;
}

}  // namespace weft::sim
