// Actors: spawn and call, per-handle order, concurrency limits, names, kill,
// failures, dedicated threads and lifetime. Every test runs on a real Node;
// Catch2 assertions stay on the test's own thread (Catch2 2.x is not
// thread-safe), so drivers return what they saw and the test checks it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "remote/failures.hpp"
#include "weft/weft.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;

namespace {

using remote_test::caught_as;
using remote_test::failure_of;

weft::NodeOptions small_node(unsigned threads = 2) {
  return {.threads = threads, .store = {.capacity = 16 << 20}};
}

template <typename A>
weft::Task<std::exception_ptr> failure_of_awaitable(A awaitable) {
  std::exception_ptr error;
  try {
    co_await std::move(awaitable);
  } catch (...) {
    error = std::current_exception();
  }
  co_return error;
}

// GCC 12 miscompiles an aggregate temporary with non-trivial members (a
// braced ActorOptions{...}, as in `co_await spawn<T>().options({.name = "n"})`)
// inside a co_await expression: it frees a bitwise copy. Options are built
// in named variables first.

// Spins (yielding) until `done()` or a generous deadline; returns done().
template <typename F>
bool eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  return done();
}

// Runs a job on `executor` and waits for it: every job posted there before
// has run by the time this returns (the executor is FIFO).
void drain_through(weft::Executor& executor) {
  std::promise<void> reached;
  auto done = reached.get_future();
  executor.post(weft::Job{
      [](void* p) noexcept { static_cast<std::promise<void>*>(p)->set_value(); }, &reached});
  done.wait();
}

}  // namespace

// ---- actor classes -----------------------------------------------------------

class ActorsCounter {
 public:
  explicit ActorsCounter(int start) : n_(start) {}
  int add(int by) { return n_ += by; }
  int get() const { return n_; }
  int fail(int code) { throw std::invalid_argument("bad code " + std::to_string(code)); }

 private:
  int n_;
};
WEFT_ACTOR(ActorsCounter, &ActorsCounter::add, &ActorsCounter::get, &ActorsCounter::fail);

class ActorsGreeter {
 public:
  ActorsGreeter(std::string greeting, int times) : greeting_(std::move(greeting)), times_(times) {}
  std::string greet(std::string who) {
    std::string out;
    for (int i = 0; i < times_; ++i) out += greeting_ + " " + who + ";";
    return out;
  }

 private:
  std::string greeting_;
  int times_;
};
WEFT_ACTOR(ActorsGreeter, &ActorsGreeter::greet);

// Records (sender, sequence) pairs in arrival order.
class ActorsSeqLog {
 public:
  void record(int sender, int seq) { log_.emplace_back(sender, seq); }
  std::vector<std::pair<int, int>> log() const { return log_; }

 private:
  std::vector<std::pair<int, int>> log_;
};
WEFT_ACTOR(ActorsSeqLog, &ActorsSeqLog::record, &ActorsSeqLog::log);

// Coroutine method that notes how many calls are inside it at once. Actor
// state is touched only on the actor's executor, so plain ints suffice (and
// ThreadSanitizer checks that claim).
class ActorsOverlap {
 public:
  weft::Task<int> probe() {
    ++inside_;
    max_inside_ = std::max(max_inside_, inside_);
    co_await weft::sleep_for(2ms);
    --inside_;
    co_return max_inside_;
  }
  int max_inside() const { return max_inside_; }

 private:
  int inside_ = 0;
  int max_inside_ = 0;
};
WEFT_ACTOR(ActorsOverlap, &ActorsOverlap::probe, &ActorsOverlap::max_inside);

std::atomic<int> actors_gated_runs{0};
class ActorsGated {
 public:
  int take(int v) {
    actors_gated_runs.fetch_add(1);
    log_.push_back(v);
    return v;
  }
  std::vector<int> log() const { return log_; }

 private:
  std::vector<int> log_;
};
WEFT_ACTOR(ActorsGated, &ActorsGated::take, &ActorsGated::log);

class ActorsThrowingCtor {
 public:
  explicit ActorsThrowingCtor(int code) : code_(code) {
    throw std::runtime_error("constructor refused " + std::to_string(code));
  }
  int code() const { return code_; }

 private:
  int code_;
};
WEFT_ACTOR(ActorsThrowingCtor, &ActorsThrowingCtor::code);

