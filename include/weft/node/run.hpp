// weft::run: the entry point of a weft program.
//
//   weft::Task<int> driver(weft::Runtime& rt);
//   int main(int argc, char** argv) { return weft::run(argc, argv, driver); }
//
//   ./app                              one node in this process
//   ./app --local-nodes 3              a 3-node cluster on localhost, started and stopped for you
//   ./app --head --port 6380           a long-lived head node (prints how to join it)
//   ./app --head --bind 0.0.0.0        ... reachable from other machines
//   ./app --head --snapshot FILE       ... whose KV and jobs survive a restart
//   ./app --worker --address H:P       a node joining the cluster at H:P, until `weft stop`
//   ./app --address H:P                this driver joins the cluster at H:P as a node
//   ./app --threads 4                  executor threads (default: one per core)
//   ./app --object-store-memory 2G     arena size (default: 30 % of RAM)
//
// Every node and tool of a cluster presents the same token: --token T, or
// the WEFT_CLUSTER_TOKEN environment variable (--local-nodes draws one).
// The driver runs on the node's executors; its co_return value is the exit
// status. An exception escaping the driver is printed and exits with 1. In a
// cluster the driver is a job in the head's job table (`weft status`) from
// its start to its end, or to its node's death.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "weft/core/log.hpp"
#include "weft/core/task.hpp"
#include "weft/node/node.hpp"

namespace weft {

using Driver = std::function<Task<int>(Runtime&)>;

// What weft::run was asked to do.
struct RunOptions {
  enum class Mode { single, local_cluster, head, worker, join } mode = Mode::single;
  NodeOptions node;
  unsigned local_nodes = 1;
  std::string head_host = "127.0.0.1";
  std::uint16_t head_port = 0;
  std::uint16_t port = 0;
  std::string bind = "127.0.0.1";  // --bind
  std::string advertise;           // --advertise; empty: derived (ClusterOptions::advertise_host)
  std::string token;
  std::string snapshot;                 // --snapshot FILE; head only
  LogLevel log_level = LogLevel::info;  // --log-level, else $WEFT_LOG_LEVEL, else info
};

// Parses weft's flags; throws UsageError naming a bad flag (a --bind that
// is not an IPv4 address of this host among them).
RunOptions parse_run_flags(int argc, char** argv);

// Checks that the hosts of --address and --advertise resolve to IPv4
// addresses; throws UsageError naming the flag. Blocks on name lookups.
void check_run_addresses(const RunOptions& options);

int run(int argc, char** argv, Driver driver);

}  // namespace weft
