#include "sim/sim_network.hpp"

#include <kj/async-io.h>
#include <kj/debug.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <system_error>

#include <fmt/format.h>

#include "node/kj_asio.hpp"
#include "node/transport.hpp"
#include "weft/error.hpp"

// KJ's interfaces have no virtual destructor (see node/kj_asio.hpp).
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

namespace weft::sim {

namespace {
struct Chunk {
  enum Kind { data, eof, reset };
  Clock::time_point at;
  Kind kind;
  std::vector<unsigned char> bytes;
};

class ReadAdapter;
using StreamFulfiller = kj::PromiseFulfiller<kj::Own<kj::AsyncIoStream>>;
}  // namespace

struct SimNetwork::Host {
  std::string name;
  Reactor* reactor;
  bool down = false;
  Clock::duration extra{};
  std::map<std::uint16_t, Listener*> listeners;
  std::uint16_t next_port = 40000;
  std::unique_ptr<HostTransport> transport;
};

struct SimNetwork::Pipe {
  Host* from = nullptr;
  Host* to = nullptr;
  std::deque<Chunk> in_flight;
  std::optional<Key> scheduled;  // its first chunk's place in the queue
  Clock::time_point last_at{};
  std::vector<unsigned char> arrived;
  std::size_t taken = 0;  // of `arrived`
  bool eof = false;       // delivered to the reader
  bool reset = false;     // delivered to the reader
  bool eof_sent = false;
  bool reader_gone = false;
  ReadAdapter* reader = nullptr;
  bool wake_posted = false;

  std::size_t take(unsigned char* out, std::size_t max) {
    const std::size_t n = std::min(max, arrived.size() - taken);
    if (n > 0) std::memcpy(out, arrived.data() + taken, n);
    taken += n;
    if (taken == arrived.size()) {
      arrived.clear();
      taken = 0;
    }
    return n;
  }
};

struct SimNetwork::Connection {
  Pipe pipes[2];
  bool broken = false;
  bool closed[2] = {false, false};
};

namespace {
kj::Exception reset_error() { return KJ_EXCEPTION(DISCONNECTED, "simulated connection reset"); }

// A read waiting for bytes; the stream detaches it if it goes first.
class ReadAdapter {
 public:
  ReadAdapter(kj::PromiseFulfiller<std::size_t>& fulfiller, SimNetwork::Pipe& pipe,
              unsigned char* buffer, std::size_t min_bytes, std::size_t max_bytes,
              std::size_t filled)
      : fulfiller_(fulfiller),
        pipe_(&pipe),
        buffer_(buffer),
        min_(min_bytes),
        max_(max_bytes),
        filled_(filled) {
    pipe.reader = this;
  }
  ~ReadAdapter() { detach(); }
  ReadAdapter(const ReadAdapter&) = delete;
  ReadAdapter& operator=(const ReadAdapter&) = delete;

  void detach() noexcept {
    if (pipe_ != nullptr && pipe_->reader == this) pipe_->reader = nullptr;
    pipe_ = nullptr;
  }

  // The pipe has more, an end or a reset: settles the read once it can.
  void progress() {
    SimNetwork::Pipe& p = *pipe_;
    if (p.reset) {
      detach();
      fulfiller_.reject(reset_error());
      return;
    }
    filled_ += p.take(buffer_ + filled_, max_ - filled_);
    if (filled_ >= min_ || p.eof) {
      detach();
      fulfiller_.fulfill(kj::cp(filled_));
    }
  }

