// ObjectId: names an object cluster-wide without a round trip.
//
// The id is the owner node's id plus a sequence number local to that owner, so
// any node can mint ids on its own and anyone holding an id knows whom to ask
// about it (DESIGN §6).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

#include <fmt/format.h>

namespace weft {

using NodeId = std::uint64_t;

struct ObjectId {
  NodeId owner = 0;
  std::uint64_t sequence = 0;

  friend auto operator<=>(const ObjectId&, const ObjectId&) = default;

  // "3a:17" style: owner and sequence in hex, short enough for logs.
  std::string to_string() const { return fmt::format("{:x}:{:x}", owner, sequence); }
};

}  // namespace weft

template <>
struct std::hash<weft::ObjectId> {
  std::size_t operator()(const weft::ObjectId& id) const noexcept {
    return std::hash<std::uint64_t>{}(id.owner * 0x9e3779b97f4a7c15ULL ^ id.sequence);
  }
};
