// The exceptions weft throws. Each says what happened and what to do about it.
//
//   try { co_await ref; }
//   catch (const weft::TaskError& e) { log(e.type_name(), e.task_name(), e.what()); }
#pragma once

#include <stdexcept>
#include <string>

namespace weft {

// Base of every error weft reports to users.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A payload was read as a type other than the one it was written as.
class TypeMismatchError : public Error {
 public:
  using Error::Error;
};

// A payload is truncated or otherwise not a valid encoding.
class DecodeError : public Error {
 public:
  using Error::Error;
};

// The object store cannot hold a value (too large, or full).
class ObjectStoreFullError : public Error {
 public:
  using Error::Error;
};

// A call was made from a context that must not make it (for example a
// blocking weft::get on an executor thread).
class UsageError : public Error {
 public:
  using Error::Error;
};

// No node can ever satisfy a task's or actor's resource request.
class InfeasibleError : public Error {
 public:
  using Error::Error;
};

// An actor is dead (killed, or its node failed) and cannot run the call.
class ActorDiedError : public Error {
 public:
  using Error::Error;
};

// wait/get gave up before the object was ready.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

// An object's only copy went with the node that held it, before it could be
// copied to whoever reads it.
class ObjectLostError : public Error {
 public:
  using Error::Error;
};

// A task called for a given number of results (weft::NumReturns) returned
// another number of values; each of its results carries this error.
class ReturnCountError : public Error {
 public:
  using Error::Error;
};

// The head declared this node dead and will not have it back as itself: a
// fenced worker rejoins as a new node; a fenced driver must be run again.
class NodeFencedError : public Error {
 public:
  using Error::Error;
};

// Throw (a subclass of) this from a task to make it eligible for retries
// under `max_retries`; other exceptions fail the task at once.
class RetryableError : public Error {
 public:
  using Error::Error;
};

// A peer connection failed: reset, closed, refused, or a malformed exchange.
// kind() says whether a retry elsewhere can help.
class TransportError : public Error {
 public:
  enum class Kind { failed, overloaded, disconnected, unimplemented };

  TransportError(Kind kind, const std::string& message) : Error(message), kind_(kind) {}

  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

// An exception thrown inside a task or actor method, carried back to whoever
// awaits the result. what() is the original message.
class TaskError : public Error {
 public:
  TaskError(std::string type_name, std::string message, std::string task_name)
      : Error(message), type_name_(std::move(type_name)), task_name_(std::move(task_name)) {}

  // The demangled type of the original exception, e.g. "std::out_of_range".
  const std::string& type_name() const noexcept { return type_name_; }
  // The registered name of the task or method that threw, e.g. "Counter::add".
  const std::string& task_name() const noexcept { return task_name_; }

 private:
  std::string type_name_;
  std::string task_name_;
};

}  // namespace weft