 private:
  kj::PromiseFulfiller<std::size_t>& fulfiller_;
  SimNetwork::Pipe* pipe_;
  unsigned char* buffer_;
  std::size_t min_;
  std::size_t max_;
  std::size_t filled_;
};

// Where a pending accept or connect waits; whoever goes first clears it.
struct FulfillerSlot {
  StreamFulfiller* fulfiller = nullptr;
};

class SlotAdapter {
 public:
  SlotAdapter(StreamFulfiller& fulfiller, std::shared_ptr<FulfillerSlot> slot)
      : slot_(std::move(slot)) {
    slot_->fulfiller = &fulfiller;
  }
  ~SlotAdapter() { slot_->fulfiller = nullptr; }
  SlotAdapter(const SlotAdapter&) = delete;
  SlotAdapter& operator=(const SlotAdapter&) = delete;

 private:
  std::shared_ptr<FulfillerSlot> slot_;
};
}  // namespace

// --- one end of a connection ------------------------------------------------------

class SimNetwork::Stream final : public kj::AsyncIoStream {
 public:
  Stream(SimNetwork& net, std::shared_ptr<Connection> c, int side)
      : net_(net), c_(std::move(c)), side_(side) {}
  ~Stream() {
    Pipe& in = c_->pipes[1 - side_];
    if (in.reader != nullptr) in.reader->detach();
    in.reader_gone = true;
    in.arrived.clear();
    in.taken = 0;
    if (!c_->broken && !c_->pipes[side_].eof_sent) net_.send_eof(c_, side_);
    c_->closed[side_] = true;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  kj::Promise<std::size_t> tryRead(void* buffer, std::size_t min_bytes,
                                   std::size_t max_bytes) override {
    Pipe& in = c_->pipes[1 - side_];
    if (in.reset) return reset_error();
    auto* out = static_cast<unsigned char*>(buffer);
    const std::size_t n = in.take(out, max_bytes);
    if (n >= min_bytes || in.eof) return n;
    return kj::newAdaptedPromise<std::size_t, ReadAdapter>(in, out, min_bytes, max_bytes, n);
  }

  kj::Promise<void> write(const void* buffer, std::size_t size) override {
    if (c_->pipes[1 - side_].reset) return reset_error();
    const auto* p = static_cast<const unsigned char*>(buffer);
    if (size > 0) net_.send(c_, side_, std::vector<unsigned char>(p, p + size));
    return kj::READY_NOW;
  }

  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override {
    if (c_->pipes[1 - side_].reset) return reset_error();
    std::vector<unsigned char> bytes;
    for (const auto& piece : pieces) bytes.insert(bytes.end(), piece.begin(), piece.end());
    if (!bytes.empty()) net_.send(c_, side_, std::move(bytes));
    return kj::READY_NOW;
  }

  kj::Promise<void> whenWriteDisconnected() override { return kj::NEVER_DONE; }

  void shutdownWrite() override {
    if (!c_->pipes[side_].eof_sent) net_.send_eof(c_, side_);
  }
  void abortRead() override {
    Pipe& in = c_->pipes[1 - side_];
    in.reader_gone = true;
    in.arrived.clear();
    in.taken = 0;
  }

 private:
  SimNetwork& net_;
  std::shared_ptr<Connection> c_;
  int side_;
};

// --- listening and connecting ------------------------------------------------------

class SimNetwork::Listener final : public kj::ConnectionReceiver {
 public:
  Listener(SimNetwork& net, Host& host, std::uint16_t port)
      : net_(net), host_(host), port_(net.listen(host, port, *this)) {}
  ~Listener() {
    net_.unlisten(host_, port_);
    waiting_->fulfiller = nullptr;
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  kj::Promise<kj::Own<kj::AsyncIoStream>> accept() override {
    if (!backlog_.empty()) {
      kj::Own<kj::AsyncIoStream> s = kj::mv(backlog_.front());
      backlog_.pop_front();
      return kj::mv(s);
    }
    return kj::newAdaptedPromise<kj::Own<kj::AsyncIoStream>, SlotAdapter>(waiting_);
  }
  kj::uint getPort() override { return port_; }

  // A connection arrived (in a step of this host's node).
  void arrived(std::shared_ptr<Connection> c) {
    kj::Own<kj::AsyncIoStream> s = kj::heap<Stream>(net_, std::move(c), 1);
    if (auto* f = std::exchange(waiting_->fulfiller, nullptr)) {
      f->fulfill(kj::mv(s));
    } else {
      backlog_.push_back(kj::mv(s));
    }
  }

 private:
  SimNetwork& net_;
  Host& host_;
  std::uint16_t port_;
  std::shared_ptr<FulfillerSlot> waiting_ = std::make_shared<FulfillerSlot>();
  std::deque<kj::Own<kj::AsyncIoStream>> backlog_;
};

class SimNetwork::HostTransport final : public detail::Transport {
 public:
  HostTransport(SimNetwork& net, Host& host) : net_(net), host_(host) {}

