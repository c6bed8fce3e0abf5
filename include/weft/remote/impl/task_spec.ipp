// Waiting for a spec's ref arguments; compiled once into libweft.
#include <atomic>
#include <bit>
#include <memory>

#include "weft/remote/task_spec.hpp"

namespace weft::detail {

namespace {
// One waiter per unsealed ref, all in one allocation. `remaining` starts one
// above the number of waiters so that registration itself holds the group
// open: whoever brings it to zero has seen the last seal and fires `ready`.
struct RefWaitGroup {
  struct Node : ObjectWaiter {
    RefWaitGroup* group;
  };
  std::atomic<std::size_t> remaining;
  void (*ready)(void*) noexcept;
  void* arg;
  std::unique_ptr<Node[]> nodes;

  bool arrive() noexcept { return remaining.fetch_sub(1, std::memory_order_acq_rel) == 1; }
  static void on_sealed(ObjectWaiter* w) noexcept {
    RefWaitGroup* g = static_cast<Node*>(w)->group;
    if (g->arrive()) {
      auto ready = g->ready;
      auto* arg = g->arg;
      delete g;
      ready(arg);
    }
  }
};
}  // namespace

bool when_refs_sealed(const TaskSpec& spec, void (*ready)(void*) noexcept, void* arg) {
  std::size_t pending = 0;
  for (std::uint64_t m = spec.wait_mask; m != 0; m &= m - 1) {
    if (!spec.refs[static_cast<std::size_t>(std::countr_zero(m))]->ready()) ++pending;
  }
  if (pending == 0) return true;
  auto* g =
      new RefWaitGroup{{pending + 1}, ready, arg, std::make_unique<RefWaitGroup::Node[]>(pending)};
  std::size_t i = 0;
  for (std::uint64_t m = spec.wait_mask; m != 0 && i < pending; m &= m - 1) {
    ObjectState* s = spec.refs[static_cast<std::size_t>(std::countr_zero(m))].get();
    if (s->ready()) continue;
    RefWaitGroup::Node& node = g->nodes[i++];
    node.group = g;
    node.notify = &RefWaitGroup::on_sealed;
    if (!s->add_waiter(&node)) g->arrive();  // sealed meanwhile; cannot reach zero here
  }
  // Waiters we planned for but found sealed before registering.
  for (; i < pending; ++i) g->arrive();
  if (g->arrive()) {
    delete g;
    return true;
  }
  return false;
}

std::shared_ptr<const TaskOptions> shared_task_options(TaskOptions o) {
  thread_local std::shared_ptr<const TaskOptions> last;
  if (!last || !(*last == o)) last = std::make_shared<const TaskOptions>(std::move(o));
  return last;
}

void TaskSpec::set_options(TaskOptions o) {
  shared_options = shared_task_options(std::move(o));
  options = shared_options.get();
}

}  // namespace weft::detail
