// The cluster suite's main: a test binary that is also a weft worker.
//
// LocalCluster starts workers by exec'ing this binary with --worker, so it
// either serves as a node until the head stops it or runs the Catch2 tests.
#define CATCH_CONFIG_RUNNER
#include <string_view>

#include "weft/node/run.hpp"
#include "weft_test.hpp"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--worker") return weft::run(argc, argv, {});
  }
  return Catch::Session().run(argc, argv);
}
