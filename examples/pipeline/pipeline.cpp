// A DAG of tasks passing ObjectRefs: load -> (normalize, histogram) -> report.
//
//   ./pipeline
//
// Each stage takes the previous stage's ObjectRef as an argument and runs as
// soon as that object is sealed; the driver only awaits the final report.
#include <weft/weft.hpp>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

std::vector<float> load(std::uint32_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(50.0f, 10.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}
WEFT_REMOTE(load);

std::vector<float> normalize(std::vector<float> v) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const float min = *lo, span = *hi - *lo;
  for (auto& x : v) x = (x - min) / span;
  return v;
}
WEFT_REMOTE(normalize);

std::vector<std::uint32_t> histogram(const std::vector<float>& unit, std::uint32_t bins) {
  std::vector<std::uint32_t> h(bins);
  for (float x : unit) ++h[std::min<std::uint32_t>(bins - 1, static_cast<std::uint32_t>(x * bins))];
  return h;
}
WEFT_REMOTE(histogram);

std::string report(std::vector<std::vector<std::uint32_t>> shards) {
  std::vector<std::uint32_t> total(shards.front().size());
  for (const auto& h : shards) {
    for (std::size_t i = 0; i < h.size(); ++i) total[i] += h[i];
  }
  const auto peak = *std::max_element(total.begin(), total.end());
  std::string out;
  for (std::size_t i = 0; i < total.size(); ++i) {
    out += std::string(1 + 40 * total[i] / peak, '#') + " " + std::to_string(total[i]) + "\n";
  }
  return out;
}
WEFT_REMOTE(report);

// Gathers shard histograms into one argument for report.
weft::Task<std::vector<std::vector<std::uint32_t>>> gather(
    std::vector<weft::ObjectRef<std::vector<std::uint32_t>>> refs) {
  std::vector<std::vector<std::uint32_t>> out;
  for (auto& r : refs) out.push_back(co_await r);
  co_return out;
}
WEFT_REMOTE(gather);

weft::Task<int> driver(weft::Runtime&) {
  constexpr std::uint32_t shards = 8, per_shard = 250'000, bins = 10;
  std::vector<weft::ObjectRef<std::vector<std::uint32_t>>> hists;
  for (std::uint32_t s = 0; s < shards; ++s) {
    auto raw = weft::submit<&load>(per_shard, s);  // 1 MB each: lives in the arena
    auto unit = weft::submit<&normalize>(raw);     // waits for raw where it runs
    hists.push_back(weft::submit<&histogram>(unit, bins));
  }
  auto all = weft::submit<&gather>(hists);
  std::string text = co_await weft::submit<&report>(all);
  std::printf("histogram of %u normal samples in %u bins, %u shards:\n%s", shards * per_shard, bins,
              shards, text.c_str());
  std::uint64_t counted = 0;
  for (auto& h : co_await all) counted = std::accumulate(h.begin(), h.end(), counted);
  co_return counted == std::uint64_t{shards} * per_shard ? 0 : 1;
}

int main(int argc, char** argv) { return weft::run(argc, argv, driver); }
