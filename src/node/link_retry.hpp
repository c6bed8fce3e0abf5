// How work that a broken link interrupted tries again (DESIGN §8): a
// connection that drops is not a node that died, so pulls, frees and actor
// creations go again over a new link, after a wait that doubles with each
// break in a row, until the head declares the node dead. After
// max_broken_links breaks in a row (about 4 s) they give up: by then a dead
// node has been declared dead (failure_timeout is 1.5 s), so this bound only
// stops a node that stays unreachable yet alive from holding work forever.
#pragma once

#include <algorithm>
#include <chrono>

#include "weft/core/clock.hpp"

namespace weft::detail {

inline constexpr unsigned max_broken_links = 10;

// The wait before trying again after `broken_links` (>= 1) breaks in a row.
inline Clock::duration link_backoff(unsigned broken_links) {
  constexpr auto first = std::chrono::milliseconds(10);
  constexpr auto most = std::chrono::milliseconds(1000);
  const auto wait = first * (1u << std::min(broken_links - 1, 7u));
  return std::min<Clock::duration>(wait, most);
}

}  // namespace weft::detail
