// How errors cross the wire: one convention for every request and connection.
#pragma once

#include <kj/exception.h>

#include <exception>
#include <string>

#include "weft/error.hpp"

namespace weft::detail {

// The one error convention on the wire. A node that refuses a request (or a
// connection) fails it with refusal(e): a KJ exception whose description is
// the weft error's kind and message, with nothing of KJ's own. The caller
// turns any KJ exception back into what a user sees with error_from_kj: the
// weft error the peer threw (UsageError, InfeasibleError, ...), or, for a
// failure of the connection itself, TransportError; capnp's "remote
// exception:" prefix and KJ's source expressions never reach a message.
kj::Exception refusal(const std::exception& e);
std::exception_ptr error_from_kj(const kj::Exception& e);
// error_from_kj's message alone, for logs.
std::string describe(const kj::Exception& e);

}  // namespace weft::detail
