// weft::run: one node, or a node of a cluster, by flags.
#include "weft/node/run.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "node/addresses.hpp"
#include "node/child_process.hpp"
#include "weft/error.hpp"

namespace weft {

namespace {
constexpr const char* usage =
    "weft flags:\n"
    "  --local-nodes N             start an N-node cluster on localhost for this run\n"
    "  --head                      run a long-lived head node (stop it with `weft stop`)\n"
    "  --worker                    run a node that joins --address until stopped\n"
    "  --address HOST:PORT         the head to join (as a worker, or as this driver's node);\n"
    "                              HOST is an IPv4 address or a host name\n"
    "  --port P                    where this node listens (default: any free port)\n"
    "  --bind ADDR                 the IPv4 address of this host to listen on, or 0.0.0.0 for\n"
    "                              all (default: 127.0.0.1, this machine only)\n"
    "  --advertise HOST            the address or host name peers reach this node at (default:\n"
    "                              the --bind address; with 0.0.0.0, the address of the\n"
    "                              interface that routes to the head)\n"
    "  --token T                   cluster token (default: $WEFT_CLUSTER_TOKEN)\n"
    "  --threads N                 executor threads (default: one per available CPU)\n"
    "  --object-store-memory SIZE  object store arena, e.g. 512M or 2G (default: 30% of RAM)\n"
    "  --snapshot FILE             head: save the control store (KV, jobs, actors) to FILE\n"
    "                              and restore it from there at start\n"
    "  --log-level LEVEL           error, warn, info or debug (default: $WEFT_LOG_LEVEL, else "
    "info)\n"
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
  } else if (!suffix.empty()) {
    end = nullptr;  // an unknown suffix
  }
  const double bytes = value * static_cast<double>(scale);
  if (end == nullptr || end == s.c_str() || !std::isfinite(bytes) || bytes < 1 || bytes > 9.0e18) {
    throw UsageError(fmt::format("{}: '{}' is not a size (try 512M or 2G)", flag, text));
  }
  return static_cast<std::size_t>(bytes);
}

unsigned parse_count(std::string_view flag, std::string_view text, unsigned max) {
  const long n = std::strtol(std::string(text).c_str(), nullptr, 10);
  if (n <= 0 || static_cast<unsigned long>(n) > max) {
    throw UsageError(fmt::format("{} needs a number from 1 to {}, not '{}'", flag, max, text));
  }
  return static_cast<unsigned>(n);
}

std::string random_hex(int bytes) {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < bytes; ++i) out += fmt::format("{:02x}", rd() & 0xff);
  return out;
}

NodeId random_node_id() {
  std::random_device rd;
  // 48 bits keep ids short in logs while collisions stay negligible.
  return (((static_cast<NodeId>(rd()) << 16) ^ rd()) & 0xffffffffffffULL) | 1;
}
}  // namespace

