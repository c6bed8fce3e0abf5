// ResourcePool: a node's resources with placement group bundles carved out.
#include <string>
#include <utility>
#include <vector>

#include "weft/node/resource_pool.hpp"
#include "weft_test.hpp"

using weft::detail::BundleKey;
using weft::detail::ResourcePool;

namespace {
constexpr BundleKey bundle{.group = 7, .index = 0};

// How much cpu the node's own work can take now, found by asking fits().
double free_outside_bundles(ResourcePool& pool) {
  double free = 0;
  while (free < 64 && pool.fits(pool.demand({.cpu = free + 0.5}))) free += 0.5;
  return free;
}
}  // namespace

TEST_CASE("a bundle's resources serve only work placed in it") {
  ResourcePool pool({.cpu = 4});
  pool.add_bundle(bundle, pool.demand({.cpu = 3}));
  CHECK(pool.holds(bundle));
  CHECK(free_outside_bundles(pool) == 1.0);
  CHECK(pool.fits(pool.demand({.cpu = 3}), bundle));
  CHECK_FALSE(pool.fits(pool.demand({.cpu = 3.5}), bundle));
  CHECK_FALSE(pool.fits(pool.demand({.cpu = 1}), BundleKey{.group = 7, .index = 1}));
  pool.acquire(pool.demand({.cpu = 2}), bundle);
  CHECK(pool.fits(pool.demand({.cpu = 1}), bundle));
  CHECK_FALSE(pool.fits(pool.demand({.cpu = 1.5}), bundle));
  CHECK(free_outside_bundles(pool) == 1.0);
}

TEST_CASE("work larger than its bundle is infeasible, work outside waits for bundles") {
  ResourcePool pool({.cpu = 4});
  pool.add_bundle(bundle, pool.demand({.cpu = 1}));
  CHECK(pool.infeasible_reason(pool.demand({.cpu = 2}), bundle) ==
        "needs 2 cpu but bundle 0 of placement group 7 has 1 in total");
  CHECK(pool.infeasible_reason(pool.demand({.cpu = 4})).empty());
  CHECK(pool.infeasible_reason(pool.demand({.cpu = 1}), BundleKey{.group = 8})
            .find("bundle 0 of placement group 8, which is not on this node") != std::string::npos);
}

TEST_CASE("removing a bundle returns its free part at once and its held part when released") {
  ResourcePool pool({.cpu = 2});
  pool.add_bundle(bundle, pool.demand({.cpu = 2}));
  const auto one = pool.demand({.cpu = 1});
  pool.acquire(one, bundle);
  CHECK(free_outside_bundles(pool) == 0.0);
  pool.remove_bundle(bundle);
  CHECK_FALSE(pool.holds(bundle));
  CHECK(free_outside_bundles(pool) == 1.0);
  pool.release(one, bundle);  // the bundle is gone: back to the node
  CHECK(free_outside_bundles(pool) == 2.0);
}

TEST_CASE("a bundle carved from resources the node's work holds is usable at once") {
  ResourcePool pool({.cpu = 2});
  const auto two = pool.demand({.cpu = 2});
  pool.acquire(two);
  pool.add_bundle(bundle, pool.demand({.cpu = 1}));
  CHECK(pool.fits(pool.demand({.cpu = 1}), bundle));
  pool.release(two);
  CHECK(free_outside_bundles(pool) == 1.0);
}

TEST_CASE("the snapshot counts bundles' reservations as available, as heartbeats report them") {
  ResourcePool pool({.cpu = 4});
  pool.add_bundle(bundle, pool.demand({.cpu = 3}));
  CHECK(pool.snapshot().at("cpu") == std::pair{4.0, 4.0});
  pool.acquire(pool.demand({.cpu = 2}), bundle);
  CHECK(pool.snapshot().at("cpu").first == 4.0);
  pool.acquire(pool.demand({.cpu = 1}));
  CHECK(pool.snapshot().at("cpu").first == 3.0);
}

TEST_CASE("bundles hold custom resources, and names first seen later are absent from them") {
  ResourcePool pool({.cpu = 1, .custom = {{"disk", 2}}});
  pool.add_bundle(bundle, pool.demand({.cpu = 0, .custom = {{"disk", 2}}}));
  CHECK(pool.fits(pool.demand({.cpu = 0, .custom = {{"disk", 2}}}), bundle));
  CHECK_FALSE(pool.fits(pool.demand({.cpu = 0, .custom = {{"disk", 1}}})));
  const auto licence = pool.demand({.cpu = 0, .custom = {{"licence", 1}}});
  CHECK_FALSE(pool.fits(licence, bundle));
  CHECK_FALSE(pool.infeasible_reason(licence, bundle).empty());
  CHECK(pool.bundles() == std::vector<BundleKey>{bundle});
}
