// Uses an installed weft through find_package(weft): submits tasks and calls
// an actor on one node, and prints a line a person can check.
#include <weft/weft.hpp>

#include <cstdio>
#include <vector>

long square(long x) { return x * x; }
WEFT_REMOTE(square);

class Total {
 public:
  long add(long x) { return sum_ += x; }

 private:
  long sum_ = 0;
};
WEFT_ACTOR(Total, &Total::add);

weft::Task<int> driver(weft::Runtime&) {
  std::vector<weft::ObjectRef<long>> squares;
  for (long i = 1; i <= 100; ++i) squares.push_back(weft::submit<&square>(i));
  auto total = co_await weft::spawn<Total>();
  long sum = 0;
  for (auto& s : squares) sum = co_await total.call<&Total::add>(s);  // refs as arguments
  std::printf("weft consumer: sum of squares 1..100 = %ld (expected 338350)\n", sum);
  co_return sum == 338350 ? 0 : 1;
}

int main(int argc, char** argv) { return weft::run(argc, argv, driver); }
