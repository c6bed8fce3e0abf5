// Liveness: heartbeats on their own thread and socket (DESIGN §8).
//
//   auto rx = Liveness::receive("127.0.0.1", head_port, token);        // on the head
//   auto tx = Liveness::send(my_id, "127.0.0.1", head_port, token, 50ms);  // elsewhere
//   for (auto [node, at] : rx->take_seen()) store.saw_alive(node, at);
//
// Why a channel of its own: a node's reactor does bulk work (copying pulled
// chunks into fresh memory, reading and building frames) in turns that,
// bounded as each is, can add up to seconds on a loaded machine, and the
// RPC heartbeat waits behind them on both ends and on the same connection
// as the chunks. A datagram sent every interval by a thread that does
// nothing else, and recorded on arrival by a thread on the head that does
// nothing else, does not: the head's failure detector (on its reactor)
// reads those arrival times, so even a head whose reactor was busy sees
// fresh ones when it looks. The RPC heartbeats that carry each node's load
// still count as signs of life, so where UDP cannot pass a node is judged
// by them as before.
//
// A sender whose reactor has not turned for reactor_stall_limit stops
// sending: a wedged node is still declared dead.
//
// Datagrams carry the node id and a tag derived from the cluster token, so
// a stray one does not keep a node alive; the token itself is never sent.
//
// Threads: create and destroy on any one thread; the other members may be
// called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "weft/node/control_store.hpp"

namespace weft::detail {

class Liveness {
 public:
  using Clock = weft::Clock;
  static constexpr auto reactor_stall_limit = std::chrono::seconds(10);

  // Head: records datagrams that arrive on UDP `host`:`port`. Null (after a
  // log line) if that port cannot be bound: the RPC heartbeats remain.
  static std::unique_ptr<Liveness> receive(const std::string& host, std::uint16_t port,
                                           const std::string& token);
  // Other nodes: sends `node`'s datagram to the head at UDP `host`:`port`
  // every `interval`. Null (after a log line) if `host` does not resolve.
  static std::unique_ptr<Liveness> send(NodeId node, const std::string& host, std::uint16_t port,
                                        const std::string& token, Clock::duration interval);
  ~Liveness();
  Liveness(const Liveness&) = delete;
  Liveness& operator=(const Liveness&) = delete;

  // The sender's reactor turned now (its heartbeat timer calls this).
  void reactor_turned() noexcept;
  // Head: the latest arrival per node since the last call.
  std::vector<std::pair<NodeId, Clock::time_point>> take_seen();

 private:
  Liveness(int fd, std::uint64_t tag);
  // Runs `loop` on a new thread over socket `fd`; null, after logging that
  // this node cannot `what` and will do `instead`, if fd is -1 (errno).
  static std::unique_ptr<Liveness> start(int fd, const std::string& token,
                                         std::function<void(Liveness&)> loop,
                                         const std::string& what, const char* instead);
  void receive_loop();
  void send_loop(NodeId node, Clock::duration interval);

  int fd_;
  std::uint64_t tag_;
  std::atomic<std::int64_t> reactor_turned_ns_;
  std::mutex mutex_;
  std::condition_variable stop_changed_;
  bool stop_ = false;
  std::map<NodeId, Clock::time_point> seen_;
  std::thread thread_;
};

}  // namespace weft::detail
