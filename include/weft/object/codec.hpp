// weft::Codec<T>: how a value becomes bytes and back (DESIGN §6).
//
// Built in: arithmetic types, enums, std::string, std::vector, std::array,
// std::pair, std::tuple, std::optional, std::variant, std::map, std::set and
// their unordered forms, std::chrono::duration. Any other type with a cereal
// `serialize` member or free function travels through cereal's binary
// archive:
//
//   struct Point { double x, y; template <class A> void serialize(A& a) { a(x, y); } };
//
// To teach weft a type directly, specialise weft::Codec<T> with
//   template <class W> static void encode(W& out, const T& v);  // W: SizeCounter or SpanWriter
//   static T decode(ByteReader& in);
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <streambuf>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <cereal/archives/binary.hpp>
// Standard members of user types (a std::string field, say) need cereal's own
// support for those types.
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include "weft/object/byte_io.hpp"

namespace weft {

template <typename T, typename Enable = void>
struct Codec;

namespace detail {

// std::streambuf over a weft writer or a span, so cereal archives can use them.
template <typename Writer>
class WriterStreambuf final : public std::streambuf {
 public:
  explicit WriterStreambuf(Writer& w) noexcept : writer_(w) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    writer_.write(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) {
      char ch = traits_type::to_char_type(c);
      writer_.write(&ch, 1);
    }
    return c;
  }

 private:
  Writer& writer_;
};

class ReaderStreambuf final : public std::streambuf {
 public:
  explicit ReaderStreambuf(std::span<const std::byte> in) {
    auto* p = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
    setg(p, p, p + in.size());
  }
};

template <typename T>
concept CerealSerializable =
    cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value &&
    cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value;

template <typename T>
concept BuiltinPod = std::is_arithmetic_v<T> || std::is_enum_v<T>;

template <typename W, typename T>
void encode_value(W& out, const T& v) {
  Codec<T>::encode(out, v);
}
template <typename T>
T decode_value(ByteReader& in) {
  return Codec<T>::decode(in);
}

// The fewest bytes one value of T encodes to, which bounds a decoded length
// prefix by what is left of the payload. Empty types encode to nothing, so
// their counts are bounded separately (ByteReader::read_length).
template <typename T>
constexpr std::size_t min_encoded_size() noexcept {
  return std::is_empty_v<T> ? 0 : 1;
}

template <typename W, typename Range>
void encode_range(W& out, const Range& r) {
  out.template write_pod<std::uint64_t>(static_cast<std::uint64_t>(r.size()));
  for (const auto& e : r) encode_value(out, e);
}

}  // namespace detail

// Types with no built-in codec use cereal; a type cereal cannot handle either
// fails to compile here, naming the type. The archive is length-prefixed so
// cereal-encoded values can nest inside containers.
template <typename T, typename Enable>
struct Codec {
  static_assert(detail::CerealSerializable<T>,
                "weft::Codec: no codec for this type. Give it a cereal serialize() member, "
                "or specialise weft::Codec<T>.");
  template <typename W>
  static void encode(W& out, const T& v) {
    SizeCounter counter;
    write_archive(counter, v);
    out.template write_pod<std::uint64_t>(counter.size());
    write_archive(out, v);
  }
  static T decode(ByteReader& in) {
    auto archive = in.take(in.read_length(1));
    detail::ReaderStreambuf buf(archive);
    std::istream is(&buf);
    T v{};
    try {
      cereal::BinaryInputArchive ar(is);
      ar(v);
    } catch (const std::exception& e) {
      // cereal throws its own exceptions, but a corrupt length can also
      // surface as std::length_error or std::bad_alloc from a resize.
      throw DecodeError(std::string("cereal could not decode the payload: ") + e.what());
    }
    return v;
  }

 private:
  template <typename W>
  static void write_archive(W& out, const T& v) {
    detail::WriterStreambuf<W> buf(out);
    std::ostream os(&buf);
    cereal::BinaryOutputArchive ar(os);
    ar(v);
  }
};

template <typename T>
struct Codec<T, std::enable_if_t<detail::BuiltinPod<T>>> {
  template <typename W>
  static void encode(W& out, const T& v) {
    out.write_pod(v);
  }
  static T decode(ByteReader& in) { return in.read_pod<T>(); }
};

template <>
struct Codec<std::string> {
  template <typename W>
  static void encode(W& out, const std::string& s) {
    out.template write_pod<std::uint64_t>(s.size());
    out.write(s.data(), s.size());
  }
  static std::string decode(ByteReader& in) {
    std::string s(in.read_length(1), '\0');
    in.read(s.data(), s.size());
    return s;
  }
};

template <typename T, typename A>
struct Codec<std::vector<T, A>> {
  template <typename W>
  static void encode(W& out, const std::vector<T, A>& v) {
    if constexpr (detail::BuiltinPod<T> && !std::is_same_v<T, bool>) {
      out.template write_pod<std::uint64_t>(v.size());
      out.write(v.data(), v.size() * sizeof(T));
    } else {
      detail::encode_range(out, v);
    }
  }
  static std::vector<T, A> decode(ByteReader& in) {
    std::vector<T, A> v;
    if constexpr (detail::BuiltinPod<T> && !std::is_same_v<T, bool>) {
      v.resize(in.read_length(sizeof(T)));
      in.read(v.data(), v.size() * sizeof(T));
    } else {
      const std::size_t n = in.read_length(detail::min_encoded_size<T>());
      if constexpr (detail::min_encoded_size<T>() != 0) v.reserve(n);
      for (std::size_t i = 0; i < n; ++i) v.push_back(detail::decode_value<T>(in));
    }
    return v;
  }
};

