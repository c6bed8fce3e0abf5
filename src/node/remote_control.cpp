// The control plane on a node other than the head: one request per call.
#include <utility>

#include "node/cluster.hpp"
#include "node/control_plane.hpp"
#include "node/wire.hpp"

namespace weft::detail {

namespace {

capnp::Data::Reader bytes_of(const std::string& s) {
  return kj::arrayPtr(reinterpret_cast<const capnp::byte*>(s.data()), s.size());
}

class RemoteControl final : public ControlPlane {
 public:
  explicit RemoteControl(Cluster& cluster) : cluster_(cluster) {}

 private:
  // Runs `make(head)` on the reactor and awaits the promise it returns;
  // TransportError while this node has no connection to the head.
  template <typename F>
  auto request(F make) {
    return run_on_kj(cluster_.reactor(), [this, make = std::move(make)]() mutable {
      return make(cluster_.head_client());
    });
  }

 public:
  Task<void> kv_put(std::string key, std::string value) override {
    co_await request([&](wire::Head::Client& head) {
      auto req = head.kvPutRequest();
      req.setKey(key);
      req.setValue(bytes_of(value));
      return req.send().ignoreResult();
    });
  }
  Task<std::optional<std::string>> kv_get(std::string key) override {
    co_return co_await request([&](wire::Head::Client& head) {
      auto req = head.kvGetRequest();
      req.setKey(key);
      return req.send().then([](capnp::Response<wire::Head::KvGetResults> r) {
        std::optional<std::string> value;
        if (r.getFound()) value.emplace(r.getValue().asChars().begin(), r.getValue().size());
        return value;
      });
    });
  }
  Task<bool> kv_delete(std::string key) override {
    co_return co_await request([&](wire::Head::Client& head) {
      auto req = head.kvDeleteRequest();
      req.setKey(key);
      return req.send().then(
          [](capnp::Response<wire::Head::KvDeleteResults> r) { return r.getExisted(); });
    });
  }
  Task<std::vector<std::string>> kv_keys(std::string prefix) override {
    co_return co_await request([&](wire::Head::Client& head) {
      auto req = head.kvKeysRequest();
      req.setPrefix(prefix);
      return req.send().then([](capnp::Response<wire::Head::KvKeysResults> r) {
        std::vector<std::string> keys;
        for (auto k : r.getKeys()) keys.emplace_back(k.cStr(), k.size());
        return keys;
      });
    });
  }

  Task<std::uint64_t> start_job(NodeId driver) override {
    co_return co_await request([&](wire::Head::Client& head) {
      auto req = head.startJobRequest();
      req.setDriverNode(driver);
      return req.send().then(
          [](capnp::Response<wire::Head::StartJobResults> r) { return r.getJobId(); });
    });
  }
  Task<void> finish_job(std::uint64_t job_id, NodeId driver) override {
    co_await request([&](wire::Head::Client& head) {
      auto req = head.finishJobRequest();
      req.setJobId(job_id);
      req.setDriverNode(driver);
      return req.send().ignoreResult();
    });
  }

  Task<void> register_actor(ActorEntry entry) override {
    co_await request([&](wire::Head::Client& head) {
      auto req = head.registerActorRequest();
      to_wire(req.initEntry(), entry);
      return req.send().ignoreResult();
    });
  }
  Task<std::optional<ActorEntry>> lookup_actor(std::string name) override {
    co_return co_await request([&](wire::Head::Client& head) {
      auto req = head.lookupActorRequest();
      req.setName(name);
      return req.send().then([](capnp::Response<wire::Head::LookupActorResults> r) {
        std::optional<ActorEntry> entry;
        if (r.getFound()) entry = from_wire(r.getEntry());
        return entry;
      });
    });
  }
  void forget_actor(std::uint64_t actor_id) override {
    cluster_.with_head([actor_id](wire::Head::Client& head) {
      ActorEntry e;
      e.actor_id = actor_id;
      e.state = ActorState::dead;
      auto req = head.updateActorRequest();
      to_wire(req.initEntry(), e);
      return req.send().ignoreResult();
    });
  }

  Task<PlacementGroup> create_placement_group(PlacementStrategy strategy,
                                              std::vector<Resources> bundles) override {
    co_return co_await request([&](wire::Head::Client& head) {
      auto req = head.createPlacementGroupRequest();
      req.setStrategy(to_wire(strategy));
      to_wire(req.initBundles(static_cast<unsigned>(bundles.size())), bundles);
      return req.send().then([&](capnp::Response<wire::Head::CreatePlacementGroupResults> r) {
        PlacementGroup g{r.getGroupId(), strategy, bundles, {}};
        for (auto n : r.getNodes()) g.bundle_nodes.push_back(n);
        return g;
      });
    });
  }
  void remove_placement_group(std::uint64_t group_id) override {
    cluster_.with_head([group_id](wire::Head::Client& head) {
      auto req = head.removePlacementGroupRequest();
      req.setGroupId(group_id);
      return req.send().ignoreResult();
    });
  }

 private:
  Cluster& cluster_;
};

}  // namespace

std::unique_ptr<ControlPlane> make_remote_control(Cluster& cluster) {
  return std::make_unique<RemoteControl>(cluster);
}

}  // namespace weft::detail
