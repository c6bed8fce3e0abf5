// The cluster suite's main: a test binary that is also a weft worker and a
// weft driver.
//
// LocalCluster starts workers by exec'ing this binary with --worker, so it
// serves as a node until the head stops it; with --job-driver it runs the job
// tests' driver (job_driver.hpp) with the remaining flags; otherwise it runs
// the Catch2 tests.
#define CATCH_CONFIG_RUNNER
#include <string_view>
#include <vector>

#include "job_driver.hpp"
#include "weft/node/run.hpp"
#include "weft_test.hpp"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--worker") return weft::run(argc, argv, {});
    if (arg == "--job-driver") {
      std::vector<char*> rest(argv, argv + argc);
      rest.erase(rest.begin() + i);
      return weft::run(static_cast<int>(rest.size()), rest.data(), cluster_test::job_driver);
    }
  }
  return Catch::Session().run(argc, argv);
}
