// Several results from one task or actor method (returns.hpp): one typed ref
// per element, each resolvable and passable on its own; a failure fails
// every one of them with the original error; NumReturns for a count known
// at run time, and ReturnCountError when the task returns another number.
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "remote/failures.hpp"
#include "weft/weft.hpp"
#include "weft_test.hpp"

namespace {

using remote_test::caught_as;
using remote_test::failure_of;

weft::NodeOptions small_node() { return {.threads = 2, .store = {.capacity = 64 << 20}}; }

}  // namespace

weft::Returns<int, std::string, std::vector<double>> returns_three(int x) {
  std::string name = "n";
  name += std::to_string(x);
  return {x * 2, name, std::vector<double>(static_cast<std::size_t>(x), 0.5)};
}
WEFT_REMOTE(returns_three);

weft::Task<weft::Returns<int, int>> returns_divmod(int a, int b) {
  co_await weft::sleep_for(std::chrono::milliseconds(1));
  co_return weft::Returns<int, int>{a / b, a % b};
}
WEFT_REMOTE(returns_divmod);

weft::Returns<int, int> returns_throws(int x) {
  std::string message = "no pair for ";
  message += std::to_string(x);
  throw std::invalid_argument(message);
}
WEFT_REMOTE(returns_throws);

int returns_plus_one(int x) { return x + 1; }
WEFT_REMOTE(returns_plus_one);

std::size_t returns_length(std::string s) { return s.size(); }
WEFT_REMOTE(returns_length);

std::vector<int> returns_range(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i * i);
  return v;
}
WEFT_REMOTE(returns_range);

// Several results that are themselves refs: each names an object of its own.
weft::Returns<weft::ObjectRef<int>, int> returns_a_ref(int x) { return {weft::put(x * 10), x}; }
WEFT_REMOTE(returns_a_ref);

class ReturnsStats {
 public:
  weft::Returns<double, double> push(double x) {
    ++n_;
    sum_ += x;
    return {sum_, sum_ / n_};
  }
  std::vector<std::string> words(int n) {
    std::vector<std::string> w;
    for (int i = 0; i < n; ++i) w.push_back(std::string(static_cast<std::size_t>(i + 1), 'w'));
    return w;
  }

 private:
  int n_ = 0;
  double sum_ = 0;
};
WEFT_ACTOR(ReturnsStats, &ReturnsStats::push, &ReturnsStats::words);

TEST_CASE("a task returning Returns<A, B, C> gives one typed ref per element") {
  weft::Node node(small_node());
  const auto [a, b, c] =
      node.run([](weft::Runtime&) -> weft::Task<std::tuple<int, std::string, std::size_t>> {
        auto refs = weft::submit<&returns_three>(4);
        static_assert(std::is_same_v<decltype(refs),
                                     std::tuple<weft::ObjectRef<int>, weft::ObjectRef<std::string>,
                                                weft::ObjectRef<std::vector<double>>>>);
        auto [twice, name, halves] = refs;
        // Read in another order than returned: each resolves on its own.
        const std::vector<double> h = co_await halves;
        const std::string n = co_await name;
        const int t = co_await twice;
        co_return std::tuple{t, n, h.size()};
      });
  CHECK(a == 8);
  CHECK(b == "n4");
  CHECK(c == 4);
}

TEST_CASE("each result of a task passes on its own to the next task") {
  weft::Node node(small_node());
  const auto [plus, length] =
      node.run([](weft::Runtime&) -> weft::Task<std::pair<int, std::size_t>> {
        auto [twice, name, halves] = weft::submit<&returns_three>(5);
        // Still pending when passed: the next task waits for that one result.
        auto p = weft::submit<&returns_plus_one>(twice);
        auto l = weft::submit<&returns_length>(name);
        const int pv = co_await p;
        const std::size_t lv = co_await l;
        co_return std::pair{pv, lv};
      });
  CHECK(plus == 11);
  CHECK(length == 2);
}

TEST_CASE("a coroutine task returning Task<Returns<...>> gives a ref per element") {
  weft::Node node(small_node());
  const auto [q, r] = node.run([](weft::Runtime&) -> weft::Task<std::pair<int, int>> {
    auto [quotient, remainder] = weft::submit<&returns_divmod>(17, 5);
    const int qv = co_await quotient;
    const int rv = co_await remainder;
    co_return std::pair{qv, rv};
  });
  CHECK(q == 3);
  CHECK(r == 2);
}

TEST_CASE("a task that throws fails every one of its results with the original error") {
  weft::Node node(small_node());
  const auto [first, second] =
      node.run([](weft::Runtime&) -> weft::Task<std::pair<std::exception_ptr, std::exception_ptr>> {
        auto [a, b] = weft::submit<&returns_throws>(3);
        // The second first: neither waits on the other to learn the error.
        auto eb = co_await failure_of(b);
        auto ea = co_await failure_of(a);
        co_return std::pair{ea, eb};
      });
  for (const auto& error : {first, second}) {
    auto e = caught_as<weft::TaskError>(error);
    REQUIRE(e);
    CHECK(e->type_name() == "std::invalid_argument");
    CHECK(std::string(e->what()) == "no pair for 3");
    CHECK(e->task_name() == "returns_throws");
  }
}

