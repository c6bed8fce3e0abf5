#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "weft/object/byte_io.hpp"
#include "weft/object/codec.hpp"
#include "weft/object/payload.hpp"
#include "weft_test.hpp"

namespace {
enum class CodecColor : std::uint8_t { red = 1, green = 2, blue = 200 };
enum CodecPlain { codec_plain_a = -3, codec_plain_b = 70000 };

struct CodecPoint {
  double x = 0;
  double y = 0;
  std::string label;
  std::vector<int> tags;
  template <class Archive>
  void serialize(Archive& a) {
    a(x, y, label, tags);
  }
  friend bool operator==(const CodecPoint&, const CodecPoint&) = default;
  friend bool operator<(const CodecPoint& a, const CodecPoint& b) { return a.label < b.label; }
};

struct CodecShape {
  std::string name;
  std::vector<CodecPoint> corners;
  std::map<std::string, double> props;
  template <class Archive>
  void serialize(Archive& a) {
    a(name, corners, props);
  }
  friend bool operator==(const CodecShape&, const CodecShape&) = default;
};

// A 64-byte-aligned buffer, as payloads have in the store.
struct CodecBuffer {
  explicit CodecBuffer(std::size_t n)
      : size(n),
        data(static_cast<std::byte*>(::operator new (n == 0 ? 1 : n, std::align_val_t{64}))) {}
  ~CodecBuffer() { ::operator delete (data, std::align_val_t{64}); }
  CodecBuffer(const CodecBuffer&) = delete;
  CodecBuffer& operator=(const CodecBuffer&) = delete;
  std::span<std::byte> span() const { return {data, size}; }
  std::size_t size;
  std::byte* data;
};

// Encodes `v` as a payload and reads it back.
template <typename T>
T codec_round_trip(const T& v) {
  CodecBuffer buf(weft::payload_size(v));
  weft::write_payload(buf.span(), v);
  return weft::read_payload<T>(buf.span(), "test object");
}

// Encodes `v` with the bare codec (size pass, then write pass) and decodes it.
template <typename T>
T codec_bare_round_trip(const T& v) {
  weft::SizeCounter counter;
  weft::Codec<T>::encode(counter, v);
  CodecBuffer buf(counter.size());
  weft::SpanWriter writer(buf.span());
  weft::Codec<T>::encode(writer, v);
  REQUIRE(writer.size() == counter.size());
  weft::ByteReader reader(std::span<const std::byte>(buf.data, buf.size));
  T out = weft::Codec<T>::decode(reader);
  CHECK(reader.remaining() == 0);
  return out;
}

template <typename T>
void codec_check(const T& v) {
  CHECK(codec_round_trip(v) == v);
  CHECK(codec_bare_round_trip(v) == v);
}
}  // namespace

