// A second program for the cluster tests: the test binary's functions and
// actors (cluster_remotes.hpp) plus one more, so its registry differs from
// the test binary's in exactly one entry and a head must refuse it by name.
#include "cluster_remotes.hpp"

int only_in_other_build(int x) { return x + 1; }
WEFT_REMOTE(only_in_other_build);

weft::Task<int> other_build_driver(weft::Runtime&) {
  co_return co_await weft::submit<&only_in_other_build>(-1);
}

int main(int argc, char** argv) { return weft::run(argc, argv, other_build_driver); }
