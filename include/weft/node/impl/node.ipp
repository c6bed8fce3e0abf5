// Node bodies; compiled once into libweft.
#include <fmt/format.h>

#include "weft/core/pinned_executor.hpp"
#include "weft/core/serial_executor.hpp"
#include "weft/error.hpp"
#include "weft/node/node.hpp"

namespace weft {

namespace {
unsigned thread_count(unsigned requested) {
  if (requested != 0) return requested;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

Resources capacity_of(const NodeOptions& o) {
  if (o.resources) return *o.resources;
  Resources r;
  r.cpu = thread_count(o.threads);
  return r;
}
}  // namespace

Node::Node(NodeOptions options)
    : options_(std::move(options)),
      store_(options_.id, options_.store),
      pool_(ThreadPoolOptions{.threads = thread_count(options_.threads),
                              .on_thread_start = [this](unsigned) { bind_thread(); }}),
      reactor_(),
      scheduler_(pool_, capacity_of(options_)) {}

Node::~Node() {
  scheduler_.wait_until_idle();
  {
    std::map<std::string, std::shared_ptr<detail::ActorRecord>> named;
    {
      std::lock_guard lock(actors_mutex_);
      named.swap(named_actors_);
    }
    for (auto& [name, record] : named) record->kill();
  }
  for (auto n = live_actors_.load(); n != 0; n = live_actors_.load()) live_actors_.wait(n);
}

void Node::bind_thread() noexcept {
  detail::tls_current_runtime = this;
  detail::tls_current_store = &store_;
  detail::tls_current_reactor = &reactor_;
}

Node::ThreadScope::ThreadScope(Node& node) noexcept
    : runtime_(detail::tls_current_runtime),
      store_(detail::tls_current_store),
      reactor_(detail::tls_current_reactor) {
  node.bind_thread();
}

Node::ThreadScope::~ThreadScope() {
  detail::tls_current_runtime = runtime_;
  detail::tls_current_store = store_;
  detail::tls_current_reactor = reactor_;
}

std::shared_ptr<detail::ActorRecord> Node::place_actor(const ActorOptions& options,
                                                       std::string_view class_name,
                                                       const std::type_info&) {
  const std::string who = options.name.empty()
                              ? fmt::format("actor {}", class_name)
                              : fmt::format("actor {} '{}'", class_name, options.name);
  scheduler_.reserve(options.resources, who);
  std::unique_ptr<Executor> executor;
  if (options.dedicated_thread) {
    executor = std::make_unique<PinnedExecutor>(std::string("weft-") + std::string(class_name),
                                                [this] { bind_thread(); });
  } else {
    executor = std::make_unique<SerialExecutor>(pool_);
  }
  live_actors_.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<detail::ActorRecord> record(
      new detail::ActorRecord(*this, std::move(executor), options, std::string(class_name)),
      [this](detail::ActorRecord* r) { reap(r); });
  if (!options.name.empty()) {
    bool inserted;
    {
      std::lock_guard lock(actors_mutex_);
      inserted = named_actors_.emplace(options.name, record).second;
    }
    if (!inserted) {
      record->kill();
      throw Error(fmt::format("an actor named '{}' already exists; names are unique per node",
                              options.name));
    }
  }
  return record;
}

std::shared_ptr<detail::ActorRecord> Node::find_named_actor(const std::string& name) {
  std::lock_guard lock(actors_mutex_);
  auto it = named_actors_.find(name);
  return it == named_actors_.end() ? nullptr : it->second;
}

void Node::actor_died(detail::ActorRecord& actor) noexcept {
  scheduler_.unreserve(actor.options().resources);
  std::shared_ptr<detail::ActorRecord> dropped;  // released outside the lock
  std::lock_guard lock(actors_mutex_);
  auto it = named_actors_.find(actor.options().name);
  if (it != named_actors_.end() && it->second.get() == &actor) {
    dropped = std::move(it->second);
    named_actors_.erase(it);
  }
}

void Node::reap(detail::ActorRecord* record) noexcept {
  // The last reference may drop inside one of the actor's own jobs: finish
  // on the pool, once the actor's executor has gone quiet.
  pool_.post(Job{&Node::reap_job, record});
}

void Node::reap_job(void* p) noexcept {
  auto* record = static_cast<detail::ActorRecord*>(p);
  auto& node = static_cast<Node&>(record->runtime());
  auto* serial = dynamic_cast<SerialExecutor*>(&record->executor());
  if (serial != nullptr && !serial->idle()) {
    node.pool_.post(Job{&Node::reap_job, record});
    return;
  }
  if (record->alive()) node.scheduler_.unreserve(record->options().resources);
  if (serial == nullptr) {
    // A dedicated thread: run the destructor there; the executor drains
    // that job before its thread exits.
    record->executor().post(
        Job{[](void* r) noexcept { static_cast<detail::ActorRecord*>(r)->destroy_instance(); },
            record});
  }
  delete record;
  if (node.live_actors_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    node.live_actors_.notify_all();
  }
}

}  // namespace weft