// Threads the dedicated-thread actor ran on, by phase.
std::mutex actors_pinned_mutex;
std::optional<std::thread::id> actors_pinned_ctor_thread;
std::set<std::thread::id> actors_pinned_method_threads;
std::optional<std::thread::id> actors_pinned_dtor_thread;
class ActorsPinned {
 public:
  ActorsPinned() {
    std::lock_guard lock(actors_pinned_mutex);
    actors_pinned_ctor_thread = std::this_thread::get_id();
  }
  ~ActorsPinned() {
    std::lock_guard lock(actors_pinned_mutex);
    actors_pinned_dtor_thread = std::this_thread::get_id();
  }
  ActorsPinned(const ActorsPinned&) = delete;
  ActorsPinned& operator=(const ActorsPinned&) = delete;
  int touch(int i) {
    std::lock_guard lock(actors_pinned_mutex);
    actors_pinned_method_threads.insert(std::this_thread::get_id());
    return i;
  }
  weft::Task<int> touch_later(int i) {
    co_await weft::sleep_for(1ms);
    co_return touch(i);
  }
};
WEFT_ACTOR(ActorsPinned, &ActorsPinned::touch, &ActorsPinned::touch_later);

std::atomic<int> actors_lifetime_constructed{0};
std::atomic<int> actors_lifetime_destroyed{0};
class ActorsLifetime {
 public:
  ActorsLifetime() { actors_lifetime_constructed.fetch_add(1); }
  ~ActorsLifetime() { actors_lifetime_destroyed.fetch_add(1); }
  ActorsLifetime(const ActorsLifetime&) = delete;
  ActorsLifetime& operator=(const ActorsLifetime&) = delete;
  int ping(int v) { return v; }
};
WEFT_ACTOR(ActorsLifetime, &ActorsLifetime::ping);

// A task that reaches a named counter through the registry of names.
weft::Task<int> actors_bump_named(std::string name, int by) {
  auto c = co_await weft::get_actor<ActorsCounter>(name);
  co_return co_await c.call<&ActorsCounter::add>(by);
}
WEFT_REMOTE(actors_bump_named);

// Sends `count` numbered calls through its own copy of a handle, from a pool thread.
weft::Task<void> actors_send_numbered(weft::ActorHandle<ActorsSeqLog> handle, int sender, int count,
                                      weft::Executor& pool) {
  co_await weft::resume_on(pool);
  weft::ObjectRef<void> last;
  for (int seq = 0; seq < count; ++seq) last = handle.call<&ActorsSeqLog::record>(sender, seq);
  co_await last;
}

// ---- tests -------------------------------------------------------------------

TEST_CASE("a spawned actor runs calls and keeps its state between them") {
  weft::Node node(small_node());
  const auto [first, second, total] =
      node.run([](weft::Runtime&) -> weft::Task<std::tuple<int, int, int>> {
        auto c = co_await weft::spawn<ActorsCounter>(10);
        const int a = co_await c.call<&ActorsCounter::add>(5);
        const int b = co_await c.call<&ActorsCounter::add>(-3);
        const int g = co_await c.call<&ActorsCounter::get>();
        co_return std::tuple{a, b, g};
      });
  CHECK(first == 15);
  CHECK(second == 12);
  CHECK(total == 12);
}

TEST_CASE("an actor is constructed from the arguments given to spawn") {
  weft::Node node(small_node());
  const std::string s = node.run([](weft::Runtime&) -> weft::Task<std::string> {
    auto g = co_await weft::spawn<ActorsGreeter>(std::string("hi"), 2);
    co_return co_await g.call<&ActorsGreeter::greet>(std::string("ann"));
  });
  CHECK(s == "hi ann;hi ann;");
}

TEST_CASE("calls sent through each handle run in the order that handle sent them") {
  weft::Node node(small_node());
  constexpr int count = 1000;
  const auto log = node.run([](weft::Runtime& rt) -> weft::Task<std::vector<std::pair<int, int>>> {
    auto first = co_await weft::spawn<ActorsSeqLog>();
    auto second = first;  // a copy, used concurrently from another pool thread
    co_await weft::when_all(actors_send_numbered(first, 1, count, rt.executor()),
                            actors_send_numbered(second, 2, count, rt.executor()));
    co_return co_await first.call<&ActorsSeqLog::log>();
  });
  REQUIRE(log.size() == 2 * count);
  std::map<int, int> next{{1, 0}, {2, 0}};
  int out_of_order = 0;
  for (const auto& [sender, seq] : log) {
    if (seq != next[sender]) ++out_of_order;
    next[sender] = seq + 1;
  }
  CHECK(out_of_order == 0);
  CHECK(next[1] == count);
  CHECK(next[2] == count);
}

