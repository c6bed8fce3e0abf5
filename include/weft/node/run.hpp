// weft::run: the entry point of a weft program.
//
//   weft::Task<int> driver(weft::Runtime& rt);
//   int main(int argc, char** argv) { return weft::run(argc, argv, driver); }
//
//   ./app                              one node in this process
//   ./app --threads 4                  executor threads (default: one per core)
//   ./app --object-store-memory 2G     arena size (default: 30 % of RAM)
//
// The driver runs on the node's executors; its co_return value is the exit
// status. An exception escaping the driver is printed and exits with 1.
#pragma once

#include <functional>

#include "weft/core/task.hpp"
#include "weft/node/node.hpp"

namespace weft {

using Driver = std::function<Task<int>(Runtime&)>;

// Parses weft's flags into node options; throws UsageError naming a bad flag.
NodeOptions parse_node_flags(int argc, char** argv);

int run(int argc, char** argv, Driver driver);

}  // namespace weft
