// The cross-node ref test of tests/netns/run.sh: a driver that makes an
// object on one worker and consumes it on the other, then back, each task
// pinned to the worker reached at the address it was given.
//
//   WEFT_NETNS_WORKERS=10.77.5.3,10.77.5.4 netns_refs --address 10.77.5.2:6382
//
// Run the head and workers with this same program (--head / --worker): a
// node of another build is refused. Exits 0 when every value and every
// process matches, 1 otherwise, saying what differed.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "weft/weft.hpp"

// 4 MiB: too large to travel inline, so the consumer pulls it from its holder.
std::vector<std::uint8_t> netns_make(std::uint64_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::uint64_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 31 + seed) & 0xff);
  return v;
}

std::uint64_t expected_sum(std::uint64_t n, std::uint32_t seed) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += (i * 31 + seed) & 0xff;
  return sum;
}

// {sum of the bytes, pid of the process that summed them}
std::vector<std::uint64_t> netns_sum(std::vector<std::uint8_t> v) {
  return {std::accumulate(v.begin(), v.end(), std::uint64_t{0}),
          static_cast<std::uint64_t>(getpid())};
}

// The sum alone, read where the summed vector is pulled to.
std::uint64_t netns_check(std::vector<std::uint64_t> sum_and_pid) { return sum_and_pid.at(0); }

int netns_pid() { return static_cast<int>(getpid()); }

WEFT_REMOTE(netns_make);
WEFT_REMOTE(netns_sum);
WEFT_REMOTE(netns_check);
WEFT_REMOTE(netns_pid);

namespace {

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto end = comma == std::string::npos ? text.size() : comma;
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

weft::TaskOptions on(weft::NodeId id) {
  weft::TaskOptions o;
  o.strategy = weft::NodeAffinity{id, false};
  return o;
}

weft::Task<int> driver(weft::Runtime& rt) {
  const char* env = std::getenv("WEFT_NETNS_WORKERS");
  const auto hosts = split(env == nullptr ? "" : env);
  auto* node = dynamic_cast<weft::Node*>(&rt);
  if (hosts.size() != 2 || node == nullptr || node->cluster() == nullptr) {
    std::fprintf(stderr, "netns_refs: needs WEFT_NETNS_WORKERS=ADDR,ADDR and --address\n");
    co_return 2;
  }
  std::vector<weft::NodeId> ids;
  std::vector<int> pids;
  for (const auto& host : hosts) {
    for (const auto& n : node->cluster()->view().nodes) {
      if (n.alive && n.info.host == host) {
        ids.push_back(n.info.id);
        pids.push_back(n.info.pid);
      }
    }
  }
  if (ids.size() != 2) {
    std::fprintf(stderr, "netns_refs: no single alive node at each of %s\n", env);
    co_return 1;
  }
  constexpr std::uint64_t n = 4 << 20;
  auto made = weft::submit<&netns_make>(on(ids[0]), n, std::uint32_t{7});  // on worker 1
  auto summed = weft::submit<&netns_sum>(on(ids[1]), made);                // pulled to worker 2
  auto checked = weft::submit<&netns_check>(on(ids[0]), summed);           // and back
  const auto sum_and_pid = co_await summed;
  const std::uint64_t back = co_await checked;
  const int made_in = co_await weft::submit<&netns_pid>(on(ids[0]));
  const std::uint64_t want = expected_sum(n, 7);
  const bool ok = sum_and_pid.at(0) == want && back == want &&
                  sum_and_pid.at(1) == static_cast<std::uint64_t>(pids[1]) && made_in == pids[0];
  std::printf("netns refs: %s: made on %s (pid %d), summed on %s (pid %llu): %llu, want %llu\n",
              ok ? "ok" : "FAILED", hosts[0].c_str(), made_in, hosts[1].c_str(),
              static_cast<unsigned long long>(sum_and_pid.at(1)),
              static_cast<unsigned long long>(sum_and_pid.at(0)),
              static_cast<unsigned long long>(want));
  co_return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return weft::run(argc, argv, driver); }