template <typename T, std::size_t N>
struct Codec<std::array<T, N>> {
  template <typename W>
  static void encode(W& out, const std::array<T, N>& a) {
    for (const auto& e : a) detail::encode_value(out, e);
  }
  static std::array<T, N> decode(ByteReader& in) {
    std::array<T, N> a;
    for (auto& e : a) e = detail::decode_value<T>(in);
    return a;
  }
};

template <typename... Ts>
struct Codec<std::tuple<Ts...>> {
  template <typename W>
  static void encode(W& out, const std::tuple<Ts...>& t) {
    std::apply([&](const auto&... e) { (detail::encode_value(out, e), ...); }, t);
  }
  static std::tuple<Ts...> decode(ByteReader& in) {
    // Braced init evaluates left to right, matching the encoding order.
    return std::tuple<Ts...>{detail::decode_value<Ts>(in)...};
  }
};

template <typename A, typename B>
struct Codec<std::pair<A, B>> {
  template <typename W>
  static void encode(W& out, const std::pair<A, B>& p) {
    detail::encode_value(out, p.first);
    detail::encode_value(out, p.second);
  }
  static std::pair<A, B> decode(ByteReader& in) {
    A a = detail::decode_value<A>(in);
    return {std::move(a), detail::decode_value<B>(in)};
  }
};

template <typename T>
struct Codec<std::optional<T>> {
  template <typename W>
  static void encode(W& out, const std::optional<T>& o) {
    out.template write_pod<std::uint8_t>(o.has_value() ? 1 : 0);
    if (o) detail::encode_value(out, *o);
  }
  static std::optional<T> decode(ByteReader& in) {
    if (in.read_pod<std::uint8_t>() == 0) return std::nullopt;
    return detail::decode_value<T>(in);
  }
};

template <>
struct Codec<std::monostate> {
  template <typename W>
  static void encode(W&, std::monostate) {}
  static std::monostate decode(ByteReader&) { return {}; }
};

template <typename... Ts>
struct Codec<std::variant<Ts...>> {
  using V = std::variant<Ts...>;
  template <typename W>
  static void encode(W& out, const V& v) {
    out.template write_pod<std::uint32_t>(static_cast<std::uint32_t>(v.index()));
    std::visit([&](const auto& e) { detail::encode_value(out, e); }, v);
  }
  static V decode(ByteReader& in) {
    const auto index = in.read_pod<std::uint32_t>();
    if (index >= sizeof...(Ts)) {
      throw DecodeError("variant index " + std::to_string(index) + " out of range");
    }
    return decode_alternative(in, index, std::index_sequence_for<Ts...>{});
  }

 private:
  template <std::size_t... I>
  static V decode_alternative(ByteReader& in, std::uint32_t index, std::index_sequence<I...>) {
    using Decoder = V (*)(ByteReader&);
    static constexpr Decoder decoders[] = {[](ByteReader& r) -> V {
      return V(std::in_place_index<I>, detail::decode_value<std::variant_alternative_t<I, V>>(r));
    }...};
    return decoders[index](in);
  }
};

namespace detail {
// Maps and sets share one shape: a length, then elements inserted one by one.
template <typename C, typename Element>
struct AssociativeCodec {
  template <typename W>
  static void encode(W& out, const C& c) {
    encode_range(out, c);
  }
  static C decode(ByteReader& in) {
    C c;
    const std::size_t n = in.read_length(min_encoded_size<Element>());
    for (std::size_t i = 0; i < n; ++i) c.insert(decode_value<Element>(in));
    return c;
  }
};
}  // namespace detail

template <typename K, typename V, typename... R>
struct Codec<std::map<K, V, R...>>
    : detail::AssociativeCodec<std::map<K, V, R...>, std::pair<K, V>> {};
template <typename K, typename V, typename... R>
struct Codec<std::unordered_map<K, V, R...>>
    : detail::AssociativeCodec<std::unordered_map<K, V, R...>, std::pair<K, V>> {};
template <typename K, typename V, typename... R>
struct Codec<std::multimap<K, V, R...>>
    : detail::AssociativeCodec<std::multimap<K, V, R...>, std::pair<K, V>> {};
template <typename K, typename V, typename... R>
struct Codec<std::unordered_multimap<K, V, R...>>
    : detail::AssociativeCodec<std::unordered_multimap<K, V, R...>, std::pair<K, V>> {};
template <typename K, typename... R>
struct Codec<std::set<K, R...>> : detail::AssociativeCodec<std::set<K, R...>, K> {};
template <typename K, typename... R>
struct Codec<std::multiset<K, R...>> : detail::AssociativeCodec<std::multiset<K, R...>, K> {};
template <typename K, typename... R>
struct Codec<std::unordered_multiset<K, R...>>
    : detail::AssociativeCodec<std::unordered_multiset<K, R...>, K> {};
template <typename K, typename... R>
struct Codec<std::unordered_set<K, R...>>
    : detail::AssociativeCodec<std::unordered_set<K, R...>, K> {};

template <typename Rep, typename Period>
struct Codec<std::chrono::duration<Rep, Period>> {
  using D = std::chrono::duration<Rep, Period>;
  template <typename W>
  static void encode(W& out, const D& d) {
    out.write_pod(d.count());
  }
  static D decode(ByteReader& in) { return D(in.read_pod<Rep>()); }
};

}  // namespace weft
