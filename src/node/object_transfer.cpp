// detail::ObjectTransfer (object_transfer.hpp).
#include "node/object_transfer.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "node/kj_asio.hpp"
#include "node/link_retry.hpp"
#include "node/seal_watch.hpp"
#include "node/wire.hpp"
#include "node/wire_error.hpp"

namespace weft::detail {

namespace {
// Payloads up to this size travel inside the message that names them, as Ray inlines.
constexpr std::size_t inline_limit = 100 * 1024;
// Large objects move in chunks of this size, a few requests in flight.
constexpr std::uint64_t chunk_size = 4 << 20;
constexpr unsigned chunks_in_flight = 4;
// Objects pulled from one peer at once: a result naming 30,000 objects
// pulls them in order, this many at a time, not all in one burst.
constexpr unsigned pulls_per_peer = 16;
std::exception_ptr lost(ObjectId id, NodeId holder) {
  return std::make_exception_ptr(ObjectLostError(
      fmt::format("object {} is lost: node {:x}, which held it, died before it was copied here",
                  id.to_string(), holder)));
}
}  // namespace

// A large object being copied here in chunks.
struct ObjectTransfer::Pull {
  // Counts a pull, and the pulls that retry it, in pulling_.
  class Mark {
   public:
    Mark(ObjectTransfer* t, NodeId from, ObjectId id)
        : transfer_(t), at_(t->pulling_.emplace(from, id)) {}
    Mark(Mark&& other) noexcept
        : transfer_(std::exchange(other.transfer_, nullptr)), at_(other.at_) {}
    Mark& operator=(Mark&&) = delete;
    ~Mark() {
      if (transfer_) transfer_->pulling_.erase(at_);
    }

   private:
    ObjectTransfer* transfer_;
    std::multiset<std::pair<NodeId, ObjectId>>::iterator at_;
  };

  Pull(ObjectTransfer* t, ObjectHandle object, NodeId holder, ObjectId object_id,
       std::vector<ObjectHandle> named, kj::Maybe<kj::Function<void()>> lost, Mark m)
      : transfer(t),
        into(std::move(object)),
        from(holder),
        id(object_id),
        nested(std::move(named)),
        if_lost(kj::mv(lost)),
        mark(std::move(m)) {}

  ObjectTransfer* transfer;
  ObjectHandle into;
  NodeId from;
  ObjectId id;
  std::vector<ObjectHandle> nested;         // the objects the payload names
  kj::Maybe<kj::Function<void()>> if_lost;  // see ObjectTransfer::pull
  bool settled = false;                     // `into` is sealed, handed on, or will be sealed
  PayloadBuffer buffer;
  std::uint64_t size = 0, next = 0, done = 0;
  unsigned in_flight = 0;
  // Holds one of the holder's pull slots from its start until it settles or dies.
  struct Slot {
    Slot(ObjectTransfer* t, NodeId f) : transfer(t), from(f) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { transfer->pull_slot_freed(from); }
    ObjectTransfer* transfer;
    NodeId from;
  };
  std::optional<Slot> slot;
  Mark mark;

  // Dropped unsettled: its link broke before the pull was sent.
  ~Pull() {
    if (!settled && into) transfer->pull_broken(*this);
  }
};

ObjectTransfer::ObjectTransfer(Node& node, Peers& peers) : node_(node), peers_(peers) {}

ObjectTransfer::~ObjectTransfer() { close(); }

void ObjectTransfer::open(kj::TaskSet::ErrorHandler& errors) {
  tasks_ = kj::heap<kj::TaskSet>(errors);
}

void ObjectTransfer::close() {
  if (!tasks_) return;
  auto closing = kj::mv(tasks_);  // from here on, a broken pull fails and starts nothing
  for (auto& [from, queue] : pulls_) {
    if (queue.retry_timer) node_.reactor().cancel(*queue.retry_timer);
    queue.retry_timer.reset();
  }
  pulls_.clear();
  held_for_owner_.clear();
}

bool ObjectTransfer::goes_inline(const ObjectHandle& object) {
  return object->ready() && !object->error() && object->payload().size() <= inline_limit;
}

bool ObjectTransfer::fill_ref(wire::RefArg::Builder b, const ObjectHandle& ref,
                              std::size_t& inline_left) {
  to_wire(b.initId(), ref->id());
  if (goes_inline(ref) && ref->payload().size() <= inline_left) {
    auto p = ref->payload();
    inline_left -= p.size();
    b.setInline(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(p.data()), p.size()));
    const auto& nested = ref->nested();
    auto list = b.initNestedRefs(static_cast<unsigned>(nested.size()));
    bool all_inline = true;
    for (unsigned i = 0; i < nested.size(); ++i) {
      if (!fill_ref(list[i], nested[i], inline_left)) all_inline = false;
    }
    return all_inline;
  }
  // Pulled from here: findable by id while whatever names it here lives.
  ref->mark_exported();
  b.initLocations(1).set(0, node_.node_id());
  return false;
}

