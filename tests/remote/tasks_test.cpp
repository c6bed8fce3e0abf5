// Tasks: submit, ObjectRef arguments as dependencies, failures, retries,
// resources, and what a workload leaves behind. Every test runs on a real
// Node; Catch2 assertions stay on the test's own thread (Catch2 2.x is not
// thread-safe), so drivers return what they saw and the test checks it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "remote/failures.hpp"
#include "weft/weft.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;

namespace {

using remote_test::caught_as;
using remote_test::failure_of;

weft::NodeOptions small_node(unsigned threads = 2) {
  return {.threads = threads, .store = {.capacity = 64 << 20}};
}

// GCC 12 miscompiles an aggregate temporary with non-trivial members (a
// braced TaskOptions{...}) inside a co_await expression (it frees a bitwise
// copy), so options are built in named variables before they are used.

// Spins (yielding) until `done()` or a generous deadline; returns done().
template <typename F>
bool eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  return done();
}

// ---- functions submitted by the tests -------------------------------------

int tasks_square(int x) { return x * x; }

weft::Task<std::string> tasks_greet(std::string who) {
  const int n = co_await weft::submit<&tasks_square>(3);
  co_return "hello " + who + " " + std::to_string(n);
}

std::atomic<int> tasks_touched{0};
void tasks_touch(int by) { tasks_touched.fetch_add(by); }

// Execution order of the diamond's tasks, recorded as each body starts.
std::mutex tasks_order_mutex;
std::vector<std::string> tasks_order;
void tasks_record(const char* name) {
  std::lock_guard lock(tasks_order_mutex);
  tasks_order.emplace_back(name);
}
int tasks_dag_a() {
  tasks_record("a");
  return 2;
}
int tasks_dag_b(int a) {
  tasks_record("b");
  return a * 3;
}
weft::Task<int> tasks_dag_c(int a) {
  tasks_record("c");
  co_await weft::sleep_for(1ms);  // c finishes after b most of the time
  co_return a + 10;
}
int tasks_dag_d(int b, int c) {
  tasks_record("d");
  return b * c;
}

std::atomic<bool> tasks_ref_task_started{false};
weft::Task<int> tasks_await_inside(weft::ObjectRef<int> r) {
  tasks_ref_task_started.store(true);
  const int v = co_await r;
  co_return v + 1;
}

weft::Task<int> tasks_fib(int n) {
  if (n < 2) co_return n;
  auto a = weft::submit<&tasks_fib>(n - 1);
  auto b = weft::submit<&tasks_fib>(n - 2);
  const int x = co_await a;
  const int y = co_await b;
  co_return x + y;
}

int tasks_out_of_range(int i) {
  throw std::out_of_range("index " + std::to_string(i) + " is out of range");
}

std::atomic<int> tasks_dependent_runs{0};
int tasks_dependent(int x) {
  tasks_dependent_runs.fetch_add(1);
  return x + 1;
}

std::atomic<int> tasks_attempts{0};
int tasks_flaky_retryable(int succeed_on) {
  const int attempt = tasks_attempts.fetch_add(1) + 1;
  if (attempt < succeed_on) throw weft::RetryableError("try again");
  return attempt;
}
int tasks_flaky_plain(int succeed_on) {
  const int attempt = tasks_attempts.fetch_add(1) + 1;
  if (attempt < succeed_on) throw std::runtime_error("plain failure");
  return attempt;
}

std::atomic<int> tasks_inside{0};
std::atomic<int> tasks_max_inside{0};
std::atomic<int> tasks_probe_runs{0};
void tasks_note_entry() {
  const int now = tasks_inside.fetch_add(1) + 1;
  int seen = tasks_max_inside.load();
  while (now > seen && !tasks_max_inside.compare_exchange_weak(seen, now)) {
  }
  tasks_probe_runs.fetch_add(1);
}
void tasks_reset_probe() {
  tasks_inside = 0;
  tasks_max_inside = 0;
  tasks_probe_runs = 0;
}
weft::Task<void> tasks_slot_probe() {
  tasks_note_entry();
  co_await weft::sleep_for(2ms);
  tasks_inside.fetch_sub(1);
}
int tasks_plain_value(int x) { return x; }
int tasks_triple(int x) { return 3 * x; }
// Holds the slot across a wait on another task's result.
weft::Task<void> tasks_slot_probe_awaiting() {
  tasks_note_entry();
  (void)co_await weft::submit<&tasks_plain_value>(1);
  co_await weft::sleep_for(1ms);
  tasks_inside.fetch_sub(1);
}

