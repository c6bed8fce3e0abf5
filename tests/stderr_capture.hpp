// What a piece of test code writes to stderr (weft's log goes there).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "weft_test.hpp"

namespace weft_test {

// Runs `f` with stderr going to a pipe; what it wrote. Keep the output
// under the pipe's buffer (64 KiB): nothing reads it until `f` returns.
template <typename F>
std::string stderr_of(F f) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(fds[1], STDERR_FILENO);
  ::close(fds[1]);
  f();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string out;
  char buf[4096];
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  return out;
}

}  // namespace weft_test
