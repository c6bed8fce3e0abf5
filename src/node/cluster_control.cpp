// detail::Cluster: the head's key-value store and job table, reached from
// any node.
#include <chrono>

#include "node/cluster.hpp"

namespace weft::detail {

namespace {
capnp::Data::Reader bytes_of(const std::string& s) {
  return kj::arrayPtr(reinterpret_cast<const capnp::byte*>(s.data()), s.size());
}
}  // namespace

// --- key-value ------------------------------------------------------------------

Task<void> Cluster::kv_put(std::string key, std::string value) {
  co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<void> {
    if (is_head_) {
      store_->kv_put(std::move(key), std::move(value));
      return kj::READY_NOW;
    }
    auto req = head_client().kvPutRequest();
    req.setKey(key);
    req.setValue(bytes_of(value));
    return req.send().ignoreResult();
  });
}

Task<std::optional<std::string>> Cluster::kv_get(std::string key) {
  co_return co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<std::optional<std::string>> {
    if (is_head_) return store_->kv_get(key);
    auto req = head_client().kvGetRequest();
    req.setKey(key);
    return req.send().then([](capnp::Response<wire::Head::KvGetResults> r) {
      std::optional<std::string> value;
      if (r.getFound()) value.emplace(r.getValue().asChars().begin(), r.getValue().size());
      return value;
    });
  });
}

Task<bool> Cluster::kv_delete(std::string key) {
  co_return co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<bool> {
    if (is_head_) return store_->kv_erase(key);
    auto req = head_client().kvDeleteRequest();
    req.setKey(key);
    return req.send().then(
        [](capnp::Response<wire::Head::KvDeleteResults> r) { return r.getExisted(); });
  });
}

Task<std::vector<std::string>> Cluster::kv_keys(std::string prefix) {
  co_return co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<std::vector<std::string>> {
    if (is_head_) return store_->kv_keys(prefix);
    auto req = head_client().kvKeysRequest();
    req.setPrefix(prefix);
    return req.send().then([](capnp::Response<wire::Head::KvKeysResults> r) {
      std::vector<std::string> keys;
      for (auto k : r.getKeys()) keys.emplace_back(k.cStr(), k.size());
      return keys;
    });
  });
}

// --- jobs ---------------------------------------------------------------------------

std::uint64_t Cluster::start_job_on_head(NodeId driver) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return store_->start_job(driver,
                           std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

Task<std::uint64_t> Cluster::start_job() {
  co_return co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<std::uint64_t> {
    if (is_head_) return start_job_on_head(node_.node_id());
    auto req = head_client().startJobRequest();
    req.setDriverNode(node_.node_id());
    return req.send().then(
        [](capnp::Response<wire::Head::StartJobResults> r) { return r.getJobId(); });
  });
}

Task<void> Cluster::finish_job(std::uint64_t job_id) {
  co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<void> {
    if (is_head_) {
      store_->finish_job(job_id);
      return kj::READY_NOW;
    }
    auto req = head_client().finishJobRequest();
    req.setJobId(job_id);
    return req.send().ignoreResult();
  });
}

}  // namespace weft::detail
