#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "weft/error.hpp"
#include "weft/object/payload.hpp"
#include "weft_test.hpp"

namespace {
struct PayloadPoint {
  double x = 0;
  std::string label;
  template <class Archive>
  void serialize(Archive& a) {
    a(x, label);
  }
};

// An aligned byte buffer that tests fill by hand.
class PayloadBytes {
 public:
  explicit PayloadBytes(std::size_t n)
      : size_(n),
        data_(static_cast<std::byte*>(::operator new (n == 0 ? 1 : n, std::align_val_t{64}))) {
    std::memset(data_, 0, size_ == 0 ? 1 : size_);
  }
  ~PayloadBytes() { ::operator delete (data_, std::align_val_t{64}); }
  PayloadBytes(PayloadBytes&& o) noexcept
      : size_(std::exchange(o.size_, 0)), data_(std::exchange(o.data_, nullptr)) {}
  PayloadBytes& operator=(PayloadBytes&&) = delete;

  std::span<std::byte> span() const { return {data_, size_}; }
  std::span<const std::byte> prefix(std::size_t n) const { return {data_, n}; }
  template <typename T>
  void put(std::size_t at, T v) {
    std::memcpy(data_ + at, &v, sizeof v);
  }

 private:
  std::size_t size_;
  std::byte* data_;
};

template <typename T>
PayloadBytes payload_of(const T& v) {
  PayloadBytes b(weft::payload_size(v));
  weft::write_payload(b.span(), v);
  return b;
}

// A payload of type T whose body is `body_size` zero bytes, to be filled in.
template <typename T>
PayloadBytes payload_by_hand(std::size_t body_size) {
  PayloadBytes b(16 + body_size);
  b.put<std::uint64_t>(0, weft::type_fingerprint<T>);
  b.put<std::uint32_t>(8, 16);
  return b;
}

// Every strict prefix of v's payload must be refused with DecodeError.
template <typename T>
void payload_every_truncation_throws(const T& v) {
  const PayloadBytes b = payload_of(v);
  const std::size_t full = weft::payload_size(v);
  REQUIRE_NOTHROW(weft::read_payload<T>(b.prefix(full), "whole"));
  int not_refused = 0;
  for (std::size_t n = 0; n < full; ++n) {
    try {
      (void)weft::read_payload<T>(b.prefix(n), "truncated");
      ++not_refused;
    } catch (const weft::DecodeError&) {
    }
  }
  CHECK(not_refused == 0);
}
}  // namespace

TEST_CASE("every truncation of an encoded payload throws DecodeError") {
  payload_every_truncation_throws(std::string("truncate me"));
  payload_every_truncation_throws(std::vector<std::string>{"a", "bc", ""});
  payload_every_truncation_throws(std::map<int, std::string>{{1, "x"}, {2, "yz"}});
  payload_every_truncation_throws(std::tuple<int, std::string, double>{1, "two", 3.0});
  payload_every_truncation_throws(std::optional<std::string>{"maybe"});
  payload_every_truncation_throws(std::variant<int, std::string>{std::string("v")});
  payload_every_truncation_throws(std::vector<std::vector<int>>{{1, 2}, {3}});
  payload_every_truncation_throws(PayloadPoint{1.0, "point"});
  payload_every_truncation_throws(std::vector<PayloadPoint>{{1.0, "p"}, {2.0, "q"}});
}

TEST_CASE("a raw vector payload cut inside its header or mid-element throws DecodeError") {
  const std::vector<int> v{1, 2, 3, 4};
  const PayloadBytes b = payload_of(v);
  for (std::size_t n = 0; n < 64; ++n) {
    CHECK_THROWS_AS(weft::read_payload<std::vector<int>>(b.prefix(n), "cut"), weft::DecodeError);
  }
  CHECK_THROWS_AS(weft::read_payload<std::vector<int>>(b.prefix(64 + 6), "cut"), weft::DecodeError);
}

TEST_CASE("a raw vector payload cut at an element boundary throws DecodeError") {
  // The raw layout carries no element count, so a payload that lost whole
  // elements reads back as a shorter vector instead of failing.
  const std::vector<int> v{1, 2, 3, 4};
  const PayloadBytes b = payload_of(v);
  CHECK_THROWS_AS(weft::read_payload<std::vector<int>>(b.prefix(64 + 8), "cut"), weft::DecodeError);
}

TEST_CASE("a payload shorter than its header or with a bad body offset throws DecodeError") {
  PayloadBytes b = payload_of(42);
  for (std::size_t n = 0; n < 16; ++n) {
    CHECK_THROWS_AS(weft::read_payload<int>(b.prefix(n), "short"), weft::DecodeError);
  }
  b.put<std::uint32_t>(8, 1000);  // body offset past the end
  CHECK_THROWS_AS(weft::read_payload<int>(b.prefix(20), "bad offset"), weft::DecodeError);
  b.put<std::uint32_t>(8, 4);  // body offset inside the header
  CHECK_THROWS_AS(weft::read_payload<int>(b.prefix(20), "bad offset"), weft::DecodeError);
}

