// weft::ActorPool: work spread over a fixed set of actors, one call per actor
// at a time, each call going to whichever actor is free (Ray's
// ray.util.ActorPool, which Ray's C++ API lacks).
//
//   weft::ActorPool<Model> pool(models);
//   auto predict = [](const weft::ActorHandle<Model>& m, Batch b) {
//     return m.call<&Model::predict>(std::move(b));
//   };
//   std::vector<Scores> in_order = co_await pool.map(predict, batches);
//   std::vector<Scores> as_done = co_await pool.map_unordered(predict, batches);
//
//   pool.submit(predict, batch);                      // runs now, or once an actor is free
//   Scores s = co_await pool.get_next<Scores>();      // oldest submitted
//   Scores t = co_await pool.get_next_unordered<Scores>();  // first to finish
//
// As in Ray: an actor runs one pool call at a time; queued work starts in
// submission order; get_next returns results in submission order and
// get_next_unordered in completion order, each result once (the two may be
// mixed: get_next takes the oldest result not yet taken); a failed call's
// error is thrown by the get that takes it; a timeout throws TimeoutError and
// leaves the result in the pool; pop_idle/push take actors out and add them.
//
// Better than Ray's: a call that finishes frees its actor for queued work at
// the pool's next submit or get, and at once while a get waits (Ray frees an actor only when its
// result is taken, so one slow call in order idles the rest); an actor whose call fails with
// ActorDiedError leaves the pool instead of receiving more work, and queued work with no live actor
// left fails with ActorDiedError instead of waiting forever; get<R> checks R against the type the
// call returns, so a wrong type is a UsageError naming both.
//
// A pool is used by one coroutine or thread at a time (it has no lock); its
// gets need a node thread's reactor only when given a timeout, as weft::wait.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "weft/core/task.hpp"
#include "weft/error.hpp"
#include "weft/object/object_ref.hpp"
#include "weft/object/type_fingerprint.hpp"
#include "weft/object/wait.hpp"
#include "weft/remote/actor.hpp"

namespace weft {

namespace detail {
// R for a pool's work function, which returns the call's ObjectRef<R>.
template <typename T, typename F, typename V>
struct PoolResult {
  using Ref = std::invoke_result_t<F&, const ActorHandle<T>&, V&&>;
  static_assert(IsObjectRef<Ref>::value,
                "weft::ActorPool: the work function takes (const ActorHandle<T>&, value) and "
                "returns the call's ObjectRef, e.g. return a.call<&T::method>(value)");
  using type = typename Ref::value_type;
};
template <typename T, typename F, typename V>
using pool_result_t = typename PoolResult<T, F, V>::type;
}  // namespace detail

template <typename T>
class ActorPool {
 public:
  explicit ActorPool(std::vector<ActorHandle<T>> actors) {
    if (actors.empty()) {
      throw UsageError("weft::ActorPool needs at least one actor; pass the handles to spread over");
    }
    for (auto& a : actors) idle_.push_back(std::move(a));
  }

  // Calls fn(actor, std::move(value)) on a free actor now, or queues it for
  // the next actor to be free. fn returns the call's ObjectRef<R>.
  template <typename F, typename V>
  void submit(F fn, V value) {
    using R = detail::pool_result_t<T, F, V>;
    detail::remember_type<R>();
    queued_.push_back(Queued{next_sequence_++, type_fingerprint<R>,
                             std::make_unique<CallOf<F, V>>(std::move(fn), std::move(value))});
    collect_finished();
  }

  // A result submitted and not yet taken exists (finished or not).
  bool has_next() const noexcept {
    return !finished_.empty() || !running_.empty() || !queued_.empty();
  }
  // An actor is free for work now.
  bool has_free() const noexcept { return !idle_.empty() && queued_.empty(); }

  // Takes a free actor out of the pool (none if every actor is busy).
  std::optional<ActorHandle<T>> pop_idle() {
    if (!has_free()) return std::nullopt;
    ActorHandle<T> a = std::move(idle_.front());
    idle_.pop_front();
    return a;
  }
  // Adds an actor to the pool; queued work starts on it at once.
  void push(ActorHandle<T> actor) {
    idle_.push_back(std::move(actor));
    start_queued();
  }

  // The result of the oldest call submitted and not yet taken.
  template <typename R>
  Task<R> get_next(std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    require_next("get_next");
    const std::uint64_t oldest = oldest_untaken();
    const auto deadline = deadline_after(timeout);
    while (!finished(oldest)) co_await await_progress("get_next", deadline);
    co_return take<R>(finished_position(oldest), "get_next");
  }

  // The result of whichever untaken call finished first.
  template <typename R>
  Task<R> get_next_unordered(std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    require_next("get_next_unordered");
    const auto deadline = deadline_after(timeout);
    while (finished_.empty()) co_await await_progress("get_next_unordered", deadline);
    co_return take<R>(0, "get_next_unordered");
  }

  // fn over every value through the pool; results in the order of `values`.
  template <typename F, typename V>
  auto map(F fn, std::vector<V> values) -> Task<std::vector<detail::pool_result_t<T, F, V>>> {
    return gather<detail::pool_result_t<T, F, V>>(std::move(fn), std::move(values),
                                                  /*in_order=*/true);
  }
  // The same, results in the order the calls finished.
  template <typename F, typename V>
  auto map_unordered(F fn, std::vector<V> values)
      -> Task<std::vector<detail::pool_result_t<T, F, V>>> {
    return gather<detail::pool_result_t<T, F, V>>(std::move(fn), std::move(values),
                                                  /*in_order=*/false);
  }

 private:
  using Clock = std::chrono::steady_clock;

