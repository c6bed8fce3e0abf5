// The wire's one error convention (wire_error.hpp).
#include "node/wire_error.hpp"

#include <string_view>

namespace weft {

namespace {
TransportError::Kind kind_of(kj::Exception::Type type) noexcept {
  switch (type) {
    case kj::Exception::Type::OVERLOADED:
      return TransportError::Kind::overloaded;
    case kj::Exception::Type::DISCONNECTED:
      return TransportError::Kind::disconnected;
    case kj::Exception::Type::UNIMPLEMENTED:
      return TransportError::Kind::unimplemented;
    default:
      return TransportError::Kind::failed;
  }
}

// A refusal's description: the tag, the kind of weft error, ": ", its message.
constexpr std::string_view refusal_tag = "weft-error ";

// The weft error kinds a refusal carries, each with how to rebuild it.
struct RefusalKind {
  std::string_view name;
  bool (*is)(const std::exception&) noexcept;
  std::exception_ptr (*make)(const std::string&);
};
template <typename E>
constexpr RefusalKind kind_named(std::string_view name) {
  return {name,
          [](const std::exception& e) noexcept { return dynamic_cast<const E*>(&e) != nullptr; },
          [](const std::string& m) { return std::make_exception_ptr(E(m)); }};
}
// Most derived first: the first match names the error.
constexpr RefusalKind refusal_kinds[] = {
    kind_named<UsageError>("usage"),
    kind_named<InfeasibleError>("infeasible"),
    kind_named<ActorDiedError>("actor-died"),
    kind_named<TypeMismatchError>("type-mismatch"),
    kind_named<DecodeError>("decode"),
    kind_named<ObjectStoreFullError>("store-full"),
    kind_named<TimeoutError>("timeout"),
    kind_named<ObjectLostError>("object-lost"),
    kind_named<NodeFencedError>("node-fenced"),
    kind_named<Error>("error"),
};

// What a KJ exception says to a user: the refusal it carries (kind set), or
// KJ's text without what the RPC system adds in front of a peer's.
struct Said {
  const RefusalKind* kind = nullptr;
  std::string_view message;
};
Said said_by(const kj::Exception& e) noexcept {
  std::string_view text = e.getDescription().cStr();
  constexpr std::string_view remote = "remote exception: ";
  while (text.starts_with(remote)) text.remove_prefix(remote.size());
  if (text.starts_with(refusal_tag)) {
    const std::string_view rest = text.substr(refusal_tag.size());
    for (const auto& k : refusal_kinds) {
      if (rest.starts_with(k.name) && rest.substr(k.name.size()).starts_with(": ")) {
        return {&k, rest.substr(k.name.size() + 2)};
      }
    }
  }
  return {nullptr, text};
}
}  // namespace

namespace detail {

kj::Exception refusal(const std::exception& e) {
  std::string_view kind = "error";
  for (const auto& k : refusal_kinds) {
    if (k.is(e)) {
      kind = k.name;
      break;
    }
  }
  std::string text = std::string(refusal_tag).append(kind).append(": ").append(e.what());
  return kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::heapString(text));
}

std::exception_ptr error_from_kj(const kj::Exception& e) {
  const Said said = said_by(e);
  if (said.kind != nullptr) return said.kind->make(std::string(said.message));
  return std::make_exception_ptr(TransportError(kind_of(e.getType()), std::string(said.message)));
}

std::string describe(const kj::Exception& e) { return std::string(said_by(e).message); }

}  // namespace detail

}  // namespace weft
