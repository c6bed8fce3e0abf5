// Arena: one shared-memory mapping (memfd, or a file in /dev/shm where memfd
// is unavailable) carved into 64-byte-aligned blocks.
//
// Pages are committed lazily by the kernel as blocks are first written, so a
// large arena costs nothing until used, and freed blocks keep their pages for
// the next object (no page faults on reuse). Best-fit allocation with
// coalescing; thread-safe. Blocks are identified by their offset, which
// stays meaningful to another process mapping the same memory.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace weft {

class Arena {
 public:
  // Throws weft::Error if the mapping cannot be created.
  Arena(std::size_t capacity, const std::string& name);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // A block of at least `n` bytes, or nullopt when no free range is big enough.
  std::optional<std::size_t> allocate(std::size_t n);
  void free(std::size_t offset) noexcept;

  std::byte* base() const noexcept { return base_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t used() const noexcept;
  std::size_t largest_free_block() const noexcept;

  static constexpr std::size_t alignment = 64;

 private:
  void insert_free(std::size_t offset, std::size_t size);
  void erase_free(std::map<std::size_t, std::size_t>::iterator it);

  std::size_t capacity_;
  std::byte* base_ = nullptr;
  int fd_ = -1;
  mutable std::mutex mutex_;
  std::map<std::size_t, std::size_t> free_by_offset_;       // offset -> size
  std::multimap<std::size_t, std::size_t> free_by_size_;    // size -> offset
  std::unordered_map<std::size_t, std::size_t> allocated_;  // offset -> size
  std::size_t used_ = 0;
};

}  // namespace weft
