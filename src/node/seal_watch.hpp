// Waiting for objects to seal where the reactor hands objects on once they
// are complete: when_sealed (weft/object/seal_group.hpp), and sealing a copy
// once the objects its value names are here.
#pragma once

#include <utility>
#include <vector>

#include "weft/object/seal_group.hpp"

namespace weft::detail {

// Seals a copied object once every object its value names is here too, so
// that whoever reads it can read those as well.
inline void seal_once_named_arrive(ObjectHandle object, PayloadBuffer payload,
                                   std::vector<ObjectHandle> named) {
  std::vector<ObjectHandle> waiting = named;
  when_sealed(std::move(waiting), [object = std::move(object), payload = std::move(payload),
                                   named = std::move(named)]() mutable {
    object->seal(std::move(payload), std::move(named));
  });
}
}  // namespace weft::detail
