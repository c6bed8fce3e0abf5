// Node bodies; compiled once into libweft.
#include <fmt/format.h>

#include "weft/core/pinned_executor.hpp"
#include "weft/core/serial_executor.hpp"
#include "weft/error.hpp"
#include "weft/node/node.hpp"
#include "weft/remote/invoke.hpp"
#include "weft/remote/registry.hpp"

namespace weft {

namespace {
unsigned thread_count(unsigned requested) { return requested != 0 ? requested : available_cpus(); }

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
      own_reactor_(std::make_unique<Reactor>()),
      reactor_(*own_reactor_),
      pool_(std::make_unique<ThreadPool>(
          ThreadPoolOptions{.threads = thread_count(options_.threads),
                            .on_thread_start = [this](unsigned) { bind_thread(); }})),
      executor_(*pool_),
      scheduler_(executor_, capacity_of(options_)) {}

Node::Node(NodeOptions options, detail::SimulatedThreads threads)
    : options_(std::move(options)),
      store_(options_.id, options_.store),
      reactor_(threads.reactor),
      executor_(threads.executor),
      scheduler_(executor_, capacity_of(options_)) {}

Node::~Node() {
  scheduler_.wait_until_idle();
  cluster_.reset();
  {
    std::map<std::string, std::shared_ptr<detail::ActorRecord>> named;
    {
      std::lock_guard lock(actors_mutex_);
      named.swap(named_actors_);
    }
    for (auto& [name, record] : named) record->kill();
  }
  for (auto n = live_actors_.load(); n != 0; n = live_actors_.load()) {
    detail::wait_changed(live_actors_, n);
  }
  own_reactor_.reset();  // before the pool its handlers post to
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

void Node::submit(detail::TaskSpecPtr spec) {
  if (cluster_) {
    cluster_->submit(std::move(spec));
  } else {
    scheduler_.submit(std::move(spec));
  }
}

void Node::start_cluster(const ClusterOptions& options) {
  start(detail::make_cluster(*this, options));
}

void Node::start_cluster(const ClusterOptions& options, detail::Transport& transport) {
  start(detail::make_cluster(*this, options, transport));
}

void Node::start(std::unique_ptr<detail::ClusterLink> cluster) {
  cluster_ = std::move(cluster);
  try {
    cluster_->start();
  } catch (...) {
    cluster_.reset();
    throw;
  }
}

std::uint64_t Node::next_actor_id() noexcept {
  // Unique cluster-wide without coordination, like ObjectIds: node id + sequence.
  return (options_.id * 0x9e3779b97f4a7c15ULL) ^
         (actor_sequence_.fetch_add(1, std::memory_order_relaxed) + 1);
}

std::shared_ptr<detail::ActorRecord> Node::make_record(const ActorOptions& options,
                                                       std::string class_name, std::uint64_t id,
                                                       NodeId home) {
  std::unique_ptr<Executor> executor;
  if (options.dedicated_thread && home == options_.id && pool_) {
    executor = std::make_unique<PinnedExecutor>("weft-" + class_name, [this] { bind_thread(); });
  } else {
    executor = std::make_unique<SerialExecutor>(executor_);
  }
  live_actors_.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<detail::ActorRecord> record(
      new detail::ActorRecord(*this, std::move(executor), options, std::move(class_name), id, home),
      [this](detail::ActorRecord* r) { reap(r); });
  std::lock_guard lock(actors_mutex_);
  actors_by_id_[id] = record;
  return record;
}

Task<std::shared_ptr<detail::ActorRecord>> Node::create_actor(ActorOptions options,
                                                              std::string class_name,
                                                              std::uint64_t constructor_id,
                                                              detail::ActorArguments args) {
  if (cluster_) {
    const NodeId target = cluster_->place_actor(options);
    if (target != options_.id) {
      co_return co_await cluster_->create_remote_actor(
          target, std::move(options), std::move(class_name), constructor_id, std::move(args));
    }
  }
  // Here the refs inside the arguments are the caller's, alive until it resumes.
  co_return co_await create_local_actor(std::move(options), std::move(class_name), constructor_id,
                                        std::move(args.bytes));
}

Task<std::shared_ptr<detail::ActorRecord>> Node::create_local_actor(ActorOptions options,
                                                                    std::string class_name,
                                                                    std::uint64_t constructor_id,
                                                                    std::vector<std::byte> args,
                                                                    std::uint64_t actor_id) {
  const detail::RegistryEntry* ctor = detail::find_registered(constructor_id);
  if (ctor == nullptr || ctor->construct == nullptr) {
    throw Error(fmt::format("this build has no constructor {:#x} for actor {}", constructor_id,
                            class_name));
  }
  const std::string who = options.name.empty()
                              ? fmt::format("actor {}", class_name)
                              : fmt::format("actor {} '{}'", class_name, options.name.view());
  // Placed in a bundle this node has not heard of yet: the head's view is on its way.
  co_await scheduler_.until_heard_of(options.placement.group);
  scheduler_.reserve(options.resources, who, detail::BundleKey::of(options.placement));
  auto record =
      make_record(options, class_name, actor_id != 0 ? actor_id : next_actor_id(), options_.id);
  if (!options.name.empty()) {
    bool inserted;
    {
      std::lock_guard lock(actors_mutex_);
      inserted = named_actors_.emplace(options.name.str(), record).second;
    }
    if (!inserted) {
      record->kill();
      throw UsageError(
          fmt::format("an actor named '{}' already exists on this node; choose another name, or "
                      "get_actor('{}') to use the existing one",
                      options.name.view(), options.name.view()));
    }
    if (cluster_) {
      std::exception_ptr taken;
      try {
        // A named location, not a braced temporary: GCC 12 destroys braced
        // aggregates in a co_await expression twice.
        const detail::ActorLocation where{options_.id, record->id(), class_name};
        co_await cluster_->register_name(where, options.name.str());
      } catch (...) {
        taken = std::current_exception();
      }
      if (taken) {
        record->kill();
        std::rethrow_exception(taken);
      }
    }
  }
  Executor* caller = current_executor();
  co_await resume_on(record->executor());
  std::exception_ptr failure;
  try {
    ctor->construct(*record, args);
  } catch (...) {
    failure = detail::as_task_error(std::current_exception(), class_name + "::" + class_name);
    record->kill();
  }
  if (caller != nullptr) co_await resume_on(*caller);
  if (failure) std::rethrow_exception(failure);
  co_return record;
}

Task<std::shared_ptr<detail::ActorRecord>> Node::find_named_actor(std::string name) {
  {
    std::lock_guard lock(actors_mutex_);
    if (auto it = named_actors_.find(name); it != named_actors_.end()) co_return it->second;
  }
  if (!cluster_) co_return nullptr;
  auto where = co_await cluster_->lookup_name(name);
  if (!where) co_return nullptr;
  co_return resolve_actor(where->home, where->actor_id, where->class_name);
}

std::shared_ptr<detail::ActorRecord> Node::actor(std::uint64_t actor_id) {
  std::lock_guard lock(actors_mutex_);
  auto it = actors_by_id_.find(actor_id);
  return it != actors_by_id_.end() ? it->second.lock() : nullptr;
}

std::shared_ptr<detail::ActorRecord> Node::resolve_actor(NodeId home, std::uint64_t actor_id,
                                                         std::string_view class_name) {
  if (auto record = actor(actor_id)) return record;
  if (home == options_.id) {
    throw ActorDiedError(
        fmt::format("actor {} {:#x} no longer exists on this node", class_name, actor_id));
  }
  return make_record(ActorOptions{}, std::string(class_name), actor_id, home);
}

void Node::forward_call(detail::ActorRecord& proxy, detail::TaskSpecPtr call) {
  cluster_->forward_call(proxy, std::move(call));
}

void Node::actor_died(detail::ActorRecord& actor) noexcept {
  if (actor.is_proxy()) {
    cluster_->kill_remote(actor.home(), actor.id());
    return;
  }
  scheduler_.unreserve(actor.options().resources, detail::BundleKey::of(actor.options().placement));
  if (cluster_ && !actor.options().name.empty()) cluster_->forget_name(actor.id());
  std::shared_ptr<detail::ActorRecord> dropped;  // released outside the lock
  std::lock_guard lock(actors_mutex_);
  auto it = named_actors_.find(actor.options().name.str());
  if (it != named_actors_.end() && it->second.get() == &actor) {
    dropped = std::move(it->second);
    named_actors_.erase(it);
  }
}

Task<PlacementGroup> Node::create_placement_group(PlacementStrategy strategy,
                                                  std::vector<Resources> bundles) {
  if (cluster_) co_return co_await cluster_->create_placement_group(strategy, std::move(bundles));
  if (bundles.empty()) throw UsageError("a placement group needs at least one bundle");
  if (strategy == PlacementStrategy::strict_spread && bundles.size() > 1) {
    throw InfeasibleError(
        fmt::format("STRICT_SPREAD needs {} nodes; this node runs alone", bundles.size()));
  }
  PlacementGroup group{.id = next_group_id_.fetch_add(1, std::memory_order_relaxed),
                       .strategy = strategy,
                       .bundles = std::move(bundles),
                       .bundle_nodes = {}};
  scheduler_.add_group(group.id, group.bundles, std::string(to_string(strategy)));
  group.bundle_nodes.assign(group.bundles.size(), options_.id);
  co_return group;
}

Task<void> Node::remove_placement_group(std::uint64_t group_id) {
  if (cluster_) {
    co_await cluster_->remove_placement_group(group_id);
    co_return;
  }
  scheduler_.remove_group(group_id);
}

Task<void> Node::kv_put(std::string key, std::string value) {
  if (cluster_) {
    co_await cluster_->kv_put(std::move(key), std::move(value));
    co_return;
  }
  local_kv_.kv_put(std::move(key), std::move(value));
}

Task<std::optional<std::string>> Node::kv_get(std::string key) {
  if (cluster_) co_return co_await cluster_->kv_get(std::move(key));
  co_return local_kv_.kv_get(key);
}

Task<bool> Node::kv_delete(std::string key) {
  if (cluster_) co_return co_await cluster_->kv_delete(std::move(key));
  co_return local_kv_.kv_erase(key);
}

Task<std::vector<std::string>> Node::kv_keys(std::string prefix) {
  if (cluster_) co_return co_await cluster_->kv_keys(std::move(prefix));
  co_return local_kv_.kv_keys(prefix);
}

void Node::reap(detail::ActorRecord* record) noexcept {
  // The last reference may drop inside one of the actor's own jobs: finish
  // on the pool, once the actor's executor has gone quiet.
  executor_.post(Job{&Node::reap_job, record});
}

void Node::reap_job(void* p) noexcept {
  auto* record = static_cast<detail::ActorRecord*>(p);
  auto& node = static_cast<Node&>(record->runtime());
  auto* serial = dynamic_cast<SerialExecutor*>(&record->executor());
  if (serial != nullptr && !serial->idle()) {
    node.executor_.post(Job{&Node::reap_job, record});
    return;
  }
  if (record->alive() && !record->is_proxy()) {
    node.scheduler_.unreserve(record->options().resources,
                              detail::BundleKey::of(record->options().placement));
  }
  {
    std::lock_guard lock(node.actors_mutex_);
    auto it = node.actors_by_id_.find(record->id());
    if (it != node.actors_by_id_.end() && it->second.expired()) node.actors_by_id_.erase(it);
  }
  if (serial == nullptr) {
    // A dedicated thread: run the destructor there, then stop the thread
    // (it drains that job first), so the record has nothing left to destroy.
    record->executor().post(
        Job{[](void* r) noexcept { static_cast<detail::ActorRecord*>(r)->destroy_instance(); },
            record});
    record->stop_executor();
  }
  delete record;
  if (node.live_actors_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    node.live_actors_.notify_all();
  }
}

}  // namespace weft
