// A payload is one encoded value with its type's fingerprint in front:
//
//   [fingerprint u64][body offset u32][reserved u32][padding][body]
//
// The body of a vector of numbers is the raw elements (their byte count is
// in the first 8 bytes of the padding), 64-byte aligned within
// the payload (payloads themselves start 64-byte aligned in the arena), so a
// reader on the same node can view it in place without copying.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "weft/object/codec.hpp"
#include "weft/object/type_fingerprint.hpp"

namespace weft {

struct PayloadHeader {
  std::uint64_t fingerprint;
  std::uint32_t body_offset;
  std::uint32_t reserved;
};
static_assert(sizeof(PayloadHeader) == 16);

inline constexpr std::size_t payload_alignment = 64;

// Vectors of numbers are stored raw: the body is exactly their bytes.
template <typename T>
struct RawPayload : std::false_type {};
template <typename E, typename A>
requires(std::is_arithmetic_v<E> && !std::is_same_v<E, bool>) struct RawPayload<std::vector<E, A>>
    : std::true_type {
  using element_type = E;
};

template <typename T>
constexpr std::uint32_t payload_body_offset() noexcept {
  return RawPayload<T>::value ? payload_alignment : sizeof(PayloadHeader);
}

template <typename T>
std::size_t payload_size(const T& v) {
  if constexpr (RawPayload<T>::value) {
    return payload_body_offset<T>() + v.size() * sizeof(typename RawPayload<T>::element_type);
  } else {
    SizeCounter counter;
    Codec<T>::encode(counter, v);
    return payload_body_offset<T>() + counter.size();
  }
}

// Writes `v` into `out`, which must be exactly payload_size(v) bytes.
template <typename T>
void write_payload(std::span<std::byte> out, const T& v) {
  detail::remember_type<T>();
  PayloadHeader h{type_fingerprint<T>, payload_body_offset<T>(), 0};
  std::memcpy(out.data(), &h, sizeof h);
  SpanWriter w(out.subspan(h.body_offset));
  if constexpr (RawPayload<T>::value) {
    // The raw body's length also sits in the header's padding, so a payload
    // cut at an element boundary is caught rather than read as a shorter vector.
    const std::uint64_t body_bytes = out.size() - h.body_offset;
    std::memcpy(out.data() + sizeof h, &body_bytes, sizeof body_bytes);
    w.write(v.data(), body_bytes);
  } else {
    Codec<T>::encode(w, v);
  }
}

inline PayloadHeader read_payload_header(std::span<const std::byte> payload) {
  PayloadHeader h;
  if (payload.size() < sizeof h) {
    throw DecodeError(
        fmt::format("payload of {} bytes is shorter than its header", payload.size()));
  }
  std::memcpy(&h, payload.data(), sizeof h);
  if (h.body_offset < sizeof h || h.body_offset > payload.size()) {
    throw DecodeError(fmt::format("payload body offset {} is out of range", h.body_offset));
  }
  return h;
}

namespace detail {
// `what` names the object in errors: a string, or a callable returning one
// that is called only on failure, so the happy path formats nothing.
template <typename Describe>
std::string describe(const Describe& what) {
  if constexpr (std::is_invocable_v<const Describe&>) {
    return what();
  } else {
    return std::string(what);
  }
}
}  // namespace detail

// The body of a payload known to hold a T; throws TypeMismatchError otherwise.
// `what` names the object in the error (e.g. "object 3a:17"), see describe().
template <typename T, typename Describe>
std::span<const std::byte> payload_body(std::span<const std::byte> payload, const Describe& what) {
  const PayloadHeader h = read_payload_header(payload);
  if (h.fingerprint != type_fingerprint<T>) {
    throw TypeMismatchError(
        fmt::format("{} holds a value of type `{}`, but was read as `{}`", detail::describe(what),
                    detail::describe_fingerprint(h.fingerprint), type_name<T>()));
  }
  return payload.subspan(h.body_offset);
}

template <typename T, typename Describe>
T read_payload(std::span<const std::byte> payload, const Describe& what) {
  auto body = payload_body<T>(payload, what);
  if constexpr (RawPayload<T>::value) {
    using E = typename RawPayload<T>::element_type;
    std::uint64_t body_bytes = 0;
    std::memcpy(&body_bytes, payload.data() + sizeof(PayloadHeader), sizeof body_bytes);
    if (body_bytes != body.size()) {
      throw DecodeError(fmt::format("{}: raw body of {} bytes, but its header says {}",
                                    detail::describe(what), body.size(), body_bytes));
    }
    if (body.size() % sizeof(E) != 0) {
      throw DecodeError(fmt::format("{}: raw body of {} bytes is not a whole number of `{}`",
                                    detail::describe(what), body.size(), type_name<E>()));
    }
    const auto* first = reinterpret_cast<const E*>(body.data());
    return T(first, first + body.size() / sizeof(E));
  } else {
    ByteReader in(body);
    T v = Codec<T>::decode(in);
    if (in.remaining() != 0) {
      throw DecodeError(fmt::format("{}: {} bytes left over after decoding `{}`",
                                    detail::describe(what), in.remaining(), type_name<T>()));
    }
    return v;
  }
}

}  // namespace weft
