// Monte Carlo estimate of pi over 64 tasks.
//
//   ./pi              one node in this process
//   ./pi --threads 2
#include <weft/weft.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

// Fraction of `samples` random points in the unit square that fall inside the circle.
double partial_pi(std::uint64_t samples, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uint64_t inside = 0;
  for (std::uint64_t i = 0; i < samples; ++i) {
    const double x = unit(rng), y = unit(rng);
    inside += (x * x + y * y <= 1.0) ? 1 : 0;
  }
  return 4.0 * static_cast<double>(inside) / static_cast<double>(samples);
}
WEFT_REMOTE(partial_pi);

weft::Task<int> driver(weft::Runtime&) {
  constexpr int tasks = 64;
  constexpr std::uint64_t samples = 200'000;
  std::vector<weft::ObjectRef<double>> parts;
  for (int i = 0; i < tasks; ++i) parts.push_back(weft::submit<&partial_pi>(samples, i));
  double sum = 0;
  for (auto& p : parts) sum += co_await p;
  const double pi = sum / tasks;
  std::printf("pi ~= %.6f from %d tasks x %llu samples (error %.2e)\n", pi, tasks,
              static_cast<unsigned long long>(samples), std::abs(pi - M_PI));
  co_return std::abs(pi - M_PI) < 0.01 ? 0 : 1;
}

int main(int argc, char** argv) { return weft::run(argc, argv, driver); }
