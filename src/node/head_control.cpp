// The control plane on the head: the ControlStore, called in place.
#include <chrono>
#include <utility>

#include "node/control_plane.hpp"

namespace weft::detail {

std::uint64_t start_job_now(ControlStore& store, NodeId driver) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return store.start_job(driver,
                         std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

namespace {

class HeadControl final : public ControlPlane {
 public:
  HeadControl(ControlStore& store, std::function<void()> publish_view)
      : store_(store), publish_view_(std::move(publish_view)) {}

  Task<void> kv_put(std::string key, std::string value) override {
    store_.kv_put(std::move(key), std::move(value));
    co_return;
  }
  Task<std::optional<std::string>> kv_get(std::string key) override {
    co_return store_.kv_get(key);
  }
  Task<bool> kv_delete(std::string key) override { co_return store_.kv_erase(key); }
  Task<std::vector<std::string>> kv_keys(std::string prefix) override {
    co_return store_.kv_keys(prefix);
  }

  Task<std::uint64_t> start_job(NodeId driver) override { co_return start_job_now(store_, driver); }
  Task<void> finish_job(std::uint64_t job_id, NodeId) override {
    store_.finish_job(job_id);  // the head is never fenced
    co_return;
  }

  Task<void> register_actor(ActorEntry entry) override {
    store_.register_actor(std::move(entry));
    co_return;
  }
  Task<std::optional<ActorEntry>> lookup_actor(std::string name) override {
    co_return store_.lookup_actor(name);
  }
  void forget_actor(std::uint64_t actor_id) override { store_.mark_actor_dead(actor_id); }

  Task<PlacementGroup> create_placement_group(PlacementStrategy strategy,
                                              std::vector<Resources> bundles) override {
    PlacementGroup group = store_.create_placement_group(strategy, bundles);
    publish_view_();  // the nodes learn their bundles now, not at the next tick
    co_return group;
  }
  void remove_placement_group(std::uint64_t group_id) override {
    if (store_.remove_placement_group(group_id)) publish_view_();
  }

 private:
  ControlStore& store_;
  std::function<void()> publish_view_;
};

}  // namespace

std::unique_ptr<ControlPlane> make_head_control(ControlStore& store,
                                                std::function<void()> publish_view) {
  return std::make_unique<HeadControl>(store, std::move(publish_view));
}

}  // namespace weft::detail
