// detail::Cluster: fencing by node incarnation. A node the head declared
// dead may have been cut off or stalled rather than gone, and its work was
// given to others: when it comes back, the head refuses its heartbeats and
// registration and its peers refuse its connections (services.cpp,
// task_streams.cpp), and the node itself stops as that incarnation.
#include <fmt/format.h>

#include "node/cluster.hpp"

namespace weft::detail {

void Cluster::fence(const std::string& reason) {
  ClusterView alone;
  {
    std::lock_guard lock(mutex_);
    if (!fenced_.empty()) return;
    fenced_ = reason;
    alone = view_;
  }
  std::vector<TaskSpecPtr> lost = router_.take_sent();
  // Every other node is gone to this one: actor handles fail, results kept
  // for other owners go, and work goes nowhere else.
  alone.version = UINT64_MAX;
  for (auto& n : alone.nodes) n.alive = n.alive && n.info.id == node_.node_id();
  adopt_view(std::move(alone));
  const std::string message =
      fmt::format("{}; the work this node had sent into the cluster is lost", reason);
  for (auto& spec : lost)
    spec->result->seal_error(std::make_exception_ptr(NodeFencedError(message)));
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  changed_.notify_all();
  release_bundles();
}

bool Cluster::stopped() const {
  std::lock_guard lock(mutex_);
  return stopped_;
}

std::string Cluster::fenced() const {
  std::lock_guard lock(mutex_);
  return fenced_;
}

bool Cluster::declared_dead(NodeId id) const {
  if (is_head_) return store_ && store_->fenced(id);
  return listed_dead(id);
}

}  // namespace weft::detail
