// Failure handling shared by every task; compiled once into libweft.
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "weft/remote/invoke.hpp"

namespace weft::detail {

namespace {
std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(mangled);
}
}  // namespace

std::exception_ptr as_task_error(std::exception_ptr error, std::string_view task_name) {
  try {
    std::rethrow_exception(error);
  } catch (const TaskError&) {
    return error;  // already carries the original type, message and task
  } catch (const std::exception& e) {
    return std::make_exception_ptr(TaskError(demangle(abi::__cxa_current_exception_type()->name()),
                                             e.what(), std::string(task_name)));
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    return std::make_exception_ptr(TaskError(t ? demangle(t->name()) : "unknown",
                                             "non-standard exception", std::string(task_name)));
  }
}

bool is_retryable(const std::exception_ptr& error, const TaskOptions& options) {
  try {
    std::rethrow_exception(error);
  } catch (const RetryableError&) {
    return true;
  } catch (...) {
    return options.retry_exceptions;
  }
}

}  // namespace weft::detail
