// weft::ActorPool on one node: one call per actor at a time, queued work to
// whichever actor is free, results in order or as they finish, and the rules
// for errors, timeouts, wrong types and dead actors.
#include <chrono>
#include <cstdint>
#include <exception>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "remote/failures.hpp"
#include "weft/weft.hpp"
#include "weft_test.hpp"

using namespace std::chrono_literals;

namespace {

using remote_test::caught_as;

weft::NodeOptions small_node() { return {.threads = 2, .store = {.capacity = 64 << 20}}; }

}  // namespace

// Squares, after `ms`, and counts its calls; says which worker it is.
class PoolWorker {
 public:
  explicit PoolWorker(int id) : id_(id) {}
  weft::Task<std::vector<int>> square(int n, std::int64_t ms) {
    ++running_;
    max_running_ = std::max(max_running_, running_);
    co_await weft::sleep_for(std::chrono::milliseconds(ms));
    --running_;
    ++calls_;
    co_return std::vector<int>{n * n, id_};
  }
  int fail(int n) {
    std::string message = "no square for ";
    message += std::to_string(n);
    throw std::domain_error(message);
  }
  std::string name(int n) const { return std::to_string(n); }
  // {calls served, most calls running at once}.
  std::vector<int> stats() const { return {calls_, max_running_}; }

 private:
  int id_;
  int running_ = 0, max_running_ = 0, calls_ = 0;
};
WEFT_ACTOR(PoolWorker, &PoolWorker::square, &PoolWorker::fail, &PoolWorker::name,
           &PoolWorker::stats);

namespace {

using Pool = weft::ActorPool<PoolWorker>;
using Handles = std::vector<weft::ActorHandle<PoolWorker>>;

// Several coroutine calls could interleave on each actor if the pool sent
// them: max_concurrency > 1 shows the pool itself keeps one at a time.
weft::Task<Handles> spawn_workers(int n) {
  Handles workers;
  const weft::ActorOptions interleaving{.max_concurrency = 8};
  for (int i = 0; i < n; ++i) {
    workers.push_back(co_await weft::spawn<PoolWorker>(i).options(interleaving));
  }
  co_return workers;
}

// Work that squares its value after `ms`.
auto square_after(std::int64_t ms) {
  return [ms](const weft::ActorHandle<PoolWorker>& w, int n) {
    return w.call<&PoolWorker::square>(n, ms);
  };
}

}  // namespace

TEST_CASE("map spreads work over every actor, one call each at a time, results in order") {
  weft::Node node(small_node());
  struct Seen {
    std::vector<std::vector<int>> results;
    std::vector<std::vector<int>> stats;
  };
  const Seen seen = node.run([](weft::Runtime&) -> weft::Task<Seen> {
    Handles workers = co_await spawn_workers(3);
    Pool pool(workers);
    std::vector<int> values;
    for (int i = 0; i < 12; ++i) values.push_back(i);
    Seen s;
    s.results = co_await pool.map(square_after(5), values);
    for (const auto& w : workers) s.stats.push_back(co_await w.call<&PoolWorker::stats>());
    co_return s;
  });
  REQUIRE(seen.results.size() == 12);
  for (int i = 0; i < 12; ++i) CHECK(seen.results[static_cast<std::size_t>(i)][0] == i * i);
  int served = 0;
  for (const auto& st : seen.stats) {
    CHECK(st[0] > 0);   // every actor had work
    CHECK(st[1] == 1);  // never two pool calls at once on one actor
    served += st[0];
  }
  CHECK(served == 12);
}

TEST_CASE("map_unordered returns results as they finish") {
  weft::Node node(small_node());
  const auto results = node.run([](weft::Runtime&) -> weft::Task<std::vector<std::vector<int>>> {
    Pool pool(co_await spawn_workers(2));
    // The first value is slow; the other actor serves the rest meanwhile.
    auto work = [](const weft::ActorHandle<PoolWorker>& w, int n) {
      return w.call<&PoolWorker::square>(n, n == 0 ? std::int64_t{300} : std::int64_t{0});
    };
    std::vector<int> values{0, 1, 2, 3};
    co_return co_await pool.map_unordered(work, std::move(values));
  });
  REQUIRE(results.size() == 4);
  CHECK(results.back()[0] == 0);
  std::set<int> squares;
  for (const auto& r : results) squares.insert(r[0]);
  CHECK(squares == std::set<int>{0, 1, 4, 9});
}

TEST_CASE("get_next takes the oldest result left; get_next_unordered the first finished") {
  weft::Node node(small_node());
  const auto order = node.run([](weft::Runtime&) -> weft::Task<std::vector<int>> {
    Pool pool(co_await spawn_workers(2));
    pool.submit(square_after(300), 1);  // slow
    pool.submit(square_after(0), 2);
    pool.submit(square_after(0), 3);
    std::vector<int> got;
    got.push_back((co_await pool.get_next_unordered<std::vector<int>>())[0]);  // 2 or 3
    got.push_back((co_await pool.get_next<std::vector<int>>())[0]);            // 1, the oldest
    got.push_back((co_await pool.get_next<std::vector<int>>())[0]);            // what is left
    got.push_back(pool.has_next() ? 1 : 0);
    co_return got;
  });
  REQUIRE(order.size() == 4);
  CHECK((order[0] == 4 || order[0] == 9));
  CHECK(order[1] == 1);
  CHECK(order[2] == (order[0] == 4 ? 9 : 4));
  CHECK(order[3] == 0);
}