TEST_CASE("a failed dependency fails every result of the task that needed it") {
  weft::Node node(small_node());
  const auto errors = node.run([](weft::Runtime&) -> weft::Task<std::vector<std::exception_ptr>> {
    auto [bad, ignored] = weft::submit<&returns_throws>(1);
    auto [a, b, c] = weft::submit<&returns_three>(bad);
    std::vector<std::exception_ptr> out;
    out.push_back(co_await failure_of(a));
    out.push_back(co_await failure_of(b));
    out.push_back(co_await failure_of(c));
    co_return out;
  });
  for (const auto& error : errors) {
    auto e = caught_as<weft::TaskError>(error);
    REQUIRE(e);
    CHECK(std::string(e->what()) == "no pair for 1");
  }
}

TEST_CASE("results that are refs name objects that live as long as the result does") {
  weft::Node node(small_node());
  const auto [inner, plain] = node.run([](weft::Runtime&) -> weft::Task<std::pair<int, int>> {
    weft::ObjectRef<int> ten_x;
    weft::ObjectRef<int> x;
    {
      auto refs = weft::submit<&returns_a_ref>(7);
      ten_x = co_await std::get<0>(refs);
      x = std::get<1>(refs);
    }
    const int inner_value = co_await ten_x;
    const int x_value = co_await x;
    co_return std::pair{inner_value, x_value};
  });
  CHECK(inner == 70);
  CHECK(plain == 7);
}

TEST_CASE("NumReturns splits a returned vector into that many refs") {
  weft::Node node(small_node());
  const auto values = node.run([](weft::Runtime&) -> weft::Task<std::vector<int>> {
    std::vector<weft::ObjectRef<int>> refs = weft::submit<&returns_range>(weft::NumReturns{4}, 4);
    std::vector<int> out;
    for (auto& r : refs) out.push_back(co_await r);
    co_return out;
  });
  CHECK(values == std::vector<int>{0, 1, 4, 9});
}

TEST_CASE("a vector-returning task called without NumReturns keeps one result") {
  weft::Node node(small_node());
  const auto v = node.run([](weft::Runtime&) -> weft::Task<std::vector<int>> {
    weft::ObjectRef<std::vector<int>> whole = weft::submit<&returns_range>(3);
    co_return co_await whole;
  });
  CHECK(v == std::vector<int>{0, 1, 4});
}

TEST_CASE(
    "a task returning another count than NumReturns fails each result with ReturnCountError") {
  weft::Node node(small_node());
  const auto errors = node.run([](weft::Runtime&) -> weft::Task<std::vector<std::exception_ptr>> {
    const weft::TaskOptions named{.name = "make_range"};
    auto refs = weft::submit<&returns_range>(named, weft::NumReturns{3}, 5);
    std::vector<std::exception_ptr> out;
    for (auto& r : refs) out.push_back(co_await failure_of(r));
    co_return out;
  });
  REQUIRE(errors.size() == 3);
  for (const auto& error : errors) {
    auto e = caught_as<weft::ReturnCountError>(error);
    REQUIRE(e);
    CHECK(std::string(e->what()) ==
          "make_range returned 5 values for 3 results; return exactly as many as the caller's "
          "NumReturns asks for");
  }
}

TEST_CASE("an actor method returning Returns<...> or a vector with NumReturns gives a ref each") {
  weft::Node node(small_node());
  const auto [sum, mean, words] =
      node.run([](weft::Runtime&) -> weft::Task<std::tuple<double, double, std::string>> {
        auto stats = co_await weft::spawn<ReturnsStats>();
        stats.call<&ReturnsStats::push>(1.0);
        auto [s, m] = stats.call<&ReturnsStats::push>(5.0);
        auto w = stats.call<&ReturnsStats::words>(weft::NumReturns{3}, 3);
        std::string joined;
        for (auto& r : w) {
          const std::string word = co_await r;
          joined += word;
          joined += ',';
        }
        const double sv = co_await s;
        const double mv = co_await m;
        co_return std::tuple{sv, mv, joined};
      });
  CHECK(sum == 6.0);
  CHECK(mean == 3.0);
  CHECK(words == "w,ww,www,");
}

TEST_CASE("tasks of several results leave no objects or arena bytes behind") {
  weft::Node node(small_node());
  const bool ok = node.run([](weft::Runtime&) -> weft::Task<bool> {
    bool all = true;
    for (int i = 1; i <= 200; ++i) {
      auto [twice, name, halves] = weft::submit<&returns_three>(i % 50);
      auto parts = weft::submit<&returns_range>(weft::NumReturns{3}, 3);
      auto [bad, worse] = weft::submit<&returns_throws>(i);
      const int t = co_await twice;
      const int last = co_await parts[2];
      const std::exception_ptr error = co_await failure_of(worse);
      all = all && t == 2 * (i % 50) && last == 4 && error != nullptr;
      (void)name;
      (void)halves;
      (void)bad;
    }
    co_return all;
  });
  CHECK(ok);
  node.scheduler().wait_until_idle();
  CHECK(node.store().live_objects() == 0);
  CHECK(node.store().arena_bytes_used() == 0);
}