TEST_CASE("a payload with bytes left over after the value throws DecodeError") {
  PayloadBytes b = payload_by_hand<int>(8);
  CHECK_THROWS_AS(weft::read_payload<int>(b.span(), "padded"), weft::DecodeError);
}

TEST_CASE("a corrupt string length throws DecodeError") {
  PayloadBytes b = payload_by_hand<std::string>(8 + 3);
  b.put<std::uint64_t>(16, std::numeric_limits<std::uint64_t>::max());
  CHECK_THROWS_AS(weft::read_payload<std::string>(b.span(), "s"), weft::DecodeError);
  b.put<std::uint64_t>(16, 1ULL << 40);
  CHECK_THROWS_AS(weft::read_payload<std::string>(b.span(), "s"), weft::DecodeError);
  b.put<std::uint64_t>(16, 4);  // one more than the three bytes that follow
  CHECK_THROWS_AS(weft::read_payload<std::string>(b.span(), "s"), weft::DecodeError);
}

TEST_CASE("a corrupt element count of a container throws DecodeError") {
  {
    PayloadBytes b = payload_by_hand<std::vector<std::string>>(8);
    b.put<std::uint64_t>(16, 1ULL << 60);
    CHECK_THROWS_AS(weft::read_payload<std::vector<std::string>>(b.span(), "v"), weft::DecodeError);
  }
  {
    PayloadBytes b = payload_by_hand<std::map<int, int>>(8 + 8);
    b.put<std::uint64_t>(16, 3);  // three entries promised, one entry's bytes present
    CHECK_THROWS_AS((weft::read_payload<std::map<int, int>>(b.span(), "m")), weft::DecodeError);
  }
  {
    // An inner vector<int> claims more elements than there are bytes.
    PayloadBytes b = payload_by_hand<std::vector<std::vector<int>>>(8 + 8 + 8);
    b.put<std::uint64_t>(16, 1);
    b.put<std::uint64_t>(24, std::numeric_limits<std::uint64_t>::max() / 2);
    CHECK_THROWS_AS(weft::read_payload<std::vector<std::vector<int>>>(b.span(), "vv"),
                    weft::DecodeError);
  }
  {
    // The length prefix of a cereal archive larger than the payload.
    PayloadBytes b = payload_by_hand<PayloadPoint>(8 + 8);
    b.put<std::uint64_t>(16, 1ULL << 50);
    CHECK_THROWS_AS(weft::read_payload<PayloadPoint>(b.span(), "p"), weft::DecodeError);
  }
}

TEST_CASE("a corrupt variant index throws DecodeError") {
  PayloadBytes b = payload_of(std::variant<int, double>{7});
  b.put<std::uint32_t>(16, 2);
  CHECK_THROWS_AS((weft::read_payload<std::variant<int, double>>(b.span(), "v")),
                  weft::DecodeError);
}

TEST_CASE("a cereal archive whose inner data is cut short throws DecodeError") {
  // Archive: x (8 bytes), label length (8), label bytes. Claim a longer label
  // than the archive holds.
  PayloadBytes b = payload_of(PayloadPoint{2.0, "abc"});
  b.put<std::uint64_t>(16 + 8 + 8, 1000);
  CHECK_THROWS_AS(weft::read_payload<PayloadPoint>(b.span(), "p"), weft::DecodeError);
}

TEST_CASE("a huge string length inside a cereal archive throws DecodeError") {
  // cereal resizes the string to the stored length before reading; a corrupt
  // length must still surface as DecodeError, not std::length_error.
  PayloadBytes b = payload_of(PayloadPoint{2.0, "abc"});
  b.put<std::uint64_t>(16 + 8 + 8, std::numeric_limits<std::uint64_t>::max() - 15);
  CHECK_THROWS_AS(weft::read_payload<PayloadPoint>(b.span(), "p"), weft::DecodeError);
}

TEST_CASE("reading a payload as the wrong type throws TypeMismatchError naming both types") {
  const std::vector<double> v{1.0, 2.0};
  const PayloadBytes b = payload_of(v);
  try {
    (void)weft::read_payload<std::vector<float>>(b.prefix(weft::payload_size(v)), "object 1:2");
    FAIL("no TypeMismatchError");
  } catch (const weft::TypeMismatchError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains(std::string(weft::type_name<std::vector<double>>())));
    CHECK_THAT(what, Catch::Contains(std::string(weft::type_name<std::vector<float>>())));
    CHECK_THAT(what, Catch::Contains("object 1:2"));
  }
}

TEST_CASE("a payload of a user type read as int names both types") {
  const PayloadPoint p{1.0, "p"};
  const PayloadBytes b = payload_of(p);
  try {
    (void)weft::read_payload<int>(b.prefix(weft::payload_size(p)), "obj");
    FAIL("no TypeMismatchError");
  } catch (const weft::TypeMismatchError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("PayloadPoint"));
    CHECK_THAT(what, Catch::Contains("`int`"));
  }
}

TEST_CASE("type names are the compiler's spelling of the type") {
  CHECK(weft::type_name<int>() == "int");
  CHECK(weft::type_name<double>() == "double");
  CHECK(weft::type_fingerprint<int> != weft::type_fingerprint<unsigned>);
}
