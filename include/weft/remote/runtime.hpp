// The interface through which the remote layer reaches the node that runs it
// (DESIGN §2: `remote` never includes `node`). weft::Node implements it.
//
// Free functions such as submit/spawn find the calling thread's runtime
// through a thread-local that every node sets on its own threads and on its
// driver, so several nodes can live in one process.
#pragma once

#include <memory>
#include <string>
#include <typeinfo>

#include "weft/core/executor.hpp"
#include "weft/core/reactor.hpp"
#include "weft/error.hpp"
#include "weft/object/object_store.hpp"
#include "weft/remote/task_spec.hpp"

namespace weft {

class Runtime {
 public:
  virtual ObjectStore& store() noexcept = 0;
  virtual Executor& executor() noexcept = 0;
  virtual Reactor& reactor() noexcept = 0;

  // Takes a task whose result is pending; runs it once its ref arguments are
  // sealed and its resources are free. Any thread.
  virtual void submit(detail::TaskSpecPtr spec) = 0;

  // Places a new actor: checks its resources, makes its executor, and keeps
  // the name if it has one (throws if the name is taken). Any thread.
  virtual std::shared_ptr<detail::ActorRecord> place_actor(const ActorOptions& options,
                                                           std::string_view class_name,
                                                           const std::type_info& type) = 0;
  // The live actor registered under `name`, or nullptr.
  virtual std::shared_ptr<detail::ActorRecord> find_named_actor(const std::string& name) = 0;
  // Forgets a dead actor's name and returns its resources.
  virtual void actor_died(detail::ActorRecord& actor) noexcept = 0;

 protected:
  ~Runtime() = default;
};

namespace detail {
inline thread_local Runtime* tls_current_runtime = nullptr;
}

// The node serving the calling thread; throws UsageError on a thread that no
// node owns.
inline Runtime& current_runtime() {
  Runtime* rt = detail::tls_current_runtime;
  if (rt == nullptr) {
    throw UsageError(
        "no weft node on this thread: call from inside weft::run's driver, a task or an actor");
  }
  return *rt;
}

}  // namespace weft
