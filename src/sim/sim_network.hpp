// weft::sim::SimNetwork: the simulator's network below the transport seam
// (node/transport.hpp). Nodes listen and connect by host name and port as
// over TCP; the bytes they write (the real Cap'n Proto messages and
// task-stream frames) travel as in-memory chunks, each delivered after a
// latency drawn from the world's random source. So messages reorder across
// connections but never within one: a direction delivers in write order,
// as TCP does.
//
// Faults: a dropped connection delivers a reset to both ends (reads fail
// with DISCONNECTED, unread bytes are lost); a crashed host's connections
// all drop and connecting to it is refused; a partition holds all traffic
// between two hosts (as TCP retransmits) until it heals, and refuses new
// connections between them; a slow host's traffic takes longer.
//
// Time is weft::Clock (the world's); deliveries happen only in
// deliver_due(), which the world calls. Completions reach a node as
// handlers posted to its reactor, so they run in that node's steps.
// Single-threaded: use only on the world's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "weft/core/clock.hpp"
#include "weft/core/reactor.hpp"

namespace weft::detail {
class Transport;
}

namespace weft::sim {

class SimNetwork {
 public:
  struct Options {
    Clock::duration min_latency = std::chrono::microseconds(50);
    Clock::duration max_latency = std::chrono::microseconds(500);
  };

  SimNetwork(std::mt19937_64& rng, Options options);
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // The transport of host `name`, whose completions run on `reactor`.
  detail::Transport& host(const std::string& name, Reactor& reactor);
  // The host's node is gone: nothing is posted to its reactor any more.
  void detach(const std::string& name);

  // When the next chunk or connection event is due, if any is in flight.
  std::optional<Clock::time_point> next_delivery() const;
  // Delivers everything due at `now`.
  void deliver_due(Clock::time_point now);

  // Connections open in both directions, in the order they were made.
  std::size_t connections();
  void drop(std::size_t connection);
  void crash(const std::string& host);
  void partition(const std::string& a, const std::string& b);
  void heal(const std::string& a, const std::string& b);
  // Traffic from or to `host` takes `extra` longer; zero: normal again.
  void set_slow(const std::string& host, Clock::duration extra);

  // Internals, shared with the streams and listeners in sim_network.cpp.
  struct Host;
  struct Pipe;
  struct Connection;
  class Stream;
  class Listener;
  class HostTransport;

  // Direction `d` of `c` is written by side d (0: the connecting end).
  void send(const std::shared_ptr<Connection>& c, int d, std::vector<unsigned char> bytes);
  void send_eof(const std::shared_ptr<Connection>& c, int d);
  void connect(Host& from, const std::string& to, std::uint16_t port,
               std::function<void(std::shared_ptr<Connection>)> done);
  std::uint16_t listen(Host& host, std::uint16_t port, Listener& listener);
  void unlisten(Host& host, std::uint16_t port) noexcept;
  // Runs `f` in a step of the host's node (never once it is detached).
  void post_to(Host& host, std::function<void()> f);

 private:
  using Key = std::pair<Clock::time_point, std::uint64_t>;
  struct Event {
    std::shared_ptr<Connection> connection;  // a chunk at the head of one of its pipes
    int direction = 0;
    std::function<void()> run;  // or a connection event
  };

  Clock::duration latency(const Host& from, const Host& to);
  bool partitioned(const Host& a, const Host& b) const;
  void at(Clock::time_point when, std::function<void()> run);
  // Puts the pipe's first chunk in the queue unless it is there or held.
  void schedule_head(const std::shared_ptr<Connection>& c, int direction);
  void unschedule(Pipe& pipe);
  void deliver_head(const std::shared_ptr<Connection>& c, int direction);
  void wake_reader(const std::shared_ptr<Connection>& c, int d);
  void break_connection(const std::shared_ptr<Connection>& c);
  std::shared_ptr<Connection> make_connection(Host& from, Host& to);
  // Calls f for every connection still known between `a` and `b`.
  template <typename F>
  void between(const std::string& a, const std::string& b, F f);
  Host* find(const std::string& name);

  std::mt19937_64& rng_;
  Options options_;
  std::map<std::string, std::unique_ptr<Host>> hosts_;
  std::set<std::pair<std::string, std::string>> partitions_;
  std::map<Key, Event> queue_;
  std::vector<std::weak_ptr<Connection>> connections_;
  std::vector<std::shared_ptr<Connection>> open_connections();
  std::uint64_t next_seq_ = 0;
  std::uint64_t next_connection_ = 0;
};

}  // namespace weft::sim
