#include <unistd.h>

#include <cstdlib>
#include <string>

#include "weft/core/log.hpp"

namespace weft {

namespace {
LogLevel initial_level() noexcept {
  const char* env = std::getenv("WEFT_LOG_LEVEL");
  return env == nullptr ? LogLevel::info : parse_log_level(env).value_or(LogLevel::info);
}

std::atomic<LogLevel>& level_setting() noexcept {
  static std::atomic<LogLevel> level{initial_level()};
  return level;
}
}  // namespace

void set_log_level(LogLevel level) noexcept {
  level_setting().store(level, std::memory_order_relaxed);
}

LogLevel log_level() noexcept { return level_setting().load(std::memory_order_relaxed); }

namespace {
constexpr std::string_view level_names[] = {"error", "warn", "info", "debug"};
}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) noexcept {
  for (int i = 0; i < 4; ++i) {
    if (name == level_names[i]) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

std::string_view log_level_name(LogLevel level) noexcept {
  return level_names[static_cast<int>(level)];
}

namespace detail {
void write_log(LogLevel level, std::string_view text) noexcept {
  static constexpr std::string_view prefixes[] = {
      "weft: error: ", "weft: warning: ", "weft: ", "weft: debug: "};
  try {
    std::string line(prefixes[static_cast<int>(level)]);
    line.append(text).push_back('\n');
    // One write per line; a short write to a full pipe is not retried.
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  } catch (...) {
    // Out of memory while logging: drop the line rather than the process.
  }
}
}  // namespace detail

}  // namespace weft
