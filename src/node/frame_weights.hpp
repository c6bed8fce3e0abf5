// How much a task spec or a result adds to a task-stream frame, so that
// TaskRouter builds frames, and reactor turns, of a bounded size.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "node/object_transfer.hpp"
#include "weft/remote/task_spec.hpp"

namespace weft::detail::frame_weights {

// A reactor turn builds at most this many bytes of frames (one heavier
// item goes alone), then yields: the frames, and the turns, stay bounded
// however many specs or results are queued, far below the 512 MiB a node
// reads in one message.
inline constexpr std::size_t slice_bytes = 8 << 20;
// What a ref costs a message besides its payload, for estimating sizes.
inline constexpr std::size_t ref_bytes = 64;

// The bytes `object` adds to a message if it goes inline.
inline std::size_t inline_bytes(const ObjectHandle& object) {
  return ObjectTransfer::goes_inline(object) ? object->payload().size() : 0;
}

// About what a message naming `refs` adds to a frame: their inline bytes
// are capped per message (ObjectTransfer::message_inline_bytes).
template <typename... Lists>
std::size_t refs_weight(const Lists&... lists) {
  std::size_t count = 0, bytes = 0;
  auto add = [&](const std::vector<ObjectHandle>& refs) {
    count += refs.size();
    for (const auto& r : refs) bytes += inline_bytes(r);
  };
  (add(lists), ...);
  return count * ref_bytes + std::min(bytes, ObjectTransfer::message_inline_bytes);
}

inline std::size_t spec_weight(const TaskSpec& spec) {
  return 256 + spec.args.bytes().size() + refs_weight(spec.refs, spec.nested_refs);
}

inline std::size_t result_weight(const ObjectHandle& result) {
  return 128 + inline_bytes(result) + refs_weight(result->nested());
}

}  // namespace weft::detail::frame_weights
