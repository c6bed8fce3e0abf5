// JobQueue against std::deque: the same pushes and pops at both ends, through
// several growths of the ring, give the same jobs in the same order.
#include <cstdint>
#include <deque>
#include <random>

#include "weft/core/job_queue.hpp"
#include "weft_test.hpp"

namespace {

weft::Job numbered(std::uintptr_t n) { return weft::Job{nullptr, reinterpret_cast<void*>(n)}; }
std::uintptr_t number(weft::Job j) { return reinterpret_cast<std::uintptr_t>(j.arg); }

}  // namespace

TEST_CASE("a job queue used at both ends keeps the order a deque keeps") {
  weft::detail::JobQueue queue;
  std::deque<std::uintptr_t> model;
  std::mt19937 random(7);
  std::uintptr_t next = 1;
  int mismatches = 0;
  for (int step = 0; step < 20'000; ++step) {
    // Pushes outweigh pops, so the ring grows past 64 several times.
    switch (random() % 5) {
      case 0:
        queue.push_front(numbered(next));
        model.push_front(next++);
        break;
      case 1:
      case 2:
        queue.push_back(numbered(next));
        model.push_back(next++);
        break;
      case 3:
        if (!model.empty()) {
          mismatches += number(queue.pop_front()) != model.front();
          model.pop_front();
        }
        break;
      default:
        if (!model.empty()) {
          mismatches += number(queue.pop_back()) != model.back();
          model.pop_back();
        }
        break;
    }
    mismatches += queue.size() != model.size();
  }
  CHECK(mismatches == 0);
  CHECK(model.size() > 1000);
  while (!model.empty()) {
    mismatches += number(queue.pop_front()) != model.front();
    model.pop_front();
  }
  CHECK(mismatches == 0);
  CHECK(queue.empty());
}