RunOptions parse_run_flags(int argc, char** argv) {
  RunOptions o;
  o.log_level = log_level();
  bool head = false, worker = false, address = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) throw UsageError(fmt::format("{} needs a value\n{}", arg, usage));
      return argv[++i];
    };
    if (arg == "--threads") {
      o.node.threads = parse_count(arg, value(), 1024);
    } else if (arg == "--object-store-memory") {
      o.node.store.capacity = parse_size(arg, value());
    } else if (arg == "--local-nodes") {
      o.local_nodes = parse_count(arg, value(), 64);
    } else if (arg == "--head") {
      head = true;
    } else if (arg == "--worker") {
      worker = true;
    } else if (arg == "--address") {
      const std::string_view a = value();
      const auto colon = a.rfind(':');
      if (colon == std::string_view::npos) {
        throw UsageError(fmt::format("--address needs HOST:PORT, not '{}'", a));
      }
      o.head_host = std::string(a.substr(0, colon));
      if (o.head_host.empty())
        throw UsageError(fmt::format("--address needs HOST:PORT, not '{}'", a));
      o.head_port = static_cast<std::uint16_t>(parse_count(arg, a.substr(colon + 1), 65535));
      address = true;
    } else if (arg == "--bind") {
      o.bind = std::string(value());
      detail::check_bind_address(arg, o.bind);
    } else if (arg == "--advertise") {
      o.advertise = std::string(value());
      if (o.advertise.empty()) throw UsageError("--advertise needs an address or a host name");
    } else if (arg == "--port") {
      o.port = static_cast<std::uint16_t>(parse_count(arg, value(), 65535));
    } else if (arg == "--token") {
      o.token = std::string(value());
    } else if (arg == "--snapshot") {
      o.snapshot = std::string(value());
    } else if (arg == "--log-level") {
      const std::string_view name = value();
      const auto level = parse_log_level(name);
      if (!level) {
        throw UsageError(
            fmt::format("--log-level needs error, warn, info or debug, not '{}'", name));
      }
      o.log_level = *level;
    } else if (arg == "--help" || arg == "-h") {
      throw UsageError(usage);
    } else {
      throw UsageError(fmt::format("unknown flag '{}'\n{}", arg, usage));
    }
  }
  if (o.token.empty()) {
    if (const char* env = std::getenv("WEFT_CLUSTER_TOKEN")) o.token = env;
  }
  if (head + worker + (o.local_nodes > 1) > 1) {
    throw UsageError("--head, --worker and --local-nodes exclude each other");
  }
  if (worker && !address) throw UsageError("--worker needs --address HOST:PORT");
  if (!o.snapshot.empty() && !head && o.local_nodes <= 1) {
    throw UsageError("--snapshot is for the head: use it with --head or --local-nodes");
  }
  if (o.local_nodes > 1) {
    o.mode = RunOptions::Mode::local_cluster;
  } else if (head) {
    o.mode = RunOptions::Mode::head;
  } else if (worker) {
    o.mode = RunOptions::Mode::worker;
  } else if (address) {
    o.mode = RunOptions::Mode::join;
  }
  if (o.mode != RunOptions::Mode::single) {
    o.node.id = random_node_id();
    if (o.token.empty()) {
      // A local cluster's nodes are its own children, which inherit a fresh
      // token; a long-lived head's token must be known to whoever joins, and
      // it is never logged, so the user chooses it.
      if (o.mode == RunOptions::Mode::head) {
        throw UsageError(
            "a head needs a cluster token for its workers to present: export "
            "WEFT_CLUSTER_TOKEN=<secret> (e.g. $(openssl rand -hex 16)) or pass --token");
      }
      if (o.mode != RunOptions::Mode::local_cluster) {
        throw UsageError("joining a cluster needs its token: --token or WEFT_CLUSTER_TOKEN");
      }
      o.token = random_hex(16);
    }
  }
  return o;
}

void check_run_addresses(const RunOptions& o) {
  if (o.mode == RunOptions::Mode::single) return;
  if (!o.advertise.empty()) detail::check_resolves("--advertise", o.advertise);
  if (o.mode == RunOptions::Mode::worker || o.mode == RunOptions::Mode::join) {
    detail::check_resolves("--address", o.head_host);
  }
}