  void check_bind(std::string_view flag, const std::string& address) const override {
    if (address != host_.name && address != "0.0.0.0") {
      throw UsageError(
          fmt::format("{} {} is not an address of simulated host {}", flag, address, host_.name));
    }
  }
  std::string default_advertise(const std::string&, const std::string&,
                                std::uint16_t) const override {
    return host_.name;
  }
  kj::Own<kj::ConnectionReceiver> listen(const std::string&, std::uint16_t port) override {
    return kj::heap<Listener>(net_, host_, port);
  }
  kj::Promise<kj::Own<kj::AsyncIoStream>> connect(const std::string& host,
                                                  std::uint16_t port) override {
    auto slot = std::make_shared<FulfillerSlot>();
    net_.connect(host_, host, port, [&net = net_, slot](std::shared_ptr<Connection> c) {
      auto* f = std::exchange(slot->fulfiller, nullptr);
      if (!c) {
        if (f != nullptr) f->reject(KJ_EXCEPTION(DISCONNECTED, "simulated connection refused"));
        return;
      }
      kj::Own<kj::AsyncIoStream> s = kj::heap<Stream>(net, std::move(c), 0);
      if (f != nullptr) f->fulfill(kj::mv(s));  // else its end closes here
    });
    return kj::newAdaptedPromise<kj::Own<kj::AsyncIoStream>, SlotAdapter>(slot);
  }
  bool datagrams() const noexcept override { return false; }

