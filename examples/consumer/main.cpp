// Uses an installed weft through find_package(weft): runs a task on a thread
// pool and prints a line a person can check.
#include <cstdio>

#include <weft/core/sync_wait.hpp>
#include <weft/core/task.hpp>
#include <weft/core/thread_pool.hpp>

namespace {

weft::Task<long> sum_of_squares(weft::ThreadPool& pool, long n, bool& ran_on_pool) {
  co_await weft::resume_on(pool);
  ran_on_pool = pool.on_worker_thread();
  long sum = 0;
  for (long i = 1; i <= n; ++i) sum += i * i;
  co_return sum;
}

}  // namespace

int main() {
  weft::ThreadPool pool({.threads = 2});
  bool ran_on_pool = false;
  const long sum = weft::sync_wait(sum_of_squares(pool, 100, ran_on_pool));
  std::printf("weft consumer: sum of squares 1..100 = %ld (expected 338350), ran on pool: %s\n",
              sum, ran_on_pool ? "yes" : "no");
  return sum == 338350 && ran_on_pool ? 0 : 1;
}
