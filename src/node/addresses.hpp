// Which IPv4 address a node binds and which it advertises to its peers
// (--bind, --advertise), and the checks that make bad values usage errors.
// Everything here may block on name lookups: call it before the reactor
// serves (weft::run, Cluster::start), never from the reactor thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weft::detail {

// Checks that `text` is an IPv4 address this host can listen on (0.0.0.0,
// any of 127.0.0.0/8, or an address of one of its interfaces); throws
// weft::UsageError naming `flag` otherwise.
void check_bind_address(std::string_view flag, const std::string& text);

// Checks that `host` is an IPv4 address or a name that resolves to one;
// throws weft::UsageError naming `flag` otherwise.
void check_resolves(std::string_view flag, const std::string& host);

// The address peers reach a node at that listens on `bind`: `bind` itself,
// unless it is 0.0.0.0; then the address of the interface that routes to
// `head_host` (a node joining a cluster) or, with no head (the head itself),
// the first non-loopback interface address, or 127.0.0.1 if there is none.
std::string default_advertise(const std::string& bind, const std::string& head_host,
                              std::uint16_t head_port);

}  // namespace weft::detail
