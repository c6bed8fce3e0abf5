// Actors: a named counter, called from two handles and from tasks.
//
//   ./counter
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

class Counter {
 public:
  explicit Counter(int start) : n_(start) {}
  int add(int by) { return n_ += by; }
  weft::Task<int> slow_get() {
    co_await weft::sleep_for(10ms);
    co_return n_;
  }

 private:
  int n_;
};
WEFT_ACTOR(Counter, &Counter::add, &Counter::slow_get);

// A task that finds the counter by name and adds to it.
weft::Task<int> bump(int by) {
  auto c = co_await weft::get_actor<Counter>("c");
  co_return co_await c.call<&Counter::add>(by);
}
WEFT_REMOTE(bump);

weft::Task<int> driver(weft::Runtime&) {
  auto c = co_await weft::spawn<Counter>(0).options({.name = "c"});
  std::vector<weft::ObjectRef<int>> adds;
  for (int i = 1; i <= 100; ++i) adds.push_back(c.call<&Counter::add>(i));
  for (int i = 0; i < 10; ++i) co_await weft::submit<&bump>(1000);
  const int total = co_await c.call<&Counter::slow_get>();
  std::printf("counter 'c' = %d after 100 calls (1..100) and 10 tasks adding 1000 (expected %d)\n",
              total, 5050 + 10000);
  weft::kill(c);
  co_return total == 15050 ? 0 : 1;
}

int main(int argc, char** argv) { return weft::run(argc, argv, driver); }
