// The driver program of the job tests: this test binary run with
// --job-driver (main.cpp) plus weft's flags, as a user runs a driver that
// joins a cluster with --address.
//
// It tells the test it runs by putting job_driver_running_key(its pid), then
// waits, polling with a deadline, until the test puts
// job_driver_release_key(its pid), and exits with 0 (3 if never released).
#pragma once

#include <unistd.h>

#include <chrono>
#include <string>

#include <fmt/format.h>

#include "weft/weft.hpp"

namespace cluster_test {

inline std::string job_driver_running_key(int pid) { return fmt::format("job-driver/{}", pid); }
inline std::string job_driver_release_key(int pid) {
  return fmt::format("job-driver/{}/release", pid);
}

inline weft::Task<int> job_driver(weft::Runtime&) {
  const int pid = static_cast<int>(getpid());
  co_await weft::kv_put(job_driver_running_key(pid), "running");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!(co_await weft::kv_get(job_driver_release_key(pid)))) {
    if (std::chrono::steady_clock::now() >= deadline) co_return 3;
    co_await weft::sleep_for(std::chrono::milliseconds(10));
  }
  co_return 0;
}

}  // namespace cluster_test