TEST_CASE("coroutine methods never interleave when max_concurrency is 1") {
  weft::Node node(small_node());
  const int max_inside = node.run([](weft::Runtime&) -> weft::Task<int> {
    auto a = co_await weft::spawn<ActorsOverlap>();
    std::vector<weft::ObjectRef<int>> calls;
    for (int i = 0; i < 6; ++i) calls.push_back(a.call<&ActorsOverlap::probe>());
    for (auto& c : calls) co_await c;
    co_return co_await a.call<&ActorsOverlap::max_inside>();
  });
  CHECK(max_inside == 1);
}

TEST_CASE("coroutine methods overlap at co_await when max_concurrency is 4") {
  weft::Node node(small_node());
  const int max_inside = node.run([](weft::Runtime&) -> weft::Task<int> {
    const weft::ActorOptions options{.max_concurrency = 4};
    auto a = co_await weft::spawn<ActorsOverlap>().options(options);
    std::vector<weft::ObjectRef<int>> calls;
    for (int i = 0; i < 8; ++i) calls.push_back(a.call<&ActorsOverlap::probe>());
    for (auto& c : calls) co_await c;
    co_return co_await a.call<&ActorsOverlap::max_inside>();
  });
  CHECK(max_inside > 1);
  CHECK(max_inside <= 4);
}

TEST_CASE("a call waits for its unsealed ref argument and later calls stay behind it") {
  actors_gated_runs = 0;
  weft::Node node(small_node());
  weft::Node::ThreadScope scope(node);
  auto actor = weft::sync_wait(weft::spawn<ActorsGated>());
  auto pending = weft::detail::make_pending_object(node.store());
  weft::ObjectRef<int> gate(pending);
  auto first = actor.call<&ActorsGated::take>(gate);
  auto second = actor.call<&ActorsGated::take>(2);
  auto third = actor.call<&ActorsGated::take>(3);
  // Every call has reached the actor once a job posted after them has run.
  drain_through(actor.record()->executor());
  CHECK(actors_gated_runs == 0);
  CHECK_FALSE(first.is_ready());
  CHECK_FALSE(second.is_ready());
  CHECK_FALSE(third.is_ready());
  weft::detail::seal_with_value(*pending.get(), 1);
  CHECK(weft::get(third, 5s) == 3);
  CHECK(weft::get(first, 5s) == 1);
  CHECK(weft::get(actor.call<&ActorsGated::log>(), 5s) == std::vector<int>{1, 2, 3});
}

TEST_CASE("many calls queued behind an unsealed ref all run once it is sealed") {
  actors_gated_runs = 0;
  weft::Node node(small_node());
  weft::Node::ThreadScope scope(node);
  auto actor = weft::sync_wait(weft::spawn<ActorsGated>());
  auto pending = weft::detail::make_pending_object(node.store());
  auto first = actor.call<&ActorsGated::take>(weft::ObjectRef<int>(pending));
  constexpr int queued = 5000;
  weft::ObjectRef<int> last;
  for (int i = 1; i <= queued; ++i) last = actor.call<&ActorsGated::take>(i);
  drain_through(actor.record()->executor());
  CHECK(actors_gated_runs == 0);
  weft::detail::seal_with_value(*pending.get(), 0);
  CHECK(weft::get(last, 5s) == queued);
  CHECK(actors_gated_runs == queued + 1);
}

TEST_CASE("a call waiting for its refs holds back only its own caller's later calls") {
  actors_gated_runs = 0;
  weft::Node node(small_node());
  weft::Node::ThreadScope scope(node);
  const weft::ActorOptions options{.name = "actors-callers"};
  auto waiting = weft::sync_wait(weft::spawn<ActorsGated>().options(options));
  auto other = weft::sync_wait(weft::get_actor<ActorsGated>("actors-callers"));
  auto pending = weft::detail::make_pending_object(node.store());
  auto first = waiting.call<&ActorsGated::take>(weft::ObjectRef<int>(pending));
  auto second = waiting.call<&ActorsGated::take>(2);
  // Another caller's calls run while the first caller's wait.
  CHECK(weft::get(other.call<&ActorsGated::take>(10), 5s) == 10);
  CHECK(weft::get(other.call<&ActorsGated::take>(11), 5s) == 11);
  CHECK_FALSE(first.is_ready());
  CHECK_FALSE(second.is_ready());
  weft::detail::seal_with_value(*pending.get(), 1);
  CHECK(weft::get(second, 5s) == 2);
  CHECK(weft::get(other.call<&ActorsGated::log>(), 5s) == std::vector<int>{10, 11, 1, 2});
  weft::kill(waiting);
}

