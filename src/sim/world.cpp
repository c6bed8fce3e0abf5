#include "sim/world.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "weft/error.hpp"

namespace weft::sim {

namespace {
constexpr const char* cluster_token = "weft-simulated-cluster";
World* active_world = nullptr;

std::string host_name(unsigned n) { return fmt::format("10.0.{}.{}", n / 250, 1 + n % 250); }
}  // namespace

SimulationFailure::SimulationFailure(const std::string& what, std::uint64_t step, std::string trace)
    : std::runtime_error(what), step_(step), trace_(std::move(trace)) {}

// --- SimNode ---------------------------------------------------------------------

SimNode::SimNode(const std::string& host, NodeId id, unsigned cpus, std::size_t store_bytes)
    : host_(host), reactor_(StepByHand{}, "sim-" + host) {
  NodeOptions options;
  options.id = id;
  options.threads = cpus;
  options.resources = Resources{.cpu = static_cast<double>(cpus)};
  options.store.capacity = store_bytes;
  node_ = new Node(std::move(options), detail::SimulatedThreads{reactor_, executor_});
}

SimNode::~SimNode() {
  if (node_ != nullptr) shut_down();
}

void SimNode::shut_down() {
  delete node_;
  node_ = nullptr;
}

bool SimNode::ready() const noexcept {
  return const_cast<ManualExecutor&>(executor_).pending() > 0 || reactor_.ready();
}

void SimNode::step(bool pick_executor) {
  Node::ThreadScope scope(*node_);
  const bool has_job = executor_.pending() > 0;
  if (has_job && (pick_executor || !reactor_.ready())) {
    executor_.run_one();
  } else {
    reactor_.step_one();
  }
}

// --- World -----------------------------------------------------------------------

World::World(WorldOptions options)
    : options_(std::move(options)),
      rng_(options_.seed),
      start_(Clock::time_point(std::chrono::hours(1))),
      now_(start_),
      network_(rng_, options_.faults.delay
                         ? SimNetwork::Options{}
                         : SimNetwork::Options{.min_latency = 100us, .max_latency = 100us}),
      faults_(options_.faults, options_.fault_interval),
      trace_(options_.trace_steps) {
  if (active_world != nullptr)
    throw UsageError("weft::sim::World: one world at a time per process");
  active_world = this;
  // The nodes' joins, deaths and dropped links are what the world is for:
  // only errors are printed.
  saved_log_level_ = log_level();
  set_log_level(LogLevel::error);
  detail::install_simulated_time(this);
  saved_pump_ = std::exchange(detail::tls_blocking_pump, static_cast<detail::BlockingPump*>(this));
  faults_.start(now_, rng_);

  auto& head = *nodes_.emplace_back(std::make_unique<SimNode>(
      host_name(next_host_++), draw_id(), options_.cpus_per_node, options_.store_bytes));
  ClusterOptions c;
  c.head = true;
  c.bind_host = head.host();
  c.token = cluster_token;
  head.node().start_cluster(c, network_.host(head.host(), head.reactor_));
  head_port_ = head.node().cluster()->port();
  note(fmt::format("head {} ({:x}) listening on port {}", head.host(), head.id(), head_port_));
  for (unsigned i = 1; i < options_.nodes; ++i) add_node();
}

World::~World() {
  // Taking the nodes apart is not part of a replay, and may wait for what a
  // failed run left running.
  options_.max_steps = 0;
  options_.hang_limit = std::chrono::hours(1);
  try {
    calm();
    // Workers first, so each leaves a head that still answers; a crashed
    // node is stepped again only to take it apart (its links are down).
    for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
      (*it)->crashed_ = false;
      (*it)->shut_down();
      network_.detach((*it)->host());
    }
    nodes_.clear();
  } catch (...) {
    // A run that failed may leave a node that cannot be taken apart (a
    // wait that never ends): it is left, not destroyed, so the failure
    // reaches the caller instead of terminating the process.
    for (auto& n : nodes_) static_cast<void>(n.release());
  }
  detail::tls_blocking_pump = saved_pump_;
  detail::install_simulated_time(nullptr);
  set_log_level(saved_log_level_);
  active_world = nullptr;
}

World* World::current() noexcept { return active_world; }

std::vector<SimNode*> World::alive() {
  std::vector<SimNode*> out;
  for (auto& n : nodes_) {
    if (!n->crashed_) out.push_back(n.get());
  }
  return out;
}

NodeId World::draw_id() {
  for (;;) {
    const NodeId id = rng_() >> 16;
    const bool taken = std::any_of(nodes_.begin(), nodes_.end(),
                                   [&](const auto& n) { return n && n->id() == id; });
    if (id != 0 && !taken) return id;
  }
}

SimNode& World::add_node() {
  const FaultPlan::Pause pause(faults_);  // starting blocks: no fault lands inside it
  auto& n = *nodes_.emplace_back(std::make_unique<SimNode>(
      host_name(next_host_++), draw_id(), options_.cpus_per_node, options_.store_bytes));
  ClusterOptions c;
  c.head = false;
  c.head_host = head().host();
  c.head_port = head_port_;
  c.bind_host = n.host();
  c.token = cluster_token;
  n.node().start_cluster(c, network_.host(n.host(), n.reactor_));
  note(fmt::format("node {} ({:x}) joined", n.host(), n.id()));
  return n;
}