TEST_CASE("arithmetic values round-trip through their codec") {
  codec_check(std::numeric_limits<std::int8_t>::min());
  codec_check(std::numeric_limits<std::uint8_t>::max());
  codec_check(std::int16_t{-12345});
  codec_check(std::numeric_limits<std::int32_t>::min());
  codec_check(std::numeric_limits<std::uint32_t>::max());
  codec_check(std::numeric_limits<std::int64_t>::min());
  codec_check(std::numeric_limits<std::uint64_t>::max());
  codec_check(-0.5f);
  codec_check(std::numeric_limits<double>::infinity());
  codec_check(std::numeric_limits<double>::denorm_min());
  codec_check(3.141592653589793);
  codec_check(true);
  codec_check(false);
  codec_check('x');
  CHECK(std::isnan(codec_round_trip(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("enums round-trip through their codec") {
  codec_check(CodecColor::blue);
  codec_check(CodecColor::red);
  codec_check(codec_plain_a);
  codec_check(codec_plain_b);
}

TEST_CASE("strings round-trip, including empty ones and embedded NULs") {
  codec_check(std::string());
  codec_check(std::string("hello, weft"));
  codec_check(std::string("a\0b\0c", 5));
  codec_check(std::string(100000, 'z'));
}

TEST_CASE("vectors of ints, strings and bools round-trip") {
  codec_check(std::vector<int>{});
  codec_check(std::vector<int>{1, -2, 3, std::numeric_limits<int>::max()});
  codec_check(std::vector<std::string>{});
  codec_check(std::vector<std::string>{"", "one", std::string("t\0o", 3)});
  codec_check(std::vector<bool>{});
  codec_check(std::vector<bool>{true, false, true, true, false, false, true, false, true});
  codec_check(std::vector<double>(1000, 0.25));
  codec_check(std::vector<std::uint8_t>{0, 255, 7});
}

TEST_CASE("std::array round-trips") {
  codec_check(std::array<int, 3>{7, 8, 9});
  codec_check(std::array<std::string, 2>{"left", "right"});
  codec_check(std::array<double, 0>{});
}

TEST_CASE("pairs and tuples round-trip") {
  codec_check(std::pair<int, std::string>{4, "four"});
  codec_check(std::pair<std::string, std::vector<int>>{"xs", {1, 2}});
  codec_check(std::tuple<int, double, std::string>{1, 2.5, "three"});
  codec_check(std::tuple<>{});
  codec_check(std::tuple<bool, std::int8_t, std::uint64_t>{true, -1, 1ULL << 63});
}

TEST_CASE("optionals round-trip whether empty or not") {
  codec_check(std::optional<int>{});
  codec_check(std::optional<int>{17});
  codec_check(std::optional<std::string>{});
  codec_check(std::optional<std::string>{"present"});
  codec_check(std::optional<std::optional<int>>{std::optional<int>{}});
}

TEST_CASE("variants round-trip whichever alternative they hold") {
  using V = std::variant<int, std::string, std::vector<double>, std::monostate>;
  codec_check(V{5});
  codec_check(V{std::string("five")});
  codec_check(V{std::vector<double>{5.0, 0.5}});
  codec_check(V{std::monostate{}});
  CHECK(codec_round_trip(V{std::string("five")}).index() == 1);
}

TEST_CASE("maps, unordered maps, sets and unordered sets round-trip") {
  codec_check(std::map<std::string, int>{});
  codec_check(std::map<std::string, int>{{"a", 1}, {"b", 2}, {"", -3}});
  codec_check(std::unordered_map<int, std::string>{{1, "one"}, {2, "two"}, {-7, ""}});
  codec_check(std::set<std::string>{"x", "y", "z"});
  codec_check(std::unordered_set<int>{3, 1, 4, 1, 5, 9, 2, 6});
}

TEST_CASE("chrono durations round-trip") {
  codec_check(std::chrono::milliseconds(1500));
  codec_check(std::chrono::nanoseconds(-42));
  codec_check(std::chrono::duration<double>(0.125));
  codec_check(std::chrono::hours(24 * 365));
}

TEST_CASE("nested containers round-trip") {
  codec_check(std::vector<std::vector<int>>{{}, {1}, {2, 3}});
  codec_check(std::map<std::string, std::vector<std::optional<std::pair<int, std::string>>>>{
      {"k", {std::nullopt, std::pair<int, std::string>{1, "one"}}}, {"empty", {}}});
  codec_check(std::vector<std::map<int, std::set<std::string>>>{{{1, {"a", "b"}}}, {}});
  codec_check(std::optional<std::variant<int, std::vector<std::string>>>{
      std::vector<std::string>{"p", "q"}});
  codec_check(std::tuple<std::vector<bool>, std::unordered_map<std::string, std::array<int, 2>>>{
      {true, false}, {{"pair", {1, 2}}}});
  codec_check(std::pair<std::chrono::seconds, std::vector<std::chrono::milliseconds>>{
      std::chrono::seconds(3), {std::chrono::milliseconds(1), std::chrono::milliseconds(2)}});
}

TEST_CASE("a cereal type round-trips alone and nested in a vector and a map") {
  const CodecPoint p{1.5, -2.5, "origin", {1, 2, 3}};
  codec_check(p);
  codec_check(CodecPoint{});
  codec_check(std::vector<CodecPoint>{p, CodecPoint{0, 0, "", {}}, p});
  codec_check(std::map<std::string, CodecPoint>{{"a", p}, {"b", CodecPoint{9, 9, "nine", {9}}}});
  codec_check(std::optional<CodecPoint>{p});
  codec_check(std::set<CodecPoint>{p, CodecPoint{0, 0, "zero", {}}});
}

TEST_CASE("a cereal type holding other cereal types and containers round-trips") {
  const CodecShape s{
      "triangle",
      {CodecPoint{0, 0, "a", {}}, CodecPoint{1, 0, "b", {1}}, CodecPoint{0, 1, "c", {1, 2}}},
      {{"area", 0.5}, {"angle", 90}}};
  codec_check(s);
  codec_check(std::vector<CodecShape>{s, CodecShape{}});
}

TEST_CASE("payloads record the exact size their encoding takes") {
  const std::vector<std::string> v{"abc", "de"};
  // 16-byte header, an 8-byte count, two 8-byte lengths and five characters.
  CHECK(weft::payload_size(v) == 16 + 8 + 8 + 3 + 8 + 2);
  // Vectors of numbers are stored raw behind a 64-byte header.
  CHECK(weft::payload_size(std::vector<float>(10)) == 64 + 40);
}

TEST_CASE("a vector of empty values round-trips") {
  // monostate encodes to zero bytes, so a count of n of them is followed by
  // nothing; decoding must not read that as a corrupt length.
  codec_check(std::vector<std::monostate>(3));
  codec_check(std::vector<std::tuple<>>(2));
}

TEST_CASE("a multimap keeps the order of values under equal keys") {
  // std::multimap has no built-in codec and goes through cereal, whose
  // loader inserts each entry before the previous one (emplace_hint).
  codec_check(std::multimap<int, int>{{1, 1}, {1, 2}, {2, 5}});
}
