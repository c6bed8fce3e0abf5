// detail::Cluster: copying large objects from the node that holds them, in
// chunks, and telling holders when their copies may go.
#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "node/cluster.hpp"
#include "node/seal_watch.hpp"
#include "node/wire.hpp"

namespace weft::detail {

namespace {
// Large objects move in chunks of this size, a few requests in flight.
constexpr std::uint64_t chunk_size = 4 << 20;
constexpr unsigned chunks_in_flight = 4;
// Objects pulled from one peer at once: a result naming 30,000 objects
// pulls them in order, this many at a time, not all in one burst.
constexpr unsigned pulls_per_peer = 16;
}  // namespace

Cluster::Pull::~Pull() {
  if (settled || !into) return;
  into->seal_error(std::make_exception_ptr(
      TransportError(TransportError::Kind::disconnected,
                     fmt::format("the connection to node {:x} failed before object {} was copied",
                                 from, id.to_string()))));
}

void Cluster::free_held(NodeId holder, ObjectId id) {
  with_peer(holder, [id](wire::Peer::Client& peer) {
    auto req = peer.freeObjectsRequest();
    to_wire(req.initIds(1)[0], id);
    req.send().detach([](kj::Exception&&) {});  // a holder that died has freed it anyway
  });
}

void Cluster::pull(NodeId from, ObjectId id, ObjectHandle into, std::vector<ObjectHandle> nested) {
  auto p = std::make_shared<Pull>();
  p->into = std::move(into);
  p->from = from;
  p->id = id;
  p->nested = std::move(nested);
  pulls_[from].waiting.push_back(std::move(p));
  start_pulls(from);
}

void Cluster::start_pulls(NodeId from) {
  auto it = pulls_.find(from);
  if (it == pulls_.end()) return;
  PullQueue& queue = it->second;
  while (queue.active < pulls_per_peer && !queue.waiting.empty()) {
    std::shared_ptr<Pull> p = std::move(queue.waiting.front());
    queue.waiting.pop_front();
    ++queue.active;
    p->slot.emplace(this, from);
    // A broken link drops the send, and with it the pull, which frees its slot.
    with_peer(from, [this, p](wire::Peer::Client& peer) { pull_chunk(p, peer, 0, chunk_size); });
  }
  if (queue.active == 0 && queue.waiting.empty()) pulls_.erase(it);
}

Cluster::Pull::Slot::~Slot() { cluster->pull_slot_freed(from); }

void Cluster::pull_slot_freed(NodeId from) {
  if (pulls_closed_) return;
  auto it = pulls_.find(from);
  if (it == pulls_.end()) return;
  --it->second.active;
  // Not from here: this runs inside the destruction of a pull or a promise.
  tasks_->add(kj::evalLater([this, from] { start_pulls(from); }));
}

void Cluster::pull_chunk(std::shared_ptr<Pull> p, wire::Peer::Client peer, std::uint64_t offset,
                         std::uint64_t length) {
  ++p->in_flight;
  auto req = peer.pullObjectRequest();
  to_wire(req.initId(), p->id);
  req.setOffset(offset);
  req.setLength(length);
  tasks_->add(
      req.send()
          .then([this, p, peer, offset](capnp::Response<wire::Peer::PullObjectResults> r) mutable {
            --p->in_flight;
            if (p->settled) return;
            auto data = r.getData();
            if (!p->buffer) {
              p->size = r.getTotalSize();
              p->next = std::min(chunk_size, p->size);
              p->buffer = node_.store().allocate(p->size, p->id);
              if (p->nested.empty()) {  // a result's come with it; others with the first chunk
                for (auto n : r.getNestedRefs()) p->nested.push_back(materialize(n));
              }
            }
            if (offset + data.size() > p->size) {
              throw KJ_EXCEPTION(FAILED, "pulled chunk past the object's end");
            }
            std::memcpy(p->buffer.bytes().data() + offset, data.begin(), data.size());
            p->done += data.size();
            if (p->done == p->size) {
              p->settled = true;
              p->slot.reset();
              seal_once_named_arrive(p->into, std::move(p->buffer), std::move(p->nested));
              return;
            }
            while (p->in_flight < chunks_in_flight && p->next < p->size) {
              const std::uint64_t len = std::min(chunk_size, p->size - p->next);
              pull_chunk(p, peer, p->next, len);
              p->next += len;
            }
          })
          .catch_([p](kj::Exception&& e) {
            if (std::exchange(p->settled, true)) return;
            p->slot.reset();
            p->into->seal_error(error_from_kj(e));
          }));
}

}  // namespace weft::detail
