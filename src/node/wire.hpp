// Conversions between weft's C++ types and the wire schema (src/weft.capnp).
// Pure functions of their arguments; callable on any thread that owns the
// capnp message being read or built.
#pragma once

#include <exception>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "weft.capnp.h"
#include "weft/node/control_store.hpp"
#include "weft/object/object_id.hpp"
#include "weft/remote/options.hpp"

namespace weft::detail {

// Limits for reading any message or frame from another node: 512 MiB, room
// for chunk replies and big batches.
inline capnp::ReaderOptions reader_options() {
  capnp::ReaderOptions o;
  o.traversalLimitInWords = 64 * 1024 * 1024;
  return o;
}

inline void to_wire(wire::ObjectId::Builder b, ObjectId id) {
  b.setOwner(id.owner);
  b.setSequence(id.sequence);
}
inline ObjectId from_wire(wire::ObjectId::Reader r) { return {r.getOwner(), r.getSequence()}; }

void to_wire(capnp::List<wire::Resource>::Builder b,
             const std::vector<std::pair<std::string, double>>& amounts);
std::vector<std::pair<std::string, double>> amounts_of(const Resources& r);
void resources_to_wire(wire::TaskOptions::Builder b, const Resources& r);
Resources resources_from_wire(capnp::List<wire::Resource>::Reader r);

void to_wire(wire::NodeInfo::Builder b, const NodeInfo& info);
NodeInfo from_wire(wire::NodeInfo::Reader r);
void to_wire(wire::NodeLoad::Builder b, const NodeLoad& load);
NodeLoad from_wire(wire::NodeLoad::Reader r);
wire::PlacementStrategy to_wire(PlacementStrategy s);
PlacementStrategy from_wire(wire::PlacementStrategy s);
void to_wire(capnp::List<wire::Bundle>::Builder b, const std::vector<Resources>& bundles);
std::vector<Resources> from_wire(capnp::List<wire::Bundle>::Reader r);
void to_wire(wire::ClusterView::Builder b, const ClusterView& view);
ClusterView from_wire(wire::ClusterView::Reader r);
void to_wire(wire::ActorEntry::Builder b, const ActorEntry& entry);
ActorEntry from_wire(wire::ActorEntry::Reader r);

void to_wire(wire::TaskOptions::Builder b, const TaskOptions& options);
TaskOptions from_wire(wire::TaskOptions::Reader r);

// A failure as plain data, so it can be rethrown on another node as the same
// weft error type (TaskError keeps the original type name and task).
void to_wire(wire::Failure::Builder b, const std::exception_ptr& error);
std::exception_ptr from_wire(wire::Failure::Reader r);

}  // namespace weft::detail