// fib again, but each task suspends once (a timer) before it submits and
// awaits its children.
weft::Task<int> tasks_fib_after_sleep(int n) {
  co_await weft::sleep_for(50us);
  if (n < 2) co_return n;
  auto a = weft::submit<&tasks_fib_after_sleep>(n - 1);
  auto b = weft::submit<&tasks_fib_after_sleep>(n - 2);
  const int x = co_await a;
  const int y = co_await b;
  co_return x + y;
}

std::vector<std::uint8_t> tasks_make_big(int seed) {
  std::vector<std::uint8_t> v(80 * 1024);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint8_t>(i + seed);
  return v;
}
std::uint64_t tasks_big_sum(const std::vector<std::uint8_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::uint64_t{0});
}

}  // namespace

WEFT_REMOTE(tasks_square);
WEFT_REMOTE(tasks_greet);
WEFT_REMOTE(tasks_touch);
WEFT_REMOTE(tasks_dag_a);
WEFT_REMOTE(tasks_dag_b);
WEFT_REMOTE(tasks_dag_c);
WEFT_REMOTE(tasks_dag_d);
WEFT_REMOTE(tasks_await_inside);
WEFT_REMOTE(tasks_fib);
WEFT_REMOTE(tasks_out_of_range);
WEFT_REMOTE(tasks_dependent);
WEFT_REMOTE(tasks_flaky_retryable);
WEFT_REMOTE(tasks_flaky_plain);
WEFT_REMOTE(tasks_slot_probe);
WEFT_REMOTE(tasks_plain_value);
WEFT_REMOTE(tasks_triple);
WEFT_REMOTE(tasks_slot_probe_awaiting);
WEFT_REMOTE(tasks_fib_after_sleep);
WEFT_REMOTE(tasks_make_big);
WEFT_REMOTE(tasks_big_sum);

TEST_CASE("specs made one after another with equal options share one copy of them") {
  weft::TaskOptions retrying{.max_retries = 5};
  retrying.resources.custom.set("disk", 2);
  weft::detail::TaskSpec first, second, other;
  first.set_options(retrying);
  second.set_options(retrying);
  CHECK(first.options == second.options);
  CHECK(first.opts() == retrying);

  weft::TaskOptions pinned = retrying;
  pinned.strategy = weft::NodeAffinity{.node = 7};
  other.set_options(pinned);
  CHECK(other.options != first.options);
  CHECK(std::get<weft::NodeAffinity>(other.opts().strategy).node == 7);
  CHECK(first.opts().resources.custom.find("disk") != nullptr);  // still its own
}

TEST_CASE("a submitted plain function resolves to its return value") {
  weft::Node node(small_node());
  const int v = node.run(
      [](weft::Runtime&) -> weft::Task<int> { co_return co_await weft::submit<&tasks_square>(7); });
  CHECK(v == 49);
}

TEST_CASE("a submitted coroutine function resolves to its co_returned value") {
  weft::Node node(small_node());
  const std::string s = node.run([](weft::Runtime&) -> weft::Task<std::string> {
    co_return co_await weft::submit<&tasks_greet>(std::string("weft"));
  });
  CHECK(s == "hello weft 9");
}

TEST_CASE("a task returning void gives an ObjectRef<void> that can be awaited") {
  tasks_touched = 0;
  weft::Node node(small_node());
  const int seen = node.run([](weft::Runtime&) -> weft::Task<int> {
    weft::ObjectRef<void> done = weft::submit<&tasks_touch>(5);
    static_assert(std::is_same_v<decltype(done), weft::ObjectRef<void>>);
    co_await done;
    co_return tasks_touched.load();
  });
  CHECK(seen == 5);
}

TEST_CASE("ObjectRef arguments make each task of a diamond run after its inputs") {
  weft::Node node(small_node());
  for (int round = 0; round < 20; ++round) {
    {
      std::lock_guard lock(tasks_order_mutex);
      tasks_order.clear();
    }
    const int d = node.run([](weft::Runtime&) -> weft::Task<int> {
      auto a = weft::submit<&tasks_dag_a>();
      auto b = weft::submit<&tasks_dag_b>(a);
      auto c = weft::submit<&tasks_dag_c>(a);
      co_return co_await weft::submit<&tasks_dag_d>(b, c);
    });
    CHECK(d == (2 * 3) * (2 + 10));
    std::vector<std::string> order;
    {
      std::lock_guard lock(tasks_order_mutex);
      order = tasks_order;
    }
    REQUIRE(order.size() == 4);
    auto pos = [&](const char* n) {
      return std::find(order.begin(), order.end(), n) - order.begin();
    };
    CHECK(pos("a") < pos("b"));
    CHECK(pos("a") < pos("c"));
    CHECK(pos("b") < pos("d"));
    CHECK(pos("c") < pos("d"));
  }
}

