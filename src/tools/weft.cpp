// The `weft` command: talks to a running cluster's head.
//
//   weft status --address 127.0.0.1:6380     nodes, resources, object stores, actors, jobs
//   weft stop   --address 127.0.0.1:6380     stops every node of the cluster
//   weft status --address head.example:6380  a host name works too
//
// The cluster token comes from --token or WEFT_CLUSTER_TOKEN, as for nodes.
#include <capnp/rpc-twoparty.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "node/addresses.hpp"
#include "node/auth.hpp"
#include "node/kj_asio.hpp"
#include "node/wire.hpp"
#include "weft.capnp.h"
#include "weft/core/sync_wait.hpp"

namespace {

constexpr const char* usage =
    "usage: weft <status|stop> --address HOST:PORT [--token T]\n"
    "  HOST is the head's IPv4 address or host name\n"
    "  status   nodes, resources used/total, object stores, actors and jobs\n"
    "  stop     stop every node of the cluster\n"
    "The token defaults to $WEFT_CLUSTER_TOKEN.\n";

std::string bytes(std::uint64_t n) {
  if (n >= (1ULL << 30)) return fmt::format("{:.1f} GiB", double(n) / (1ULL << 30));
  if (n >= (1ULL << 20)) return fmt::format("{:.1f} MiB", double(n) / (1ULL << 20));
  if (n >= 1024) return fmt::format("{:.1f} KiB", double(n) / 1024);
  return fmt::format("{} B", n);
}

// "2024-05-01 12:00:03" in this machine's time zone.
std::string local_time(std::int64_t ms_since_epoch) {
  return fmt::format("{:%Y-%m-%d %H:%M:%S}",
                     fmt::localtime(static_cast<std::time_t>(ms_since_epoch / 1000)));
}

std::string resources(const weft::Resources& available, const weft::Resources& total) {
  std::string out = fmt::format("cpu {}/{}", total.cpu - available.cpu, total.cpu);
  if (total.gpu > 0) out += fmt::format(", gpu {}/{}", total.gpu - available.gpu, total.gpu);
  for (const auto& [name, amount] : total.custom) {
    const double* left = available.custom.find(name);
    const double free = left == nullptr ? 0 : *left;
    out += fmt::format(", {} {}/{}", name.view(), amount - free, amount);
  }
  return out;
}

void print_status(weft::wire::ClusterStatus::Reader s) {
  const weft::ClusterView view = weft::detail::from_wire(s.getView());
  std::size_t alive = 0;
  for (const auto& n : view.nodes) alive += n.alive ? 1 : 0;
  std::printf("cluster: %zu node%s alive (view version %llu)\n\n", alive, alive == 1 ? "" : "s",
              static_cast<unsigned long long>(view.version));
  std::printf("%-14s %-22s %-7s %-6s %-28s %-22s %-8s %-6s %s\n", "node", "address", "pid", "state",
              "resources used/total", "object store", "objects", "tasks", "actors");
  for (const auto& n : view.nodes) {
    std::printf(
        "%-14llx %-22s %-7d %-6s %-28s %-22s %-8llu %-6llu %llu\n",
        static_cast<unsigned long long>(n.info.id),
        fmt::format("{}:{}", n.info.host, n.info.port).c_str(), n.info.pid,
        n.alive ? "alive" : (n.left ? "left" : "dead"),
        resources(n.load.available, n.info.totals).c_str(),
        fmt::format("{} / {}", bytes(n.load.store_used), bytes(n.info.store_capacity)).c_str(),
        static_cast<unsigned long long>(n.load.live_objects),
        static_cast<unsigned long long>(n.load.tasks_in_flight),
        static_cast<unsigned long long>(n.load.live_actors));
  }
  if (s.getActors().size() > 0) {
    std::printf("\n%-20s %-16s %-14s %s\n", "actor", "class", "node", "state");
    for (auto a : s.getActors()) {
      const auto e = weft::detail::from_wire(a);
      std::printf("%-20s %-16s %-14llx %s\n", e.name.empty() ? "(anonymous)" : e.name.c_str(),
                  e.class_name.c_str(), static_cast<unsigned long long>(e.node),
                  e.state == weft::ActorState::alive  ? "alive"
                  : e.state == weft::ActorState::dead ? "dead"
                                                      : "restarting");
    }
  }
  if (s.getJobs().size() > 0) {
    std::printf("\n%-6s %-14s %-20s %s\n", "job", "driver node", "started", "state");
    for (auto j : s.getJobs()) {
      std::printf("%-6llu %-14llx %-20s %s\n", static_cast<unsigned long long>(j.getJobId()),
                  static_cast<unsigned long long>(j.getDriverNode()),
                  local_time(j.getStartedMs()).c_str(), j.getFinished() ? "finished" : "running");
    }
  }
  std::printf("\nplacement groups: %u\n", s.getPlacementGroups());
}

// One connection to the head, set up and used on the reactor thread.
struct HeadConnection {
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
};

int run(std::string_view command, const std::string& host, std::uint16_t port,
        const std::string& token) {
  weft::Reactor reactor("weft-tool");
  weft::detail::ScopedKjLoop loop(reactor);
  HeadConnection conn;
  std::string out;
  weft::sync_wait(weft::run_on_kj(reactor, [&] {
    return weft::detail::connect_tcp(reactor.context(), host, port)
        .then([&](kj::Own<kj::AsyncIoStream> stream) {
          conn.stream = kj::mv(stream);
          conn.network =
              kj::heap<capnp::TwoPartyVatNetwork>(*conn.stream, capnp::rpc::twoparty::Side::CLIENT);
          conn.rpc = kj::heap(capnp::makeRpcClient(*conn.network));
          capnp::MallocMessageBuilder vat;
          auto vat_id = vat.initRoot<capnp::rpc::twoparty::VatId>();
          vat_id.setSide(capnp::rpc::twoparty::Side::SERVER);
          auto gate = conn.rpc->bootstrap(vat_id).castAs<weft::wire::Gate>();
          return gate.challengeRequest().send().then(
              [&token, gate](capnp::Response<weft::wire::Gate::ChallengeResults> c) mutable {
                auto req = gate.helloRequest();
                auto hello = req.initHello();
                hello.setProtocolVersion(weft::wire::PROTOCOL_VERSION);
                auto nonce = c.getNonce();
                const auto proof =
                    weft::detail::prove(token, std::span(nonce.begin(), nonce.size()));
                hello.setTokenProof(kj::arrayPtr(proof.data(), proof.size()));
                hello.setRole(weft::wire::Role::TOOL);
                return req.send();
              });
        })
        .then([&](capnp::Response<weft::wire::Gate::HelloResults> r) -> kj::Promise<void> {
          auto head = r.getHead();
          if (command == "status") {
            return head.statusRequest().send().then(
                [](capnp::Response<weft::wire::Head::StatusResults> s) {
                  print_status(s.getStatus());
                });
          }
          return head.stopClusterRequest().send().then(
              [](auto&&) { std::printf("cluster stopped\n"); });
        })
        .attach(kj::defer([&] {
          conn.rpc = nullptr;
          conn.network = nullptr;
          conn.stream = nullptr;
        }));
  }));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(usage, stderr);
    return 2;
  }
  const std::string_view command = argv[1];
  std::string host;
  std::uint16_t port = 0;
  std::string token = std::getenv("WEFT_CLUSTER_TOKEN") ? std::getenv("WEFT_CLUSTER_TOKEN") : "";
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "--address" || arg == "--token") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "--token") {
        token = value;
        continue;
      }
      const auto colon = value.rfind(':');
      if (colon == std::string::npos) {
        std::fputs(usage, stderr);
        return 2;
      }
      host = value.substr(0, colon);
      port = static_cast<std::uint16_t>(std::atoi(value.c_str() + colon + 1));
    } else {
      std::fputs(usage, stderr);
      return 2;
    }
  }
  if ((command != "status" && command != "stop") || host.empty() || port == 0) {
    std::fputs(usage, stderr);
    return 2;
  }
  try {
    weft::detail::check_resolves("--address", host);
  } catch (const weft::UsageError& e) {
    std::fprintf(stderr, "weft %s: %s\n", std::string(command).c_str(), e.what());
    return 2;
  }
  try {
    return run(command, host, port, token);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft %s: %s\n", std::string(command).c_str(), e.what());
    return 1;
  }
}