void World::crash(std::size_t i) {
  SimNode& n = *nodes_.at(i);
  if (i == 0) throw UsageError("weft::sim::World::crash: the head cannot crash (yet)");
  if (n.crashed_) return;
  n.crashed_ = true;
  network_.crash(n.host());
  note(fmt::format("CRASH node {} ({:x})", n.host(), n.id()));
}

void World::slow(std::size_t i, Clock::duration extra) {
  SimNode& n = *nodes_.at(i);
  n.weight_ = extra == Clock::duration::zero() ? 4 : 1;
  network_.set_slow(n.host(), extra);
}

void World::calm() {
  faults_.stop();
  for (auto& undo : faults_.take_all_pending()) undo.apply(*this);
  for (auto& n : nodes_) n->weight_ = 4;
}

void World::run_for(Clock::duration d) {
  run_until([] { return false; }, now_ + d);
}

bool World::run_until(const std::function<bool()>& done,
                      std::optional<Clock::time_point> deadline) {
  ++pump_depth_;
  struct Depth {
    unsigned& d;
    ~Depth() { --d; }
  } depth{pump_depth_};
  const auto hang_at = now_ + options_.hang_limit;
  const std::uint64_t hang_step = steps_ + options_.hang_steps;
  while (!done()) {
    if (deadline && now_ >= *deadline) return false;
    if (!deadline && now_ >= hang_at) {
      fail(fmt::format(
          "hang: a blocking wait lasted more than {} s of simulated time",
          std::chrono::duration_cast<std::chrono::seconds>(options_.hang_limit).count()));
    }
    if (!deadline && steps_ >= hang_step) {
      fail(fmt::format("livelock: a blocking wait ran {} steps without ending",
                       options_.hang_steps));
    }
    if (step()) continue;
    const auto next = next_event();
    if (deadline && (!next || *next > *deadline)) {
      advance_to(*deadline);
      return done();
    }
    if (!next) fail("hang: a blocking wait can never end: no node has anything left to do");
    advance_to(std::min(*next, deadline.value_or(hang_at)));
  }
  return true;
}

bool World::step() {
  if (options_.max_steps != 0 && steps_ >= options_.max_steps) {
    throw StepLimitReached(
        fmt::format("seed {}: stopped after step {} as asked", options_.seed, steps_),
        trace_.render());
  }
  faults_.apply_due(*this);
  if (const auto d = network_.next_delivery(); d && *d <= now_) network_.deliver_due(now_);
  SimNode* ready[16];
  std::size_t count = 0;
  unsigned total = 0;
  std::vector<SimNode*> more;  // past 16 nodes (rare)
  for (auto& n : nodes_) {
    if (n->crashed_ || n->shut_down_done() || !n->ready()) continue;
    total += n->weight_;
    if (count < std::size(ready)) {
      ready[count++] = n.get();
    } else {
      more.push_back(n.get());
    }
  }
  if (total == 0) return false;
  unsigned pick = static_cast<unsigned>(rng_() % total);
  SimNode* chosen = nullptr;
  for (std::size_t i = 0; i < count + more.size() && chosen == nullptr; ++i) {
    SimNode* n = i < count ? ready[i] : more[i - count];
    if (pick < n->weight_) {
      chosen = n;
    } else {
      pick -= n->weight_;
    }
  }
  const bool pick_executor = (rng_() & 1) != 0;
  ++steps_;
  const auto index = static_cast<std::uint32_t>(
      std::find_if(nodes_.begin(), nodes_.end(), [&](const auto& n) { return n.get() == chosen; }) -
      nodes_.begin());
  trace_.step(steps_, now_ - start_, index, pick_executor);
  chosen->step(pick_executor);
  now_ += options_.step_cost;
  check_step(*chosen);
  return true;
}

std::optional<Clock::time_point> World::next_event() const {
  std::optional<Clock::time_point> next = network_.next_delivery();
  const auto consider = [&](std::optional<Clock::time_point> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  for (const auto& n : nodes_) {
    if (!n->crashed_ && !n->shut_down_done()) consider(n->reactor_.next_deadline());
  }
  consider(faults_.next_due());
  return next;
}

void World::advance_to(Clock::time_point t) {
  now_ = std::max(now_, t);
  if (const auto d = network_.next_delivery(); d && *d <= now_) network_.deliver_due(now_);
}

void World::check_step(SimNode& n) {
  const ObjectStore& store = n.node().store();
  // A count that went below zero wraps: a ref released once too often.
  if (store.live_objects() > (std::size_t{1} << 40)) {
    fail(fmt::format("refcount underflow on node {}: live objects reads {}", n.host(),
                     static_cast<std::int64_t>(store.live_objects())));
  }
  if (store.arena_bytes_used() > store.capacity()) {
    fail(fmt::format("node {} holds {} arena bytes of {}", n.host(), store.arena_bytes_used(),
                     store.capacity()));
  }
  if (!violations_.empty()) fail(violations_.front());
}

void World::violation(std::string what) { violations_.push_back(std::move(what)); }

void World::fail(const std::string& what) const {
  throw SimulationFailure(fmt::format("seed {}: {} (at step {}, t={:.6f}s)", options_.seed, what,
                                      steps_, std::chrono::duration<double>(now_ - start_).count()),
                          steps_, trace_.render());
}

void World::note(std::string line) { trace_.note(steps_, now_ - start_, std::move(line)); }

}  // namespace weft::sim