namespace {
ClusterOptions cluster_options(const RunOptions& o, bool head) {
  ClusterOptions c{.head = head,
                   .bind_host = o.bind,
                   .listen_port = o.port,
                   .advertise_host = o.advertise,
                   .token = o.token};
  if (head) {
    c.snapshot = o.snapshot;
  } else {
    c.head_host = o.head_host;
    c.head_port = o.head_port;
  }
  return c;
}

void log_start(Node& node, const char* role) {
  log(LogLevel::info, "{} {:x}: {} executor threads, reactor on {}, object store {:.1f} GiB", role,
      node.id(), node.threads(), Reactor::backend_name(),
      static_cast<double>(node.store().capacity()) / (1 << 30));
}

// Runs the driver on a cluster node, as a job in the head's job table.
int run_job(Node& node, const Driver& driver) {
  detail::ClusterLink& cluster = *node.cluster();
  const std::uint64_t job = sync_wait(cluster.start_job());
  std::exception_ptr failure;
  int rc = 1;
  try {
    rc = node.run(driver);
  } catch (...) {
    failure = std::current_exception();
  }
  try {
    // The head's answer also says whether it declared this node dead.
    sync_wait(cluster.finish_job(job));
  } catch (const std::exception& e) {
    // The head marks it finished anyway once this node is gone.
    log(LogLevel::warn, "could not tell the head that job {} finished: {}", job, e.what());
  }
  if (std::string why = cluster.fenced(); !why.empty()) {
    // Whatever it computed, the cluster gave its work up when it declared
    // the node dead, and the job is recorded as ended there.
    throw NodeFencedError(
        fmt::format("{}; this driver's work in the cluster is lost: run it again", why));
  }
  if (failure) std::rethrow_exception(failure);
  return rc;
}

// Serves until stopped. A worker the head declared dead (cut off or stalled
// past the failure timeout) is refused as its old self, so it starts over
// as a new node: new id, empty store, nothing of the old one's work.
int run_worker(RunOptions o) {
  for (;;) {
    std::string why;
    {
      Node node(o.node);
      node.start_cluster(cluster_options(o, false));
      log_start(node, "worker");
      node.cluster()->wait_until_stopped();
      why = node.cluster()->fenced();
      if (why.empty()) return 0;
    }
    o.node.id = random_node_id();
    log(LogLevel::warn, "{}; rejoining as new node {:x}", why, o.node.id);
  }
}

int run_local_cluster(const RunOptions& o, const Driver& driver) {
  Node node(o.node);
  node.start_cluster(cluster_options(o, true));
  log_start(node, "head");
  const std::uint16_t port = node.cluster()->port();
  const std::string host = node.cluster()->host();
  std::vector<detail::ChildProcess> children;
  for (unsigned i = 1; i < o.local_nodes; ++i) {
    // The children listen and are reached where the head is: same host.
    std::vector<std::string> args{"--worker", "--address", fmt::format("{}:{}", host, port),
                                  "--bind",   o.bind,      "--advertise",
                                  host};
    if (o.node.threads != 0) {
      args.push_back("--threads");
      args.push_back(std::to_string(o.node.threads));
    }
    if (o.node.store.capacity != 0) {
      args.push_back("--object-store-memory");
      args.push_back(std::to_string(o.node.store.capacity));
    }
    args.push_back("--log-level");
    args.push_back(std::string(log_level_name(o.log_level)));
    children.push_back(detail::ChildProcess::spawn_self(args, {"WEFT_CLUSTER_TOKEN=" + o.token}));
  }
  if (!node.cluster()->wait_for_nodes(o.local_nodes, std::chrono::seconds(30))) {
    throw Error(fmt::format("only {} of {} local nodes joined within 30 s",
                            node.cluster()->view().nodes.size(), o.local_nodes));
  }
  log(LogLevel::info, "{}-node cluster up at {}:{}", o.local_nodes, host, port);
  const int rc = run_job(node, driver);
  node.cluster()->stop_cluster();
  for (auto& child : children) {
    for (int i = 0; i < 200 && child.running(); ++i) usleep(10'000);
  }
  return rc;  // children still running are killed by their destructors
}
}  // namespace

int run(int argc, char** argv, Driver driver) {
  RunOptions options;
  try {
    options = parse_run_flags(argc, argv);
    check_run_addresses(options);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  set_log_level(options.log_level);
  try {
    switch (options.mode) {
      case RunOptions::Mode::single: {
        Node node(options.node);
        log_start(node, "node");
        return node.run(driver);
      }
      case RunOptions::Mode::local_cluster:
        return run_local_cluster(options, driver);
      case RunOptions::Mode::head: {
        Node node(options.node);
        node.start_cluster(cluster_options(options, true));
        log_start(node, "head");
        // The token is a secret: never logged.
        const std::string& host = node.cluster()->host();
        log(LogLevel::info, "head listening on {}:{}, reached at {}:{}", options.bind,
            node.cluster()->port(), host, node.cluster()->port());
        log(LogLevel::info,
            "join with: WEFT_CLUSTER_TOKEN=<the cluster token> <program> --worker --address {}:{}",
            host, node.cluster()->port());
        node.cluster()->wait_until_stopped();
        return 0;
      }
      case RunOptions::Mode::worker:
        return run_worker(options);
      case RunOptions::Mode::join: {
        Node node(options.node);
        node.start_cluster(cluster_options(options, false));
        log_start(node, "driver node");
        return run_job(node, driver);
      }
    }
  } catch (const TaskError& e) {
    log(LogLevel::error, "driver failed: {} in {}: {}", e.type_name(), e.task_name(), e.what());
  } catch (const std::exception& e) {
    log(LogLevel::error, "{}", e.what());
  }
  return 1;
}

}  // namespace weft
