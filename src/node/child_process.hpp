// Child node processes for `--local-nodes N` (DESIGN §3).
//
// A child is a fresh exec of this same binary (/proc/self/exe), never a bare
// fork of a threaded process, and it dies with its parent
// (PR_SET_PDEATHSIG), so a crashed driver leaves no orphans behind.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace weft::detail {

class ChildProcess {
 public:
  // Starts this program with `args` (argv[1..]) and `env` added to the
  // environment. Throws weft::Error if it cannot.
  static ChildProcess spawn_self(const std::vector<std::string>& args,
                                 const std::vector<std::string>& env = {});

  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  // Kills (SIGKILL) and reaps the child if it is still running.
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  // False once the child has exited (reaps it).
  bool running();
  void signal(int sig) noexcept;
  // Waits for exit; returns the exit status, or 128 + signal number.
  int wait();

 private:
  explicit ChildProcess(pid_t pid) noexcept : pid_(pid) {}
  pid_t pid_ = -1;
  int status_ = -1;
};

}  // namespace weft::detail