ObjectHandle ObjectTransfer::materialize(wire::RefArg::Reader ref) {
  const ObjectId id = from_wire(ref.getId());
  ObjectStore& store = node_.store();
  if (ObjectState* existing = store.acquire_exported(id)) return ObjectHandle::adopt(existing);
  auto handle = ObjectHandle::adopt(new ObjectState(store, id));
  handle->mark_exported();
  fill(handle, ref);
  return handle;
}

void ObjectTransfer::fill(const ObjectHandle& into, wire::RefArg::Reader ref) {
  const ObjectId id = into->id();
  if (ref.hasInline()) {
    auto data = ref.getInline();
    try {
      PayloadBuffer buf = node_.store().allocate(data.size(), id);
      std::memcpy(buf.bytes().data(), data.begin(), data.size());
      std::vector<ObjectHandle> named;
      for (auto n : ref.getNestedRefs()) named.push_back(materialize(n));
      seal_once_named_arrive(into, std::move(buf), std::move(named));
    } catch (...) {
      into->seal_error(std::current_exception());
    }
  } else if (ref.getLocations().size() > 0) {
    pull(ref.getLocations()[0], id, into);
  } else {
    into->seal_error(std::make_exception_ptr(
        Error(fmt::format("object {} has no known location", id.to_string()))));
  }
}

// --- pulls ---------------------------------------------------------------------

void ObjectTransfer::pull(NodeId from, ObjectId id, ObjectHandle into,
                          std::vector<ObjectHandle> nested,
                          kj::Maybe<kj::Function<void()>> if_lost) {
  auto p = std::make_shared<Pull>(this, std::move(into), from, id, std::move(nested),
                                  kj::mv(if_lost), Pull::Mark(this, from, id));
  if (!tasks_) return;  // stopping: ~Pull fails it
  pulls_[from].waiting.push_back(std::move(p));
  start_pulls(from);
}

void ObjectTransfer::start_pulls(NodeId from) {
  auto it = pulls_.find(from);
  if (it == pulls_.end() || !tasks_) return;
  PullQueue& queue = it->second;
  if (queue.retry_timer) return;  // after a broken link: the timer starts them
  while (queue.active < pulls_per_peer && !queue.waiting.empty()) {
    std::shared_ptr<Pull> p = std::move(queue.waiting.front());
    queue.waiting.pop_front();
    ++queue.active;
    p->slot.emplace(this, from);
    // A broken link drops the send, and with it the pull (~Pull).
    peers_.with_peer(from,
                     [this, p](wire::Peer::Client& peer) { pull_chunk(p, peer, 0, chunk_size); });
  }
  if (queue.active == 0 && queue.waiting.empty()) pulls_.erase(it);
}

void ObjectTransfer::pull_slot_freed(NodeId from) {
  if (!tasks_) return;
  auto it = pulls_.find(from);
  if (it == pulls_.end()) return;
  --it->second.active;
  // Not from here: this runs inside the destruction of a pull or a promise.
  tasks_->add(kj::evalLater([this, from] { start_pulls(from); }));
}

