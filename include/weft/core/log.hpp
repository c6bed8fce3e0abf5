// weft's log: one line per event on stderr, filtered by a process-wide level.
//
//   weft::log(weft::LogLevel::warn, "node {:x} missed its heartbeats", id);
//   weft::set_log_level(weft::LogLevel::debug);     // or --log-level debug, or
//                                                  // WEFT_LOG_LEVEL=debug in the environment
//
// Lines read "weft: <text>" at info and "weft: <level>: <text>" otherwise.
// Each is one write, so lines from threads (and from the node processes of a
// local cluster, which share the terminal) never interleave mid-line. The
// level is read with one relaxed load, and a line above it is not formatted.
// Never log secrets: the cluster token has no place in any line.
#pragma once

#include <atomic>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace weft {

enum class LogLevel : int { error, warn, info, debug };

// Any thread.
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
// "error", "warn", "info", "debug"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name) noexcept;
std::string_view log_level_name(LogLevel level) noexcept;

namespace detail {
void write_log(LogLevel level, std::string_view text) noexcept;
}  // namespace detail

template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (level > log_level()) return;
  detail::write_log(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace weft