TEST_CASE("a parameter of type ObjectRef<T> receives the ref before it is sealed") {
  tasks_ref_task_started = false;
  weft::Node node(small_node());
  weft::Node::ThreadScope scope(node);
  auto pending = weft::detail::make_pending_object(node.store());
  weft::ObjectRef<int> in(pending);
  auto out = weft::submit<&tasks_await_inside>(in);
  // The task starts although its argument is still pending...
  REQUIRE(eventually([] { return tasks_ref_task_started.load(); }));
  CHECK_FALSE(in.is_ready());
  CHECK_FALSE(out.is_ready());
  // ...and finishes once the ref is sealed.
  weft::detail::seal_with_value(*pending.get(), 41);
  CHECK(weft::get(out, 5s) == 42);
}

TEST_CASE("tasks that submit and await tasks compute fib(15) without deadlock") {
  // Each task holds one of two cpus; a task blocked on a child lends its cpu.
  weft::Node node(small_node());
  const int f = node.run(
      [](weft::Runtime&) -> weft::Task<int> { co_return co_await weft::submit<&tasks_fib>(15); });
  CHECK(f == 610);
  node.scheduler().wait_until_idle();
  CHECK(node.scheduler().resources().at("cpu").first == 2.0);
}

// The scheduler learns that a task blocks through a thread-local that only
// the first slice of its body (up to its first suspension) sees; after a
// timer the task waits on its children holding its cpu, and two such tasks
// starve the node.
TEST_CASE("a task that suspended before awaiting its children still lends its cpu") {
  weft::Node node(small_node());
  weft::Node::ThreadScope scope(node);
  auto r = weft::submit<&tasks_fib_after_sleep>(8);
  bool in_time = true;
  try {
    (void)weft::get(r, 1s);
  } catch (const weft::TimeoutError&) {
    in_time = false;
    // Unstick the node so that it can shut down: room for every task of fib(8).
    node.scheduler().unreserve(weft::Resources{.cpu = 1000});
  }
  CHECK(in_time);
  CHECK(weft::get(r, 5s) == 21);
}

TEST_CASE("an exception thrown in a task is rethrown at co_await as TaskError") {
  weft::Node node(small_node());
  const auto error = node.run([](weft::Runtime&) -> weft::Task<std::exception_ptr> {
    co_return co_await failure_of(weft::submit<&tasks_out_of_range>(7));
  });
  auto e = caught_as<weft::TaskError>(error);
  REQUIRE(e);
  CHECK(e->type_name() == "std::out_of_range");
  CHECK(std::string(e->what()) == "index 7 is out of range");
  CHECK(e->task_name() == "tasks_out_of_range");
}

TEST_CASE("a failed dependency fails the dependent task without running it") {
  tasks_dependent_runs = 0;
  weft::Node node(small_node());
  const auto error = node.run([](weft::Runtime&) -> weft::Task<std::exception_ptr> {
    auto bad = weft::submit<&tasks_out_of_range>(3);
    auto dependent = weft::submit<&tasks_dependent>(bad);
    co_return co_await failure_of(dependent);
  });
  auto e = caught_as<weft::TaskError>(error);
  REQUIRE(e);
  CHECK(e->type_name() == "std::out_of_range");
  CHECK(std::string(e->what()) == "index 3 is out of range");
  CHECK(e->task_name() == "tasks_out_of_range");
  CHECK(tasks_dependent_runs == 0);
}

TEST_CASE("a RetryableError is retried until an attempt succeeds") {
  tasks_attempts = 0;
  weft::Node node(small_node());
  const int attempt = node.run([](weft::Runtime&) -> weft::Task<int> {
    co_return co_await weft::submit<&tasks_flaky_retryable>(3);
  });
  CHECK(attempt == 3);
  CHECK(tasks_attempts == 3);
}

