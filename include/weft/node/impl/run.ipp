// weft::run; compiled once into libweft.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/node/run.hpp"
#include "weft/remote/invoke.hpp"

namespace weft {

namespace {
constexpr const char* usage =
    "weft flags:\n"
    "  --threads N                 executor threads (default: one per hardware thread)\n"
    "  --object-store-memory SIZE  object store arena, e.g. 512M or 2G (default: 30%% of RAM)\n"
    "  --help                      this text\n";

std::size_t parse_size(std::string_view flag, std::string_view text) {
  char* end = nullptr;
  const std::string s(text);
  const double value = std::strtod(s.c_str(), &end);
  std::size_t scale = 1;
  std::string_view suffix(end);
  if (suffix == "K" || suffix == "k") {
    scale = std::size_t{1} << 10;
  } else if (suffix == "M" || suffix == "m") {
    scale = std::size_t{1} << 20;
  } else if (suffix == "G" || suffix == "g") {
    scale = std::size_t{1} << 30;
  } else if (!suffix.empty() || end == s.c_str() || value <= 0) {
    throw UsageError(fmt::format("{}: '{}' is not a size (try 512M or 2G)", flag, text));
  }
  return static_cast<std::size_t>(value * static_cast<double>(scale));
}
}  // namespace

NodeOptions parse_node_flags(int argc, char** argv) {
  NodeOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) throw UsageError(fmt::format("{} needs a value\n{}", arg, usage));
      return argv[++i];
    };
    if (arg == "--threads") {
      const int n = std::atoi(std::string(value()).c_str());
      if (n <= 0) throw UsageError("--threads needs a positive number");
      options.threads = static_cast<unsigned>(n);
    } else if (arg == "--object-store-memory") {
      options.store.capacity = parse_size(arg, value());
    } else if (arg == "--help" || arg == "-h") {
      throw UsageError(usage);
    } else {
      throw UsageError(fmt::format("unknown flag '{}'\n{}", arg, usage));
    }
  }
  return options;
}

int run(int argc, char** argv, Driver driver) {
  NodeOptions options;
  try {
    options = parse_node_flags(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  try {
    Node node(options);
    std::fprintf(stderr,
                 "weft: node %llx: %u executor threads, reactor on %s, object store %.1f GiB\n",
                 static_cast<unsigned long long>(node.id()),
                 static_cast<ThreadPool&>(node.executor()).size(), Reactor::backend_name(),
                 static_cast<double>(node.store().capacity()) / (1 << 30));
    return node.run(driver);
  } catch (const TaskError& e) {
    std::fprintf(stderr, "weft: driver failed: %s in %s: %s\n", e.type_name().c_str(),
                 e.task_name().c_str(), e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft: driver failed: %s\n", e.what());
  }
  return 1;
}

}  // namespace weft
