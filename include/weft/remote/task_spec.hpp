// detail::TaskSpec: one task or actor call, as plain data plus local shortcuts.
//
// The plain part (function id, encoded arguments, argument refs, result id,
// options, attempt) is what crosses the wire between nodes; `execute` and
// `complete` are shortcuts for running it in this process, which builds the
// same binary as every other node.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <string_view>
#include <vector>

#include "weft/object/object_state.hpp"
#include "weft/remote/options.hpp"

namespace weft::detail {

class ActorRecord;
class TaskSpec;
// What runs an attempt of a spec here: defined by the node's scheduler,
// which alone reads it (remote/ knows no node types).
class SchedulerAttempt {
 protected:
  ~SchedulerAttempt() = default;
};

using ExecuteFn = void (*)(TaskSpec*) noexcept;
// Called exactly once per attempt when the body has finished: with nullptr if
// it sealed its result, else with the exception it threw.
using CompleteFn = void (*)(TaskSpec*, std::exception_ptr) noexcept;

// Encoded arguments; up to 48 bytes inline so small calls allocate nothing extra.
class ArgBytes {
 public:
  std::span<std::byte> resize(std::size_t n) {
    size_ = n;
    if (n > sizeof inline_) {
      heap_ = std::make_unique<std::byte[]>(n);
      return {heap_.get(), n};
    }
    return {inline_, n};
  }
  std::span<const std::byte> bytes() const noexcept {
    return {heap_ ? heap_.get() : inline_, size_};
  }

 private:
  alignas(8) std::byte inline_[48];
  std::unique_ptr<std::byte[]> heap_;
  std::size_t size_ = 0;
};

class TaskSpec {
 public:
  // What runs (registered id and name: "partial_pi", "Counter::add").
  std::uint64_t function_id = 0;
  std::string_view name;
  // Arguments: values encoded in `args`; ObjectRef arguments in `refs`, in
  // parameter order. Bit i of `ref_mask` is set when argument i is a ref; bit
  // j of `wait_mask` when refs[j] must be sealed before the body runs (its
  // parameter takes the value, not the ref).
  ArgBytes args;
  std::vector<ObjectHandle> refs;
  std::uint64_t ref_mask = 0;
  std::uint64_t wait_mask = 0;
  std::vector<ObjectHandle> nested_refs;  // refs inside argument values
  ObjectHandle result;
  // A task of several results (returns.hpp) seals each in its own object
  // here, in order, then `result` with an empty value naming them; if it
  // fails, it seals only `result`, and the returns take its error.
  std::vector<ObjectHandle> returns;
  // Points at shared_options, or at default_task_options for a spec submitted
  // without options. Specs submitted with equal options share one copy.
  const TaskOptions* options = nullptr;
  std::shared_ptr<const TaskOptions> shared_options;
  std::uint32_t attempt = 0;
  // Actor calls: the handle that sent it (actor.hpp). Calls from one caller
  // run in the order sent; a call waiting for its refs holds back only them.
  std::uint64_t caller = 0;

  // Local shortcuts.
  ExecuteFn execute = nullptr;
  CompleteFn complete = nullptr;
  std::shared_ptr<ActorRecord> actor;   // set for actor calls
  SchedulerAttempt* running = nullptr;  // the attempt running it here

  const TaskOptions& opts() const noexcept { return *options; }
  // Makes `o` this spec's options, shared with the specs made before it on
  // this thread with equal ones.
  void set_options(TaskOptions o);
};

using TaskSpecPtr = std::unique_ptr<TaskSpec>;

// Calls `ready(arg)` once every ref in spec's wait_mask is sealed. Returns
// true instead, without calling it, if they all are already.
bool when_refs_sealed(const TaskSpec& spec, void (*ready)(void*) noexcept, void* arg);

// Options shared by every task submitted without its own.
inline const TaskOptions default_task_options{};

// `o` as a shared copy: the one made last on this thread if equal (a loop
// submitting with the same options keeps one copy, not one per task, which
// is most of a spec's size), else a new one.
std::shared_ptr<const TaskOptions> shared_task_options(TaskOptions o);

}  // namespace weft::detail