TEST_CASE("a RetryableError fails the task once max_retries retries are spent") {
  tasks_attempts = 0;
  weft::Node node(small_node());
  const auto error = node.run([](weft::Runtime&) -> weft::Task<std::exception_ptr> {
    const weft::TaskOptions options{.max_retries = 2};
    auto r = weft::submit<&tasks_flaky_retryable>(options, 100);
    co_return co_await failure_of(r);
  });
  auto e = caught_as<weft::TaskError>(error);
  REQUIRE(e);
  CHECK(e->type_name() == "weft::RetryableError");
  CHECK(tasks_attempts == 3);  // the first attempt and two retries
}

TEST_CASE("an exception not derived from RetryableError is not retried") {
  tasks_attempts = 0;
  weft::Node node(small_node());
  const auto error = node.run([](weft::Runtime&) -> weft::Task<std::exception_ptr> {
    co_return co_await failure_of(weft::submit<&tasks_flaky_plain>(3));
  });
  auto e = caught_as<weft::TaskError>(error);
  REQUIRE(e);
  CHECK(e->type_name() == "std::runtime_error");
  CHECK(tasks_attempts == 1);
}

TEST_CASE("retry_exceptions retries any exception") {
  tasks_attempts = 0;
  weft::Node node(small_node());
  const int attempt = node.run([](weft::Runtime&) -> weft::Task<int> {
    const weft::TaskOptions options{.retry_exceptions = true};
    co_return co_await weft::submit<&tasks_flaky_plain>(options, 3);
  });
  CHECK(attempt == 3);
  CHECK(tasks_attempts == 3);
}

TEST_CASE("TaskOptions.name renames the task in its TaskError") {
  weft::Node node(small_node());
  const auto error = node.run([](weft::Runtime&) -> weft::Task<std::exception_ptr> {
    const weft::TaskOptions options{.name = "lookup-7"};
    auto r = weft::submit<&tasks_out_of_range>(options, 7);
    co_return co_await failure_of(r);
  });
  auto e = caught_as<weft::TaskError>(error);
  REQUIRE(e);
  CHECK(e->task_name() == "lookup-7");
  CHECK(e->type_name() == "std::out_of_range");
}

TEST_CASE("a custom resource of capacity 1 lets one task hold it at a time") {
  tasks_reset_probe();
  weft::Node node({.threads = 2,
                   .resources = weft::Resources{.cpu = 2, .custom = {{"slot", 1}}},
                   .store = {.capacity = 16 << 20}});
  node.run([](weft::Runtime&) -> weft::Task<void> {
    const weft::TaskOptions one_slot{.resources = {.cpu = 0.5, .custom = {{"slot", 1}}}};
    std::vector<weft::ObjectRef<void>> refs;
    for (int i = 0; i < 8; ++i) refs.push_back(weft::submit<&tasks_slot_probe>(one_slot));
    for (auto& r : refs) co_await r;
  });
  CHECK(tasks_probe_runs == 8);
  CHECK(tasks_max_inside == 1);
  node.scheduler().wait_until_idle();
  CHECK(node.scheduler().resources().at("slot").first == 1.0);
}

// Ray lends only a blocked task's cpu; lending every resource lets a second
// task into a capacity-1 resource (a GPU, a licence) while the first still
// uses it.
TEST_CASE("a task blocked on an ObjectRef keeps its custom resource") {
  tasks_reset_probe();
  weft::Node node({.threads = 2,
                   .resources = weft::Resources{.cpu = 2, .custom = {{"slot", 1}}},
                   .store = {.capacity = 16 << 20}});
  node.run([](weft::Runtime&) -> weft::Task<void> {
    const weft::TaskOptions one_slot{.resources = {.cpu = 0.5, .custom = {{"slot", 1}}}};
    std::vector<weft::ObjectRef<void>> refs;
    for (int i = 0; i < 4; ++i) refs.push_back(weft::submit<&tasks_slot_probe_awaiting>(one_slot));
    for (auto& r : refs) co_await r;
  });
  CHECK(tasks_probe_runs == 4);
  CHECK(tasks_max_inside == 1);
}

