// Waiting for a spec's ref arguments; compiled once into libweft.
#include <bit>
#include <memory>

#include "weft/object/seal_group.hpp"
#include "weft/remote/task_spec.hpp"

namespace weft::detail {

namespace {
// Hands a spec on once its awaited refs are sealed; the spec keeps them alive.
class RefsSealed final : public SealGroup {
 public:
  RefsSealed(void (*ready)(void*) noexcept, void* arg) noexcept : ready_(ready), arg_(arg) {}

 private:
  void complete() noexcept override {
    auto* ready = ready_;
    void* arg = arg_;
    release();  // every waiter has been notified: frees the group
    ready(arg);
  }

  void (*ready_)(void*) noexcept;
  void* arg_;
};
}  // namespace

bool when_refs_sealed(const TaskSpec& spec, void (*ready)(void*) noexcept, void* arg) {
  std::size_t pending = 0;
  for (std::uint64_t m = spec.wait_mask; m != 0; m &= m - 1) {
    if (!spec.refs[static_cast<std::size_t>(std::countr_zero(m))]->ready()) ++pending;
  }
  if (pending == 0) return true;
  auto* g = SealGroup::make<RefsSealed>(pending, pending, ready, arg);
  for (std::uint64_t m = spec.wait_mask; m != 0; m &= m - 1) {
    ObjectState* s = spec.refs[static_cast<std::size_t>(std::countr_zero(m))].get();
    if (!s->ready()) g->watch(s);  // no more than counted: objects only ever become ready
  }
  if (!g->finish_arming()) return false;
  g->release();
  return true;
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
