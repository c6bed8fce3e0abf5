// detail::Cluster: the head's key-value store and job table, reached from
// any node, and the head's snapshots of its control store.
#include <chrono>
#include <cstdio>

#include "node/cluster.hpp"

namespace weft::detail {

namespace {
constexpr auto snapshot_interval = std::chrono::seconds(1);

capnp::Data::Reader bytes_of(const std::string& s) {
  return kj::arrayPtr(reinterpret_cast<const capnp::byte*>(s.data()), s.size());
}
}  // namespace

// On the head the (thread-safe) store is called in place, without a hop to
// the reactor; elsewhere each call is one request to the head.

// --- key-value ------------------------------------------------------------------

Task<void> Cluster::kv_put(std::string key, std::string value) {
  if (is_head_) {
    store_->kv_put(std::move(key), std::move(value));
    co_return;
  }
  co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<void> {
    auto req = head_client().kvPutRequest();
    req.setKey(key);
    req.setValue(bytes_of(value));
    return req.send().ignoreResult();
  });
}

Task<std::optional<std::string>> Cluster::kv_get(std::string key) {
  if (is_head_) co_return store_->kv_get(key);
  co_return co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<std::optional<std::string>> {
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
  if (is_head_) co_return store_->kv_erase(key);
  co_return co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<bool> {
    auto req = head_client().kvDeleteRequest();
    req.setKey(key);
    return req.send().then(
        [](capnp::Response<wire::Head::KvDeleteResults> r) { return r.getExisted(); });
  });
}

Task<std::vector<std::string>> Cluster::kv_keys(std::string prefix) {
  if (is_head_) co_return store_->kv_keys(prefix);
  co_return co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<std::vector<std::string>> {
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
  if (is_head_) co_return start_job_on_head(node_.node_id());
  co_return co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<std::uint64_t> {
    auto req = head_client().startJobRequest();
    req.setDriverNode(node_.node_id());
    return req.send().then(
        [](capnp::Response<wire::Head::StartJobResults> r) { return r.getJobId(); });
  });
}

Task<void> Cluster::finish_job(std::uint64_t job_id) {
  if (is_head_) {
    store_->finish_job(job_id);
    co_return;
  }
  co_await run_on_kj(node_.reactor(), [&]() -> kj::Promise<void> {
    auto req = head_client().finishJobRequest();
    req.setJobId(job_id);
    req.setDriverNode(node_.node_id());
    return req.send().then([this](capnp::Response<wire::Head::FinishJobResults> r) {
      if (r.hasRefused()) fence(r.getRefused().cStr());
    });
  });
}

// --- snapshots ----------------------------------------------------------------------

void Cluster::load_snapshot() {
  if (options_.snapshot.empty()) return;
  if (store_->load_snapshot(options_.snapshot)) {
    // Their drivers were connected to the old head, which is gone.
    for (const auto& job : store_->jobs()) store_->finish_job(job.job_id);
    std::fprintf(stderr, "weft: control store restored from %s: %zu keys, %zu jobs, %zu actors\n",
                 options_.snapshot.c_str(), store_->kv_keys().size(), store_->jobs().size(),
                 store_->actors().size());
  }
  saved_changes_ = store_->changes();
}

void Cluster::save_snapshot(bool stopping) {
  if (options_.snapshot.empty() || store_->changes() == saved_changes_) return;
  const auto now = ControlStore::Clock::now();
  if (!stopping && now - last_save_ < snapshot_interval) return;
  last_save_ = now;
  // TODO(perf): this encodes and writes on the reactor thread; fine for a
  // store of a few MiB, once a second at most.
  try {
    // Read first: a change made while the file is written counts as unsaved.
    const std::uint64_t changes = store_->changes();
    store_->save_snapshot(options_.snapshot);
    saved_changes_ = changes;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft: %s; trying again in a second\n", e.what());
  }
}

}  // namespace weft::detail
