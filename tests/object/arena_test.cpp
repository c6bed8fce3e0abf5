#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "weft/object/arena.hpp"
#include "weft_test.hpp"

namespace {
constexpr std::size_t arena_kib = 1024;

std::size_t arena_round_up(std::size_t n) {
  return n == 0
             ? weft::Arena::alignment
             : (n + weft::Arena::alignment - 1) / weft::Arena::alignment * weft::Arena::alignment;
}
}  // namespace

TEST_CASE("arena blocks are 64-byte aligned and do not overlap") {
  weft::Arena arena(64 * arena_kib, "weft-test-arena");
  REQUIRE(reinterpret_cast<std::uintptr_t>(arena.base()) % 64 == 0);
  const std::vector<std::size_t> sizes{1, 7, 64, 65, 200, 0, 4096, 63};
  std::vector<std::pair<std::size_t, std::size_t>> blocks;  // offset, rounded size
  for (std::size_t n : sizes) {
    auto offset = arena.allocate(n);
    REQUIRE(offset);
    CHECK(*offset % weft::Arena::alignment == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(arena.base() + *offset) % 64 == 0);
    blocks.emplace_back(*offset, arena_round_up(n));
  }
  std::sort(blocks.begin(), blocks.end());
  for (std::size_t i = 1; i < blocks.size(); ++i) {
    CHECK(blocks[i - 1].first + blocks[i - 1].second <= blocks[i].first);
  }
  std::size_t expected_used = 0;
  for (std::size_t n : sizes) expected_used += arena_round_up(n);
  CHECK(arena.used() == expected_used);
}

TEST_CASE("arena capacity rounds up to the alignment") {
  weft::Arena arena(100, "weft-test-arena");
  CHECK(arena.capacity() == 128);
  CHECK(arena.largest_free_block() == 128);
  CHECK(arena.used() == 0);
}

TEST_CASE("an exhausted arena returns nullopt") {
  weft::Arena arena(64 * arena_kib, "weft-test-arena");
  CHECK_FALSE(arena.allocate(64 * arena_kib + 1));
  auto all = arena.allocate(64 * arena_kib);
  REQUIRE(all);
  CHECK(*all == 0);
  CHECK(arena.used() == arena.capacity());
  CHECK(arena.largest_free_block() == 0);
  CHECK_FALSE(arena.allocate(1));
  arena.free(*all);
  CHECK(arena.allocate(1));
}

TEST_CASE("freed arena blocks coalesce until a full-capacity allocation succeeds again") {
  constexpr std::size_t block = 8 * arena_kib;
  weft::Arena arena(8 * block, "weft-test-arena");
  std::vector<std::size_t> offsets;
  for (int i = 0; i < 8; ++i) {
    auto o = arena.allocate(block);
    REQUIRE(o);
    offsets.push_back(*o);
  }
  std::sort(offsets.begin(), offsets.end());
  CHECK_FALSE(arena.allocate(1));

  arena.free(offsets[1]);
  arena.free(offsets[3]);
  CHECK(arena.largest_free_block() == block);  // two separate holes
  arena.free(offsets[2]);                      // joins both neighbours
  CHECK(arena.largest_free_block() == 3 * block);
  arena.free(offsets[6]);
  arena.free(offsets[0]);  // joins the run 1..3 on its right
  CHECK(arena.largest_free_block() == 4 * block);
  arena.free(offsets[7]);  // joins 6 on its left
  arena.free(offsets[5]);  // joins 6..7 on its right
  CHECK(arena.largest_free_block() == 4 * block);
  arena.free(offsets[4]);  // bridges 0..3 and 5..7
  CHECK(arena.used() == 0);
  CHECK(arena.largest_free_block() == arena.capacity());
  auto whole = arena.allocate(arena.capacity());
  REQUIRE(whole);
  CHECK(*whole == 0);
}

TEST_CASE("freeing an unknown or already freed offset changes nothing") {
  weft::Arena arena(64 * arena_kib, "weft-test-arena");
  auto a = arena.allocate(100);
  REQUIRE(a);
  const std::size_t used = arena.used();
  arena.free(*a + 64);  // not the start of a block
  arena.free(12345);
  CHECK(arena.used() == used);
  arena.free(*a);
  arena.free(*a);
  CHECK(arena.used() == 0);
  CHECK(arena.largest_free_block() == arena.capacity());
}

TEST_CASE("arena memory is writable across a whole block") {
  weft::Arena arena(256 * arena_kib, "weft-test-arena");
  auto o = arena.allocate(200 * arena_kib);
  REQUIRE(o);
  std::memset(arena.base() + *o, 0xab, 200 * arena_kib);
  CHECK(arena.base()[*o + 200 * arena_kib - 1] == std::byte{0xab});
}

TEST_CASE("concurrent allocations and frees leave the arena whole") {
  weft::Arena arena(1024 * arena_kib, "weft-test-arena");
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) {
    threads.emplace_back([&arena, t] {
      std::mt19937 rng(t);
      std::vector<std::size_t> mine;
      for (int i = 0; i < 2000; ++i) {
        if (mine.empty() || rng() % 3 != 0) {
          if (auto o = arena.allocate(1 + rng() % 4096)) mine.push_back(*o);
        } else {
          const std::size_t k = rng() % mine.size();
          arena.free(mine[k]);
          mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(k));
        }
      }
      for (auto o : mine) arena.free(o);
    });
  }
  for (auto& t : threads) t.join();
  CHECK(arena.used() == 0);
  CHECK(arena.largest_free_block() == arena.capacity());
}
