#include <string>
#include <thread>
#include <vector>

#include "weft/core/detached.hpp"
#include "weft/core/manual_executor.hpp"
#include "weft/core/task.hpp"
#include "weft_test.hpp"

namespace {
weft::Task<void> manual_stepper(weft::ManualExecutor& ex, std::vector<std::string>& log,
                                std::string name) {
  log.push_back(name + "1");
  co_await weft::resume_on(ex);
  log.push_back(name + "2");
  co_await weft::resume_on(ex);
  log.push_back(name + "3");
}

struct ManualRecord {
  std::vector<int>* order;
  int id;
  std::thread::id* ran_on = nullptr;
};
void manual_record(void* arg) noexcept {
  auto& r = *static_cast<ManualRecord*>(arg);
  r.order->push_back(r.id);
  if (r.ran_on != nullptr) *r.ran_on = std::this_thread::get_id();
}
}  // namespace

TEST_CASE("a manual executor runs nothing until stepped, then one job per step in post order") {
  weft::ManualExecutor ex;
  std::vector<int> order;
  ManualRecord a{&order, 1}, b{&order, 2}, c{&order, 3};
  ex.post(weft::Job{&manual_record, &a});
  ex.post(weft::Job{&manual_record, &b});
  ex.post(weft::Job{&manual_record, &c});
  CHECK(order.empty());
  CHECK(ex.pending() == 3);
  CHECK(ex.run_one());
  CHECK(order == std::vector<int>{1});
  CHECK(ex.pending() == 2);
  CHECK(ex.run_until_idle() == 2);
  CHECK(order == std::vector<int>{1, 2, 3});
  CHECK_FALSE(ex.run_one());
}

TEST_CASE("stepping two coroutines job by job gives one exact interleaving") {
  weft::ManualExecutor ex;
  std::vector<std::string> log;
  weft::spawn_detached(ex, manual_stepper(ex, log, "a"));
  weft::spawn_detached(ex, manual_stepper(ex, log, "b"));
  CHECK(log.empty());
  CHECK(ex.pending() == 2);

  const std::vector<std::string> expected{"a1", "b1", "a2", "b2", "a3", "b3"};
  const std::vector<std::size_t> pending_after{2, 2, 2, 2, 1, 0};
  for (std::size_t step = 0; step < expected.size(); ++step) {
    INFO("step " << step);
    REQUIRE(ex.run_one());
    REQUIRE(log.size() == step + 1);
    CHECK(log.back() == expected[step]);
    CHECK(ex.pending() == pending_after[step]);
  }
  CHECK_FALSE(ex.run_one());
}

TEST_CASE("jobs posted to a manual executor from another thread run on the stepping thread") {
  weft::ManualExecutor ex;
  std::vector<int> order;
  std::thread::id ran_on;
  ManualRecord r{&order, 7, &ran_on};
  std::thread poster([&] { ex.post(weft::Job{&manual_record, &r}); });
  poster.join();
  CHECK(order.empty());
  CHECK(ex.run_until_idle() == 1);
  CHECK(order == std::vector<int>{7});
  CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE("a manual executor is the current executor of the jobs it runs") {
  weft::ManualExecutor ex;
  weft::Executor* seen = nullptr;
  auto probe = [&]() -> weft::Task<void> {
    seen = weft::current_executor();
    co_return;
  };
  weft::spawn_detached(ex, probe());
  CHECK(seen == nullptr);
  ex.run_until_idle();
  CHECK(seen == &ex);
  CHECK(weft::current_executor() == nullptr);  // restored after the step
}