TEST_CASE("a copy of a handle is the same caller, so its calls stay behind a waiting call") {
  weft::Node node(small_node());
  weft::Node::ThreadScope scope(node);
  auto actor = weft::sync_wait(weft::spawn<ActorsGated>());
  const auto copy = actor;
  auto pending = weft::detail::make_pending_object(node.store());
  auto first = actor.call<&ActorsGated::take>(weft::ObjectRef<int>(pending));
  auto behind = copy.call<&ActorsGated::take>(2);
  drain_through(actor.record()->executor());
  CHECK_FALSE(behind.is_ready());
  weft::detail::seal_with_value(*pending.get(), 1);
  CHECK(weft::get(behind, 5s) == 2);
  CHECK(weft::get(actor.call<&ActorsGated::log>(), 5s) == std::vector<int>{1, 2});
}

TEST_CASE("killing an actor fails at once the calls waiting for refs and those behind them") {
  actors_gated_runs = 0;
  weft::Node node(small_node());
  weft::Node::ThreadScope scope(node);
  auto pending = weft::detail::make_pending_object(node.store());
  {
    auto actor = weft::sync_wait(weft::spawn<ActorsGated>());
    auto first = actor.call<&ActorsGated::take>(weft::ObjectRef<int>(pending));
    auto second = actor.call<&ActorsGated::take>(2);
    drain_through(actor.record()->executor());
    weft::kill(actor);
    CHECK_THROWS_AS(weft::get(first, 5s), weft::ActorDiedError);
    CHECK_THROWS_AS(weft::get(second, 5s), weft::ActorDiedError);
    CHECK(node.live_actors() == 1);  // the waiting call still holds it
  }
  // Once the ref seals, the failed call is let go, and the actor with it.
  weft::detail::seal_with_value(*pending.get(), 1);
  CHECK(eventually([&] { return node.live_actors() == 0; }));
  CHECK(actors_gated_runs == 0);
}

TEST_CASE("a named actor found with get_actor from another task is the same instance") {
  weft::Node node(small_node());
  const auto [from_tasks, seen_here] =
      node.run([](weft::Runtime&) -> weft::Task<std::pair<int, int>> {
        const weft::ActorOptions options{.name = "actors-shared"};
        auto c = co_await weft::spawn<ActorsCounter>(0).options(options);
        std::vector<weft::ObjectRef<int>> bumps;
        for (int i = 0; i < 10; ++i) {
          bumps.push_back(weft::submit<&actors_bump_named>(std::string("actors-shared"), 100));
        }
        for (auto& b : bumps) co_await b;
        auto same = co_await weft::get_actor<ActorsCounter>("actors-shared");
        const int through_lookup = co_await same.call<&ActorsCounter::get>();
        const int through_original = co_await c.call<&ActorsCounter::get>();
        weft::kill(c);
        co_return std::pair{through_lookup, through_original};
      });
  CHECK(from_tasks == 1000);
  CHECK(seen_here == 1000);
}

TEST_CASE("get_actor with the wrong class throws TypeMismatchError") {
  weft::Node node(small_node());
  const auto error = node.run([](weft::Runtime&) -> weft::Task<std::exception_ptr> {
    const weft::ActorOptions options{.name = "actors-typed"};
    auto c = co_await weft::spawn<ActorsCounter>(0).options(options);
    auto e = co_await failure_of_awaitable(weft::get_actor<ActorsGreeter>("actors-typed"));
    weft::kill(c);
    co_return e;
  });
  auto e = caught_as<weft::TypeMismatchError>(error);
  REQUIRE(e);
  CHECK_THAT(e->what(), Catch::Contains("ActorsCounter") && Catch::Contains("ActorsGreeter"));
}