TEST_CASE("a resource request beyond the node's total fails with InfeasibleError naming it") {
  weft::Node node({.threads = 2,
                   .resources = weft::Resources{.cpu = 2, .custom = {{"slot", 1}}},
                   .store = {.capacity = 16 << 20}});
  const auto [slot_error, cpu_error] =
      node.run([](weft::Runtime&) -> weft::Task<std::pair<std::exception_ptr, std::exception_ptr>> {
        const weft::TaskOptions two_slots{.resources = {.custom = {{"slot", 2}}}};
        const weft::TaskOptions three_cpus{.resources = {.cpu = 3}};
        auto too_many_slots = weft::submit<&tasks_square>(two_slots, 1);
        auto too_many_cpus = weft::submit<&tasks_square>(three_cpus, 1);
        auto a = co_await failure_of(too_many_slots);
        auto b = co_await failure_of(too_many_cpus);
        co_return std::pair{a, b};
      });
  auto slot = caught_as<weft::InfeasibleError>(slot_error);
  REQUIRE(slot);
  CHECK_THAT(slot->what(), Catch::Contains("slot"));
  auto cpu = caught_as<weft::InfeasibleError>(cpu_error);
  REQUIRE(cpu);
  CHECK_THAT(cpu->what(), Catch::Contains("cpu"));
  CHECK(node.scheduler().tasks_in_flight() == 0);
}

TEST_CASE("reading a task's result as another type throws TypeMismatchError") {
  weft::Node node(small_node());
  const auto error = node.run([](weft::Runtime&) -> weft::Task<std::exception_ptr> {
    auto r = weft::submit<&tasks_square>(3);
    if (co_await r != 9) co_return nullptr;
    co_return co_await failure_of(weft::ObjectRef<std::string>(r.handle()));
  });
  REQUIRE(error);
  CHECK(caught_as<weft::TypeMismatchError>(error));
}

TEST_CASE("a plain thread bound with Node::ThreadScope can submit tasks and get results") {
  weft::Node node(small_node());
  int result = 0;
  std::exception_ptr error;
  std::thread t([&] {
    try {
      weft::Node::ThreadScope scope(node);
      auto a = weft::submit<&tasks_square>(6);
      auto b = weft::submit<&tasks_dag_b>(a);
      result = weft::get(b, 5s);
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  CHECK_FALSE(error);
  CHECK(result == 108);
}

TEST_CASE("submitting from a thread that no node owns throws UsageError") {
  CHECK_THROWS_AS(weft::submit<&tasks_square>(2), weft::UsageError);
}

TEST_CASE("arguments larger than the inline buffer arrive intact") {
  weft::Node node(small_node());
  const auto big = tasks_make_big(5);
  const auto expected = tasks_big_sum(big);
  const std::uint64_t sum = node.run([&big](weft::Runtime&) -> weft::Task<std::uint64_t> {
    co_return co_await weft::submit<&tasks_big_sum>(big);
  });
  CHECK(sum == expected);
}

TEST_CASE("a thousand tasks leave no objects or arena bytes or tasks behind") {
  weft::Node node(small_node());
  const auto expected_big = tasks_big_sum(tasks_make_big(0));
  const auto [ok, peak_arena] =
      node.run([&](weft::Runtime& rt) -> weft::Task<std::pair<bool, std::size_t>> {
        auto shared = weft::put(tasks_make_big(0));
        std::vector<weft::ObjectRef<int>> small;
        std::vector<weft::ObjectRef<std::vector<std::uint8_t>>> big;
        std::vector<weft::ObjectRef<std::uint64_t>> sums;
        for (int i = 0; i < 1000; ++i) {
          switch (i % 10) {
            case 0:
              big.push_back(weft::submit<&tasks_make_big>(i));
              break;
            case 1:
              sums.push_back(weft::submit<&tasks_big_sum>(shared));
              break;
            case 2:
              sums.push_back(weft::submit<&tasks_big_sum>(big.back()));
              break;
            default:
              small.push_back(weft::submit<&tasks_triple>(weft::submit<&tasks_square>(i)));
          }
        }
        bool all_ok = true;
        for (std::size_t k = 0; k < small.size(); ++k) {
          const int v = co_await small[k];
          all_ok = all_ok && v % 3 == 0;
        }
        for (auto& s : sums) {
          const auto v = co_await s;
          all_ok = all_ok && v > 0;
        }
        all_ok = all_ok && co_await sums.front() == expected_big;
        for (auto& b : big) {
          const auto v = co_await b;
          all_ok = all_ok && v.size() == 80 * 1024;
        }
        co_return std::pair{all_ok, rt.store().arena_bytes_used()};
      });
  CHECK(ok);
  CHECK(peak_arena >= 101 * 80 * 1024);  // the workload did use the arena
  node.scheduler().wait_until_idle();
  CHECK(node.scheduler().tasks_in_flight() == 0);
  CHECK(node.store().live_objects() == 0);
  CHECK(node.store().arena_bytes_used() == 0);
}
