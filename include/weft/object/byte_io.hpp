// The byte sinks and source that codecs write to and read from.
//
// Encoding is two passes over the value: a SizeCounter measures it, the
// destination (a heap buffer or an arena block) is allocated once at the
// exact size, and a SpanWriter fills it. Large contiguous data is therefore
// copied exactly once, straight into the object store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "weft/error.hpp"

namespace weft {

class SizeCounter {
 public:
  void write(const void*, std::size_t n) noexcept { size_ += n; }
  template <typename T>
  void write_pod(const T&) noexcept {
    size_ += sizeof(T);
  }
  std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_ = 0;
};

class SpanWriter {
 public:
  explicit SpanWriter(std::span<std::byte> out) noexcept : out_(out) {}
  void write(const void* p, std::size_t n) noexcept {
    if (n != 0) std::memcpy(out_.data() + pos_, p, n);
    pos_ += n;
  }
  template <typename T>
  void write_pod(const T& v) noexcept {
    static_assert(std::is_trivially_copyable_v<T>);
    write(&v, sizeof(T));
  }
  std::size_t size() const noexcept { return pos_; }

 private:
  std::span<std::byte> out_;
  std::size_t pos_ = 0;
};

// Reads an encoding back; every read is bounds-checked and a short buffer is a
// DecodeError, never an out-of-bounds read.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> in) noexcept : in_(in) {}

  void read(void* p, std::size_t n) {
    require(n);
    if (n != 0) std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  template <typename T>
  T read_pod() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    read(&v, sizeof(T));
    return v;
  }
  // A length prefix for `count` elements of `element_size` bytes each must fit
  // in what is left, so corrupt lengths cannot trigger huge allocations.
  // Elements that encode to nothing (empty types) get a fixed cap instead.
  std::size_t read_length(std::size_t element_size) {
    auto n = read_pod<std::uint64_t>();
    const std::uint64_t limit =
        element_size != 0 ? remaining() / element_size : std::uint64_t{1} << 24;
    if (n > limit) {
      throw DecodeError("encoded length " + std::to_string(n) + " exceeds the " +
                        std::to_string(remaining()) + " bytes left in the payload");
    }
    return static_cast<std::size_t>(n);
  }
  std::span<const std::byte> take(std::size_t n) {
    require(n);
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::size_t remaining() const noexcept { return in_.size() - pos_; }

 private:
  void require(std::size_t n) const {
    if (n > remaining()) {
      throw DecodeError("payload truncated: need " + std::to_string(n) + " bytes, " +
                        std::to_string(remaining()) + " left");
    }
  }
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
};

}  // namespace weft