  // Queued work: fn and its value, started once an actor is free.
  struct Call {
    virtual ~Call() = default;
    virtual detail::ObjectHandle start(const ActorHandle<T>& actor) = 0;
  };
  template <typename F, typename V>
  struct CallOf final : Call {
    CallOf(F f, V v) : fn(std::move(f)), value(std::move(v)) {}
    detail::ObjectHandle start(const ActorHandle<T>& actor) override {
      return fn(actor, std::move(value)).handle();
    }
    F fn;
    V value;
  };

  struct Queued {
    std::uint64_t sequence;
    std::uint64_t type;
    std::unique_ptr<Call> call;
  };
  struct Running {
    std::uint64_t sequence;
    std::uint64_t type;
    detail::ObjectHandle result;
    ActorHandle<T> actor;
  };
  struct Finished {
    std::uint64_t sequence;
    std::uint64_t type;
    detail::ObjectHandle result;
  };

  template <typename R, typename F, typename V>
  Task<std::vector<R>> gather(F fn, std::vector<V> values, bool in_order) {
    static_assert(!std::is_void_v<R>,
                  "weft::ActorPool::map: the calls return nothing; use submit and get_next<void>");
    const std::size_t n = values.size();
    for (auto& v : values) submit(fn, std::move(v));
    std::vector<R> results;
    results.reserve(n);
    // if/else, not ?:: GCC 12 miscompiles co_await inside a conditional expression.
    for (std::size_t i = 0; i < n; ++i) {
      if (in_order) {
        results.push_back(co_await get_next<R>());
      } else {
        results.push_back(co_await get_next_unordered<R>());
      }
    }
    co_return results;
  }

  static std::optional<Clock::time_point> deadline_after(
      std::optional<std::chrono::nanoseconds> timeout) {
    if (!timeout) return std::nullopt;
    return Clock::now() + *timeout;
  }

  void require_next(std::string_view what) const {
    if (!has_next()) {
      throw UsageError(fmt::format(
          "weft::ActorPool::{}: every submitted call's result was taken; submit more first "
          "(has_next() says whether one is left)",
          what));
    }
  }

  std::uint64_t oldest_untaken() const {
    std::uint64_t oldest = queued_.empty() ? next_sequence_ : queued_.front().sequence;
    for (const auto& r : running_) oldest = std::min(oldest, r.sequence);
    for (const auto& f : finished_) oldest = std::min(oldest, f.sequence);
    return oldest;
  }

  bool finished(std::uint64_t sequence) const {
    return finished_position(sequence) < finished_.size();
  }
  std::size_t finished_position(std::uint64_t sequence) const {
    std::size_t i = 0;
    while (i < finished_.size() && finished_[i].sequence != sequence) ++i;
    return i;
  }

  // Waits until a running call finishes, then frees its actor for queued work.
  Task<void> await_progress(std::string_view what, std::optional<Clock::time_point> deadline) {
    if (running_.empty()) {
      throw ActorDiedError(fmt::format(
          "weft::ActorPool::{}: every actor in the pool has died with work still queued; push() "
          "a live actor to run it",
          what));
    }
    std::optional<std::chrono::nanoseconds> left;
    if (deadline) left = std::max(*deadline - Clock::now(), Clock::duration::zero());
    std::vector<detail::ObjectState*> states;
    states.reserve(running_.size());
    for (const auto& r : running_) states.push_back(r.result.get());
    co_await detail::wait_sealed(std::move(states), 1, left);
    if (!collect_finished() && deadline && Clock::now() >= *deadline) {
      throw TimeoutError(fmt::format(
          "weft::ActorPool::{}: no result within the timeout; the call still runs and its "
          "result stays in the pool",
          what));
    }
  }

  // Moves finished calls to finished_, frees their actors (unless dead) and
  // starts queued work on them. Whether any call had finished.
  bool collect_finished() {
    bool any = false;
    for (auto it = running_.begin(); it != running_.end();) {
      if (!it->result->ready()) {
        ++it;
        continue;
      }
      any = true;
      if (!died(*it->result.get())) idle_.push_back(std::move(it->actor));
      finished_.push_back(Finished{it->sequence, it->type, std::move(it->result)});
      it = running_.erase(it);
    }
    start_queued();
    return any;
  }

  static bool died(const detail::ObjectState& result) {
    if (!result.error()) return false;
    try {
      std::rethrow_exception(result.error());
    } catch (const ActorDiedError&) {
      return true;
    } catch (...) {
      return false;
    }
  }

  void start_queued() {
    while (!queued_.empty() && !idle_.empty()) {
      Queued q = std::move(queued_.front());
      queued_.pop_front();
      ActorHandle<T> actor = std::move(idle_.front());
      idle_.pop_front();
      detail::ObjectHandle result = q.call->start(actor);
      running_.push_back(Running{q.sequence, q.type, std::move(result), std::move(actor)});
    }
  }

  template <typename R>
  R take(std::size_t position, std::string_view what) {
    if (finished_[position].type != type_fingerprint<R>) {
      throw UsageError(fmt::format(
          "weft::ActorPool::{}<{}>: that call returns {}; ask for that type (the result stays "
          "in the pool)",
          what, type_name<R>(), detail::describe_fingerprint(finished_[position].type)));
    }
    Finished f = std::move(finished_[position]);
    finished_.erase(finished_.begin() + static_cast<std::ptrdiff_t>(position));
    return ObjectRef<R>::read(*f.result.get());
  }

  std::deque<ActorHandle<T>> idle_;
  std::deque<Queued> queued_;
  std::vector<Running> running_;
  std::vector<Finished> finished_;  // in the order they finished
  std::uint64_t next_sequence_ = 0;
};

}  // namespace weft