void ObjectTransfer::pull_chunk(std::shared_ptr<Pull> p, wire::Peer::Client peer,
                                std::uint64_t offset, std::uint64_t length) {
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
            if (auto q = pulls_.find(p->from); q != pulls_.end()) q->second.failed_links = 0;
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
          .catch_([this, p](kj::Exception&& e) {
            if (p->settled) return;
            if (e.getType() == kj::Exception::Type::DISCONNECTED) {
              pull_broken(*p);
              return;
            }
            p->settled = true;
            p->slot.reset();
            p->into->seal_error(error_from_kj(e));
          }));
}

void ObjectTransfer::lose(Pull& p) {
  p.settled = true;
  ObjectHandle into = std::move(p.into);
  KJ_IF_MAYBE (again, p.if_lost) {
    (*again)();
  } else {
    into->seal_error(lost(p.id, p.from));
  }
}

void ObjectTransfer::pull_broken(Pull& p) {
  p.settled = true;
  p.slot.reset();
  if (tasks_ && peers_.declared_dead(p.from)) {
    lose(p);
    return;
  }
  ObjectHandle into = std::move(p.into);
  if (!tasks_) {  // closed: nothing starts again
    into->seal_error(std::make_exception_ptr(TransportError(
        TransportError::Kind::disconnected,
        fmt::format("node {:x} stopped before object {} was copied here from node {:x}",
                    node_.node_id(), p.id.to_string(), p.from))));
    return;
  }
  PullQueue& queue = pulls_[p.from];
  // Pulls that find the link broken while the queue already waits are part
  // of the same break.
  if (!queue.retry_timer && ++queue.failed_links > max_broken_links) {
    into->seal_error(std::make_exception_ptr(TransportError(
        TransportError::Kind::disconnected,
        fmt::format("object {} could not be copied here: the connection to node {:x}, which holds "
                    "it, broke {} times in a row",
                    p.id.to_string(), p.from, max_broken_links))));
    return;
  }
  auto again = std::make_shared<Pull>(this, std::move(into), p.from, p.id, std::move(p.nested),
                                      kj::mv(p.if_lost), std::move(p.mark));
  queue.waiting.push_front(std::move(again));
  if (!queue.retry_timer) retry_after_backoff(p.from, queue);
}

void ObjectTransfer::retry_after_backoff(NodeId from, PullQueue& queue) {
  queue.retry_timer = node_.reactor().call_after(link_backoff(queue.failed_links), [this, from] {
    KjAsioEventPort::CompletionScope scope;
    auto it = pulls_.find(from);
    if (it == pulls_.end()) return;
    it->second.retry_timer.reset();
    if (peers_.declared_dead(from)) {
      fail_waiting(it->second);
    } else {
      start_pulls(from);
    }
  });
}

void ObjectTransfer::fail_waiting(PullQueue& queue) {
  auto waiting = std::move(queue.waiting);
  queue.waiting.clear();
  for (auto& p : waiting) lose(*p);
}

// --- held results ----------------------------------------------------------------

void ObjectTransfer::hold_for_owner(ObjectHandle result) {
  const ObjectId id = result->id();
  held_for_owner_[id] = std::move(result);
}

void ObjectTransfer::release_held(ObjectId id) { held_for_owner_.erase(id); }

std::vector<ObjectHandle> ObjectTransfer::held_for(NodeId owner) const {
  std::vector<ObjectHandle> held;
  for (const auto& [id, result] : held_for_owner_) {
    if (id.owner == owner) held.push_back(result);
  }
  return held;
}

bool ObjectTransfer::pulling(NodeId holder, ObjectId id) const {
  return pulling_.contains({holder, id});
}

void ObjectTransfer::free_held(NodeId holder, ObjectId id) {
  peers_.deliver(holder, [id](wire::Peer::Client& peer) {
    auto req = peer.freeObjectsRequest();
    to_wire(req.initIds(1)[0], id);
    return req.send().ignoreResult();
  });
}

void ObjectTransfer::node_died(NodeId node) {
  std::erase_if(held_for_owner_, [node](const auto& held) { return held.first.owner == node; });
  if (auto it = pulls_.find(node); it != pulls_.end()) {
    if (it->second.retry_timer) node_.reactor().cancel(*it->second.retry_timer);
    it->second.retry_timer.reset();
    fail_waiting(it->second);
  }
}

}  // namespace weft::detail
