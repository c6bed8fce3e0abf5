// weft::log: lines at or below the level are written whole, with their
// level named; lines above it are not written at all.
#include <string>

#include "stderr_capture.hpp"
#include "weft/core/log.hpp"
#include "weft_test.hpp"

namespace {

using weft_test::stderr_of;

// Restores the level a test changed.
struct LevelGuard {
  weft::LogLevel saved = weft::log_level();
  ~LevelGuard() { weft::set_log_level(saved); }
};

}  // namespace

TEST_CASE("log writes lines at or below the level, each whole and naming its level") {
  LevelGuard guard;
  weft::set_log_level(weft::LogLevel::warn);
  const std::string out = stderr_of([] {
    weft::log(weft::LogLevel::error, "disk {} is gone", 3);
    weft::log(weft::LogLevel::warn, "node {:x} is slow", 255);
    weft::log(weft::LogLevel::info, "not shown");
    weft::log(weft::LogLevel::debug, "not shown either");
  });
  CHECK(out == "weft: error: disk 3 is gone\nweft: warning: node ff is slow\n");
}

TEST_CASE("info lines carry no level, and debug shows everything") {
  LevelGuard guard;
  weft::set_log_level(weft::LogLevel::debug);
  const std::string out = stderr_of([] {
    weft::log(weft::LogLevel::info, "up");
    weft::log(weft::LogLevel::debug, "detail");
  });
  CHECK(out == "weft: up\nweft: debug: detail\n");
}

TEST_CASE("log levels are read and named by the names --log-level takes") {
  for (auto level :
       {weft::LogLevel::error, weft::LogLevel::warn, weft::LogLevel::info, weft::LogLevel::debug}) {
    CHECK(weft::parse_log_level(weft::log_level_name(level)) == level);
  }
  CHECK_FALSE(weft::parse_log_level("verbose"));
}