TEST_CASE("get_actor with an unknown name throws weft::Error") {
  weft::Node node(small_node());
  const auto error = node.run([](weft::Runtime&) -> weft::Task<std::exception_ptr> {
    co_return co_await failure_of_awaitable(weft::get_actor<ActorsCounter>("actors-nobody"));
  });
  auto e = caught_as<weft::Error>(error);
  REQUIRE(e);
  CHECK_FALSE(caught_as<weft::TypeMismatchError>(error));
  CHECK_THAT(e->what(), Catch::Contains("actors-nobody"));
}

TEST_CASE("spawning a second actor under a taken name throws weft::Error") {
  weft::Node node(small_node());
  const auto [error, original_alive] =
      node.run([](weft::Runtime&) -> weft::Task<std::pair<std::exception_ptr, int>> {
        const weft::ActorOptions options{.name = "actors-dup"};
        auto first = co_await weft::spawn<ActorsCounter>(7).options(options);
        auto e = co_await failure_of_awaitable(weft::spawn<ActorsCounter>(8).options(options));
        auto again = co_await weft::get_actor<ActorsCounter>("actors-dup");
        const int v = co_await again.call<&ActorsCounter::get>();
        weft::kill(first);
        co_return std::pair{e, v};
      });
  auto e = caught_as<weft::Error>(error);
  REQUIRE(e);
  CHECK_THAT(e->what(), Catch::Contains("actors-dup"));
  CHECK(original_alive == 7);  // the name still leads to the first actor
  CHECK(eventually([&] { return node.live_actors() == 0; }));
}

TEST_CASE("max_restarts and max_task_retries are refused with UsageError until supported") {
  weft::Node node(small_node());
  const auto [restarts, retries] =
      node.run([](weft::Runtime&) -> weft::Task<std::pair<std::exception_ptr, std::exception_ptr>> {
        const weft::ActorOptions restarting{.max_restarts = 2};
        const weft::ActorOptions retrying{.max_task_retries = 1};
        auto a = co_await failure_of_awaitable(weft::spawn<ActorsCounter>(1).options(restarting));
        auto b = co_await failure_of_awaitable(weft::spawn<ActorsCounter>(1).options(retrying));
        co_return std::pair{a, b};
      });
  for (const auto& error : {restarts, retries}) {
    auto e = caught_as<weft::UsageError>(error);
    REQUIRE(e);
    CHECK_THAT(e->what(),
               Catch::Contains("not supported yet") && Catch::Contains("ActorDiedError"));
  }
  CHECK(node.live_actors() == 0);
}

TEST_CASE("killing an actor fails its later calls and frees its name") {
  weft::Node node(small_node());
  const auto [before, error, successor] =
      node.run([](weft::Runtime&) -> weft::Task<std::tuple<int, std::exception_ptr, int>> {
        const weft::ActorOptions options{.name = "actors-victim"};
        auto c = co_await weft::spawn<ActorsCounter>(1).options(options);
        const int v = co_await c.call<&ActorsCounter::add>(1);
        weft::kill(c);
        auto e = co_await failure_of(c.call<&ActorsCounter::add>(1));
        auto next = co_await weft::spawn<ActorsCounter>(40).options(options);
        auto found = co_await weft::get_actor<ActorsCounter>("actors-victim");
        const int n = co_await found.call<&ActorsCounter::add>(2);
        weft::kill(next);
        co_return std::tuple{v, e, n};
      });
  CHECK(before == 2);
  auto died = caught_as<weft::ActorDiedError>(error);
  REQUIRE(died);
  CHECK_THAT(died->what(), Catch::Contains("actors-victim"));
  CHECK(successor == 42);
  CHECK(eventually([&] { return node.live_actors() == 0; }));
}

TEST_CASE("an exception in a method is a TaskError naming Class::method") {
  weft::Node node(small_node());
  const auto [error, still_alive] =
      node.run([](weft::Runtime&) -> weft::Task<std::pair<std::exception_ptr, int>> {
        auto c = co_await weft::spawn<ActorsCounter>(3);
        auto e = co_await failure_of(c.call<&ActorsCounter::fail>(9));
        const int v = co_await c.call<&ActorsCounter::get>();
        co_return std::pair{e, v};
      });
  auto e = caught_as<weft::TaskError>(error);
  REQUIRE(e);
  CHECK(e->task_name() == "ActorsCounter::fail");
  CHECK(e->type_name() == "std::invalid_argument");
  CHECK(std::string(e->what()) == "bad code 9");
  CHECK(still_alive == 3);  // a failing call does not kill the actor
}

