// What both benchmark programs share: recording a metric as a JSON line, and
// formatting figures for their tables.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace weft_bench {

struct Result {
  std::string metric;
  double value;
  std::string unit;
};

// Prints {"bench":..,"metric":..,"value":..,"unit":..} at once and keeps the result for the table.
class Results {
 public:
  explicit Results(std::string bench) : bench_(std::move(bench)) {}

  void report(std::string metric, double value, std::string unit) {
    std::printf("{\"bench\":\"%s\",\"metric\":\"%s\",\"value\":%.6g,\"unit\":\"%s\"}\n",
                bench_.c_str(), metric.c_str(), value, unit.c_str());
    std::fflush(stdout);
    all_.push_back({std::move(metric), value, std::move(unit)});
  }
  const Result* find(std::string_view metric) const {
    for (const auto& r : all_) {
      if (r.metric == metric) return &r;
    }
    return nullptr;
  }
  bool empty() const noexcept { return all_.empty(); }

 private:
  std::string bench_;
  std::vector<Result> all_;
};

// 1,234,567 for big figures, 3.142 or 12.5 for small ones.
inline std::string with_commas(double v) {
  if (v < 1000) {
    char buf[32];
    std::snprintf(buf, sizeof buf, v < 10 ? "%.3f" : "%.1f", v);
    return buf;
  }
  std::string digits = std::to_string(static_cast<long long>(v + 0.5));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace weft_bench