TEST_CASE("while a get waits for a slow call, the other actors run the queued work") {
  weft::Node node(small_node());
  const auto finished_meanwhile = node.run([](weft::Runtime&) -> weft::Task<int> {
    Pool pool(co_await spawn_workers(2));
    pool.submit(square_after(300), 0);
    for (int i = 1; i <= 10; ++i) pool.submit(square_after(0), i);
    co_await pool.get_next<std::vector<int>>();
    // Ray's pool frees an actor only when its result is taken; here all ten
    // ran on the other actor while the first was awaited.
    int done = 0;
    while (pool.has_next()) {
      try {
        co_await pool.get_next<std::vector<int>>(0ms);
        ++done;
      } catch (const weft::TimeoutError&) {
        break;
      }
    }
    co_return done;
  });
  CHECK(finished_meanwhile == 10);
}

TEST_CASE("a failed call's error is thrown by the get that takes it, and the pool goes on") {
  weft::Node node(small_node());
  struct Seen {
    std::exception_ptr error;
    int after = 0;
  };
  const Seen seen = node.run([](weft::Runtime&) -> weft::Task<Seen> {
    Pool pool(co_await spawn_workers(1));
    pool.submit(
        [](const weft::ActorHandle<PoolWorker>& w, int n) { return w.call<&PoolWorker::fail>(n); },
        6);
    pool.submit(square_after(0), 7);
    Seen s;
    try {
      co_await pool.get_next<int>();
    } catch (...) {
      s.error = std::current_exception();
    }
    s.after = (co_await pool.get_next<std::vector<int>>())[0];
    co_return s;
  });
  const auto error = caught_as<weft::TaskError>(seen.error);
  REQUIRE(error);
  CHECK(error->type_name() == "std::domain_error");
  CHECK(std::string(error->what()) == "no square for 6");
  CHECK(seen.after == 49);
}

TEST_CASE("a get that times out throws TimeoutError and leaves the result in the pool") {
  weft::Node node(small_node());
  struct Seen {
    bool timed_out = false;
    int later = 0;
  };
  const Seen seen = node.run([](weft::Runtime&) -> weft::Task<Seen> {
    Pool pool(co_await spawn_workers(1));
    pool.submit(square_after(300), 5);
    Seen s;
    try {
      co_await pool.get_next<std::vector<int>>(10ms);
    } catch (const weft::TimeoutError&) {
      s.timed_out = true;
    }
    s.later = (co_await pool.get_next<std::vector<int>>())[0];
    co_return s;
  });
  CHECK(seen.timed_out);
  CHECK(seen.later == 25);
}

TEST_CASE("asking for the wrong result type names both types and keeps the result") {
  weft::Node node(small_node());
  struct Seen {
    std::string error;
    std::string value;
  };
  const Seen seen = node.run([](weft::Runtime&) -> weft::Task<Seen> {
    Pool pool(co_await spawn_workers(1));
    pool.submit(
        [](const weft::ActorHandle<PoolWorker>& w, int n) { return w.call<&PoolWorker::name>(n); },
        42);
    Seen s;
    try {
      co_await pool.get_next<int>();
    } catch (const weft::UsageError& e) {
      s.error = e.what();
    }
    s.value = co_await pool.get_next<std::string>();
    co_return s;
  });
  CHECK(seen.error.find("get_next<int>") != std::string::npos);
  CHECK(seen.error.find("std::__cxx11::basic_string") != std::string::npos);
  CHECK(seen.value == "42");
}

TEST_CASE("a killed actor leaves the pool; with none left, queued work waits for push") {
  weft::Node node(small_node());
  struct Seen {
    bool first_died = false, none_left = false, has_free_after_push = false;
    int after_push = 0;
  };
  const Seen seen = node.run([](weft::Runtime&) -> weft::Task<Seen> {
    Handles workers = co_await spawn_workers(1);
    Pool pool(workers);
    Seen s;
    weft::kill(workers[0]);
    pool.submit(square_after(0), 3);  // runs on the dead actor
    pool.submit(square_after(0), 4);  // queued: no live actor is left for it
    try {
      co_await pool.get_next<std::vector<int>>();
    } catch (const weft::ActorDiedError&) {
      s.first_died = true;
    }
    try {
      co_await pool.get_next<std::vector<int>>();
    } catch (const weft::ActorDiedError& e) {
      s.none_left = std::string(e.what()).find("push()") != std::string::npos;
    }
    pool.push(co_await weft::spawn<PoolWorker>(9));
    s.after_push = (co_await pool.get_next<std::vector<int>>())[0];
    s.has_free_after_push = pool.has_free();
    co_return s;
  });
  CHECK(seen.first_died);
  CHECK(seen.none_left);
  CHECK(seen.after_push == 16);
  CHECK(seen.has_free_after_push);
}

TEST_CASE("pop_idle takes a free actor out; misuse is a UsageError") {
  weft::Node node(small_node());
  struct Seen {
    bool popped = false, none_free = false, nothing_next = false, empty_refused = false;
  };
  const Seen seen = node.run([](weft::Runtime&) -> weft::Task<Seen> {
    Pool pool(co_await spawn_workers(1));
    Seen s;
    auto taken = pool.pop_idle();
    s.popped = taken.has_value();
    s.none_free = !pool.has_free() && !pool.pop_idle();
    try {
      co_await pool.get_next<int>();
    } catch (const weft::UsageError&) {
      s.nothing_next = true;
    }
    try {
      Pool empty(Handles{});
    } catch (const weft::UsageError&) {
      s.empty_refused = true;
    }
    co_return s;
  });
  CHECK(seen.popped);
  CHECK(seen.none_free);
  CHECK(seen.nothing_next);
  CHECK(seen.empty_refused);
}