TEST_CASE("a constructor that throws makes spawn throw TaskError") {
  weft::Node node(small_node());
  const auto error = node.run([](weft::Runtime&) -> weft::Task<std::exception_ptr> {
    co_return co_await failure_of_awaitable(weft::spawn<ActorsThrowingCtor>(5));
  });
  auto e = caught_as<weft::TaskError>(error);
  REQUIRE(e);
  CHECK(e->type_name() == "std::runtime_error");
  CHECK(std::string(e->what()) == "constructor refused 5");
  CHECK_THAT(e->task_name(), Catch::Contains("ActorsThrowingCtor"));
  CHECK(eventually([&] { return node.live_actors() == 0; }));
}

// Node::reap_job posts the destructor to the actor's thread and then, on a
// pool thread, deletes the record, whose own destructor destroys the
// instance too: the destructor runs on the pool thread (usually) and the two
// destroy_instance() calls race on instance_ (a double delete if both read it).
TEST_CASE("a dedicated-thread actor lives its whole life on one thread") {
  {
    std::lock_guard lock(actors_pinned_mutex);
    actors_pinned_ctor_thread.reset();
    actors_pinned_method_threads.clear();
    actors_pinned_dtor_thread.reset();
  }
  {
    weft::Node node(small_node());
    const int sum = node.run([](weft::Runtime&) -> weft::Task<int> {
      const weft::ActorOptions options{.dedicated_thread = true};
      auto p = co_await weft::spawn<ActorsPinned>().options(options);
      std::vector<weft::ObjectRef<int>> calls;
      for (int i = 0; i < 50; ++i) {
        calls.push_back(p.call<&ActorsPinned::touch>(i));
        calls.push_back(p.call<&ActorsPinned::touch_later>(i));
      }
      int total = 0;
      for (auto& c : calls) total += co_await c;
      co_return total;
    });
    CHECK(sum == 2 * (49 * 50 / 2));
  }  // the node waits for the actor to be destroyed
  std::lock_guard lock(actors_pinned_mutex);
  REQUIRE(actors_pinned_ctor_thread);
  CHECK(*actors_pinned_ctor_thread != std::this_thread::get_id());
  REQUIRE(actors_pinned_method_threads.size() == 1);
  CHECK(*actors_pinned_method_threads.begin() == *actors_pinned_ctor_thread);
  REQUIRE(actors_pinned_dtor_thread);
  CHECK(*actors_pinned_dtor_thread == *actors_pinned_ctor_thread);
}

TEST_CASE("an actor is destroyed exactly once after its last handle is dropped") {
  actors_lifetime_constructed = 0;
  actors_lifetime_destroyed = 0;
  {
    weft::Node node(small_node());
    const int destroyed_while_held = node.run([](weft::Runtime&) -> weft::Task<int> {
      auto a = co_await weft::spawn<ActorsLifetime>();
      std::vector<weft::ActorHandle<ActorsLifetime>> copies(5, a);
      for (auto& h : copies) co_await h.call<&ActorsLifetime::ping>(1);
      co_return actors_lifetime_destroyed.load();
    });
    CHECK(destroyed_while_held == 0);
    CHECK(eventually([&] { return node.live_actors() == 0; }));
    CHECK(actors_lifetime_destroyed == 1);
  }
  CHECK(actors_lifetime_constructed == 1);
  CHECK(actors_lifetime_destroyed == 1);
}

TEST_CASE("an actor's cpu is held for its life and returned when it is killed") {
  weft::Node node(small_node());
  const auto [error, cpu_while_alive] =
      node.run([&node](weft::Runtime&) -> weft::Task<std::pair<std::exception_ptr, double>> {
        const weft::ActorOptions two_cpus{.resources = {.cpu = 2}};
        const weft::ActorOptions one_cpu{.resources = {.cpu = 1}};
        auto big = co_await weft::spawn<ActorsCounter>(0).options(two_cpus);
        const double free_cpu = node.scheduler().resources().at("cpu").first;
        auto e = co_await failure_of_awaitable(weft::spawn<ActorsCounter>(0).options(one_cpu));
        weft::kill(big);
        co_return std::pair{e, free_cpu};
      });
  CHECK(cpu_while_alive == 0.0);
  CHECK(caught_as<weft::InfeasibleError>(error));
  CHECK(eventually([&] { return node.live_actors() == 0; }));
  CHECK(node.scheduler().resources().at("cpu").first == 2.0);
}
