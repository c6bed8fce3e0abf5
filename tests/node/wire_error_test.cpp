// The wire's one error convention (node/wire_error.hpp): a weft error one
// node refuses a request with is, on the node that asked, the same type with
// the same message.
#include <exception>
#include <string>

#include "node/wire_error.hpp"
#include "weft_test.hpp"

namespace {

// `e` refused by a peer, as the asking node gets it: capnp relays a peer's
// exception with "remote exception: " in front of its description.
std::exception_ptr relayed(const std::exception& e) {
  const kj::Exception sent = weft::detail::refusal(e);
  const kj::Exception got(sent.getType(), __FILE__, __LINE__,
                          kj::str("remote exception: ", sent.getDescription()));
  return weft::detail::error_from_kj(got);
}

}  // namespace

TEST_CASE("a NodeFencedError survives refusal and error_from_kj with its type and message") {
  const std::string reason =
      "the head declared node 2a dead after 1500 ms without its heartbeats (a partition or a "
      "stall)";
  const std::exception_ptr back = relayed(weft::NodeFencedError(reason));
  CHECK_THROWS_AS(std::rethrow_exception(back), weft::NodeFencedError);
  CHECK_THROWS_WITH(std::rethrow_exception(back), reason);
}