 private:
  SimNetwork& net_;
  Host& host_;
};

// --- the network ------------------------------------------------------------------

SimNetwork::SimNetwork(std::mt19937_64& rng, Options options) : rng_(rng), options_(options) {}

SimNetwork::~SimNetwork() = default;

detail::Transport& SimNetwork::host(const std::string& name, Reactor& reactor) {
  auto& h = hosts_[name];
  if (!h) {
    h = std::make_unique<Host>(Host{.name = name, .reactor = &reactor});
    h->transport = std::make_unique<HostTransport>(*this, *h);
  }
  h->reactor = &reactor;
  h->down = false;
  return *h->transport;
}

void SimNetwork::detach(const std::string& name) {
  if (Host* h = find(name)) {
    crash(name);
    h->reactor = nullptr;
  }
}

SimNetwork::Host* SimNetwork::find(const std::string& name) {
  auto it = hosts_.find(name);
  return it == hosts_.end() ? nullptr : it->second.get();
}

Clock::duration SimNetwork::latency(const Host& from, const Host& to) {
  Clock::duration d = options_.min_latency;
  const auto span = (options_.max_latency - options_.min_latency).count();
  if (span > 0) d += Clock::duration(static_cast<Clock::rep>(rng_() % (span + 1)));
  return d + from.extra + to.extra;
}

bool SimNetwork::partitioned(const Host& a, const Host& b) const {
  return partitions_.count(std::minmax(a.name, b.name)) > 0;
}

void SimNetwork::at(Clock::time_point when, std::function<void()> run) {
  queue_.emplace(Key{when, next_seq_++}, Event{nullptr, 0, std::move(run)});
}

void SimNetwork::post_to(Host& host, std::function<void()> f) {
  if (host.reactor == nullptr) return;
  host.reactor->post([f = std::move(f)] {
    detail::KjAsioEventPort::CompletionScope run_kj_after;
    f();
  });
}

std::optional<Clock::time_point> SimNetwork::next_delivery() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first.first;
}

void SimNetwork::deliver_due(Clock::time_point now) {
  while (!queue_.empty() && queue_.begin()->first.first <= now) {
    auto node = queue_.extract(queue_.begin());
    Event& e = node.mapped();
    if (e.connection) {
      e.connection->pipes[e.direction].scheduled.reset();
      deliver_head(e.connection, e.direction);
    } else {
      e.run();
    }
  }
}

void SimNetwork::schedule_head(const std::shared_ptr<Connection>& c, int d) {
  Pipe& p = c->pipes[d];
  if (p.scheduled || p.in_flight.empty() || partitioned(*p.from, *p.to)) return;
  const Key key{std::max(p.in_flight.front().at, Clock::now()), next_seq_++};
  queue_.emplace(key, Event{c, d, {}});
  p.scheduled = key;
}

void SimNetwork::unschedule(Pipe& p) {
  if (p.scheduled) queue_.erase(*std::exchange(p.scheduled, std::nullopt));
}

void SimNetwork::deliver_head(const std::shared_ptr<Connection>& c, int d) {
  Pipe& p = c->pipes[d];
  Chunk chunk = std::move(p.in_flight.front());
  p.in_flight.pop_front();
  switch (chunk.kind) {
    case Chunk::data:
      if (!p.reader_gone && !p.to->down) {
        p.arrived.insert(p.arrived.end(), chunk.bytes.begin(), chunk.bytes.end());
      }
      break;
    case Chunk::eof:
      p.eof = true;
      break;
    case Chunk::reset:
      p.reset = true;
      p.arrived.clear();
      p.taken = 0;
      break;
  }
  wake_reader(c, d);
  schedule_head(c, d);
}

void SimNetwork::wake_reader(const std::shared_ptr<Connection>& c, int d) {
  Pipe& p = c->pipes[d];
  if (p.reader == nullptr || p.wake_posted) return;
  p.wake_posted = true;
  post_to(*p.to, [c, d] {
    Pipe& pipe = c->pipes[d];
    pipe.wake_posted = false;
    if (pipe.reader != nullptr) pipe.reader->progress();
  });
}

void SimNetwork::send(const std::shared_ptr<Connection>& c, int d,
                      std::vector<unsigned char> bytes) {
  Pipe& p = c->pipes[d];
  if (c->broken || p.from->down || p.eof_sent) return;
  p.last_at = std::max(Clock::now() + latency(*p.from, *p.to), p.last_at);
  p.in_flight.push_back(Chunk{p.last_at, Chunk::data, std::move(bytes)});
  schedule_head(c, d);
}

void SimNetwork::send_eof(const std::shared_ptr<Connection>& c, int d) {
  Pipe& p = c->pipes[d];
  if (c->broken || p.eof_sent) return;
  p.eof_sent = true;
  p.last_at = std::max(Clock::now() + latency(*p.from, *p.to), p.last_at);
  p.in_flight.push_back(Chunk{p.last_at, Chunk::eof, {}});
  schedule_head(c, d);
}

std::shared_ptr<SimNetwork::Connection> SimNetwork::make_connection(Host& from, Host& to) {
  auto c = std::make_shared<Connection>();
  c->pipes[0].from = &from;
  c->pipes[0].to = &to;
  c->pipes[1].from = &to;
  c->pipes[1].to = &from;
  connections_.push_back(c);
  return c;
}

void SimNetwork::connect(Host& from, const std::string& to, std::uint16_t port,
                         std::function<void(std::shared_ptr<Connection>)> done) {
  Host* target = find(to);
  const auto there = Clock::now() + (target ? latency(from, *target) : options_.min_latency);
  at(there, [this, &from, target, port, done = std::move(done)] {
    const bool refused = target == nullptr || target->down || from.down ||
                         partitioned(from, *target) || target->listeners.count(port) == 0;
    const auto back = Clock::now() + (target ? latency(*target, from) : options_.min_latency);
    if (refused) {
      at(back, [this, &from, done] { post_to(from, [done] { done(nullptr); }); });
      return;
    }
    auto c = make_connection(from, *target);
    post_to(*target, [this, target, port, c] {
      auto it = target->listeners.find(port);
      if (it == target->listeners.end()) {
        break_connection(c);
        return;
      }
      it->second->arrived(c);
    });
    at(back, [this, &from, c, done] { post_to(from, [c, done] { done(c); }); });
  });
}

std::uint16_t SimNetwork::listen(Host& host, std::uint16_t port, Listener& listener) {
  if (port == 0) {
    while (host.listeners.count(host.next_port) > 0) ++host.next_port;
    port = host.next_port++;
  } else if (host.listeners.count(port) > 0) {
    throw std::system_error(std::make_error_code(std::errc::address_in_use));
  }
  host.listeners.emplace(port, &listener);
  return port;
}

void SimNetwork::unlisten(Host& host, std::uint16_t port) noexcept { host.listeners.erase(port); }

void SimNetwork::break_connection(const std::shared_ptr<Connection>& c) {
  if (c->broken) return;
  c->broken = true;
  for (int d = 0; d < 2; ++d) {
    Pipe& p = c->pipes[d];
    unschedule(p);
    p.in_flight.clear();
    p.last_at = Clock::now() + latency(*p.from, *p.to);
    p.in_flight.push_back(Chunk{p.last_at, Chunk::reset, {}});
    schedule_head(c, d);
  }
}

std::vector<std::shared_ptr<SimNetwork::Connection>> SimNetwork::open_connections() {
  // Broken ones stay listed while they live: a partition may still hold
  // their resets, which its heal must deliver.
  std::erase_if(connections_, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
  std::vector<std::shared_ptr<Connection>> open;
  for (const auto& w : connections_) {
    auto c = w.lock();
    if (c && !c->broken && !c->closed[0] && !c->closed[1]) open.push_back(std::move(c));
  }
  return open;
}

std::size_t SimNetwork::connections() { return open_connections().size(); }

void SimNetwork::drop(std::size_t connection) {
  auto open = open_connections();
  if (connection < open.size()) break_connection(open[connection]);
}

template <typename F>
void SimNetwork::between(const std::string& a, const std::string& b, F f) {
  for (const auto& w : connections_) {
    auto c = w.lock();
    if (!c) continue;
    const std::string& x = c->pipes[0].from->name;
    const std::string& y = c->pipes[0].to->name;
    if ((x == a && y == b) || (x == b && y == a)) f(c);
  }
}

void SimNetwork::crash(const std::string& name) {
  Host* h = find(name);
  if (h == nullptr) return;
  h->down = true;
  for (const auto& w : connections_) {
    auto c = w.lock();
    if (c && (c->pipes[0].from == h || c->pipes[0].to == h)) break_connection(c);
  }
}

void SimNetwork::partition(const std::string& a, const std::string& b) {
  partitions_.insert(std::minmax(a, b));
  between(a, b, [&](const std::shared_ptr<Connection>& c) {
    unschedule(c->pipes[0]);
    unschedule(c->pipes[1]);
  });
}

void SimNetwork::heal(const std::string& a, const std::string& b) {
  partitions_.erase(std::minmax(a, b));
  between(a, b, [&](const std::shared_ptr<Connection>& c) {
    schedule_head(c, 0);
    schedule_head(c, 1);
  });
}

void SimNetwork::set_slow(const std::string& host, Clock::duration extra) {
  if (Host* h = find(host)) h->extra = extra;
}

}  // namespace weft::sim
