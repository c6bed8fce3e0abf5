// The per-node object store (DESIGN §6): sealed, immutable payloads.
//
// Payloads below `inline_threshold` live on the heap, where allocation is a
// few nanoseconds; larger ones live in the node's shared-memory Arena, 64-byte
// aligned so readers can view numeric data in place. A payload that does not
// fit is refused with an ObjectStoreFullError that names the sizes.
//
// Thread-safe: any executor thread may allocate and free.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>

#include "weft/object/arena.hpp"
#include "weft/object/object_id.hpp"

namespace weft {

class ObjectStore;
namespace detail {
class ObjectState;
}

// Owns the bytes of one payload, on the heap or in an arena block.
class PayloadBuffer {
 public:
  PayloadBuffer() noexcept = default;
  PayloadBuffer(PayloadBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        arena_(std::exchange(o.arena_, nullptr)) {}
  PayloadBuffer& operator=(PayloadBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      arena_ = std::exchange(o.arena_, nullptr);
    }
    return *this;
  }
  ~PayloadBuffer() { reset(); }

  std::span<std::byte> bytes() noexcept { return {data_, size_}; }
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  bool in_arena() const noexcept { return arena_ != nullptr; }
  explicit operator bool() const noexcept { return data_ != nullptr; }

 private:
  friend class ObjectStore;
  PayloadBuffer(std::byte* data, std::size_t size, Arena* arena) noexcept
      : data_(data), size_(size), arena_(arena) {}
  void reset() noexcept;

  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  Arena* arena_ = nullptr;  // null: heap
};

struct ObjectStoreOptions {
  // Arena size in bytes; 0 means 30 % of physical memory, as Ray defaults.
  std::size_t capacity = 0;
  // Payloads smaller than this live on the heap instead of the arena.
  std::size_t inline_threshold = 64 * 1024;
  // Name of the shared-memory file (shows in /proc/<pid>/maps).
  std::string name = "weft-store";
  // Log a warning naming the task and its error when the last ref to a
  // failed object this node owns dies without anyone having read the error
  // (Ray's "unhandled error"). Off, such errors pass silently.
  bool log_unread_errors = true;
};

class ObjectStore {
 public:
  ObjectStore(NodeId node, ObjectStoreOptions options = {});
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;

  NodeId node_id() const noexcept { return node_; }

  // A fresh id owned by this node.
  ObjectId next_id() noexcept {
    return {node_, next_sequence_.fetch_add(1, std::memory_order_relaxed)};
  }

  // Room for a payload of `size` bytes for object `id`. Throws
  // ObjectStoreFullError, naming the object and the sizes, if it cannot be held.
  PayloadBuffer allocate(std::size_t size, ObjectId id);

  std::size_t capacity() const noexcept { return arena_.capacity(); }
  std::size_t arena_bytes_used() const noexcept { return arena_.used(); }
  // Objects (pending or sealed) that some reference still keeps alive.
  std::size_t live_objects() const noexcept {
    return live_objects_.load(std::memory_order_acquire);
  }

  // Objects whose ids were written into other payloads, findable by id so a
  // reader can turn the id back into a ref. An object registers itself on
  // its first export and leaves when it dies.
  void add_exported(ObjectId id, detail::ObjectState* state);
  void remove_exported(ObjectId id, const detail::ObjectState* state) noexcept;
  // The exported object `id` with one new reference, or nullptr if it is gone.
  detail::ObjectState* acquire_exported(ObjectId id);

  // Bookkeeping for ObjectState's lifetime.
  void object_created() noexcept { live_objects_.fetch_add(1, std::memory_order_relaxed); }
  void object_destroyed() noexcept { live_objects_.fetch_sub(1, std::memory_order_release); }
  // Object `id`, owned here, died holding `error` that nobody read.
  void unread_error_dropped(ObjectId id, const std::exception_ptr& error) noexcept;

 private:
  NodeId node_;
  ObjectStoreOptions options_;
  Arena arena_;
  std::atomic<std::uint64_t> next_sequence_{1};
  std::mutex exported_mutex_;
  std::unordered_map<ObjectId, detail::ObjectState*> exported_;
  alignas(64) std::atomic<std::size_t> live_objects_{0};
};

namespace detail {
inline thread_local ObjectStore* tls_current_store = nullptr;
}

// The object store of the node the calling thread belongs to, or nullptr.
inline ObjectStore* current_store() noexcept { return detail::tls_current_store; }

}  // namespace weft
