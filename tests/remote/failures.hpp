// How a task, a call or a ref failed, for the single-node tests.
#pragma once

#include <exception>
#include <optional>

#include "weft/weft.hpp"

namespace remote_test {

// The exception `p` holds, as an E, if it is one.
template <typename E>
std::optional<E> caught_as(const std::exception_ptr& p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const E& e) {
    return e;
  } catch (...) {
  }
  return std::nullopt;
}

// Awaits `ref` and returns what it threw (nullptr if it resolved).
template <typename T>
weft::Task<std::exception_ptr> failure_of(weft::ObjectRef<T> ref) {
  std::exception_ptr error;
  try {
    co_await ref;
  } catch (...) {
    error = std::current_exception();
  }
  co_return error;
}

}  // namespace remote_test
