// detail::ObjectTransfer: how objects move between nodes (DESIGN §6).
//
// A ref in a message travels inline when it is small and sealed, else as
// the node it can be pulled from. A pull copies a large object from that
// node in chunks, a bounded number of pulls at a time per holder. A result
// made here for another node's task is held here until its owner has
// copied it (freeObjects), or until the owner dies.
//
// A dropped connection is not a dead node (link_retry.hpp): a pull whose
// link breaks waits, with the holder's other pulls, and starts again over a
// new link. Once the head declares the holder dead the object fails with
// ObjectLostError, or the caller makes it again (a task's result: the task
// runs again, as Ray reconstructs from lineage). Frees are delivered (sent
// again if a link breaks), so no held copy outlives its owner's interest.
// Reactor thread only, inside KJ's loop.
#pragma once

#include <kj/async.h>
#include <kj/function.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "weft.capnp.h"
#include "weft/core/reactor.hpp"
#include "weft/node/node.hpp"

namespace weft::detail {

class ObjectTransfer {
 public:
  // What transfer needs of the node's connections to other nodes.
  class Peers {
   public:
    // Runs `send` with `node`'s capability once connected, in call order;
    // drops it (destroys it unrun) if the link breaks first.
    virtual void with_peer(NodeId node, kj::Function<void(wire::Peer::Client&)> send) = 0;
    // Sends what `request` makes to `node` until it is answered, again over
    // a new link if one breaks first, while `node` lives (link_retry.hpp).
    virtual void deliver(NodeId node,
                         std::function<kj::Promise<void>(wire::Peer::Client&)> request) = 0;
    // Whether the head declared `node` dead.
    virtual bool declared_dead(NodeId node) const = 0;

   protected:
    ~Peers() = default;
  };

  // Payload bytes one message (a spec, a result, a pull reply) may carry
  // inline; objects beyond it are pulled, so a message stays small however
  // many refs it names.
  static constexpr std::size_t message_inline_bytes = 4 << 20;

  ObjectTransfer(Node& node, Peers& peers);
  ObjectTransfer(const ObjectTransfer&) = delete;
  ObjectTransfer& operator=(const ObjectTransfer&) = delete;
  ~ObjectTransfer();

  // Serving starts (inside KJ's loop) and stops: after close() pulls in
  // progress fail their objects, and none starts.
  void open(kj::TaskSet::ErrorHandler& errors);
  void close();

  // Whether `object` may travel inside the message that names it.
  static bool goes_inline(const ObjectHandle& object);
  // Fills `b` for `ref`: its payload (and what it names) inline if they fit
  // in `inline_left`, which they come out of; else where to pull it from.
  // True if everything went inline.
  bool fill_ref(wire::RefArg::Builder b, const ObjectHandle& ref, std::size_t& inline_left);
  // The local copy of what `ref` names: inline, or pulled from its holder.
  ObjectHandle materialize(wire::RefArg::Reader ref);
  // Seals `into`, a pending object of ref's id, as materialize seals its copy.
  void fill(const ObjectHandle& into, wire::RefArg::Reader ref);
  // Copies `id` from `from` into `into`, sealing it with `nested` (or, if
  // empty, with what the first chunk names). If `from` dies first, `into`
  // fails with ObjectLostError, or, given `if_lost`, that runs instead (to
  // make the object again).
  void pull(NodeId from, ObjectId id, ObjectHandle into, std::vector<ObjectHandle> nested = {},
            kj::Maybe<kj::Function<void()>> if_lost = nullptr);

  // Whether `id` is being copied here from `holder` (a result announced
  // twice must not free the copy the first announcement is pulling).
  bool pulling(NodeId holder, ObjectId id) const;

  // Results held here until their owner has copied them.
  void hold_for_owner(ObjectHandle result);
  void release_held(ObjectId id);
  // What is held for `owner`: after a link to it broke, these results are
  // announced again, since their announcements may have gone with it.
  std::vector<ObjectHandle> held_for(NodeId owner) const;
  // Tells `holder` the result `id` and what it names are copied here.
  void free_held(NodeId holder, ObjectId id);

  // The head declared `node` dead: what it held for pulls here is lost,
  // and what was held here for it will never be copied.
  void node_died(NodeId node);

 private:
  struct Pull;
  // Pulls from one holder: at most pulls_per_peer at once, the rest wait in
  // order; after a broken link all wait until `retry_timer` fires.
  struct PullQueue {
    unsigned active = 0;
    std::deque<std::shared_ptr<Pull>> waiting;
    unsigned failed_links = 0;  // in a row; reset by any chunk that arrives
    std::optional<Reactor::TimerId> retry_timer;
  };

  void start_pulls(NodeId from);
  void pull_slot_freed(NodeId from);
  void pull_chunk(std::shared_ptr<Pull> p, wire::Peer::Client peer, std::uint64_t offset,
                  std::uint64_t length);
  // `p`'s link broke: it waits for another, or fails if the holder is dead
  // or links to it failed too often in a row.
  void pull_broken(Pull& p);
  // Starts `from`'s queue again after a backoff (none is pending).
  void retry_after_backoff(NodeId from, PullQueue& queue);
  void fail_waiting(PullQueue& queue);
  // `p`'s holder died: `p` fails, or is made again.
  static void lose(Pull& p);

  Node& node_;
  Peers& peers_;
  std::multiset<std::pair<NodeId, ObjectId>> pulling_;  // see Pull::Mark
  kj::Own<kj::TaskSet> tasks_;                          // while open
  std::map<NodeId, PullQueue> pulls_;
  std::unordered_map<ObjectId, ObjectHandle> held_for_owner_;
};

}  // namespace weft::detail
