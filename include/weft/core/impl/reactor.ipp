// Reactor bodies; compiled once into libweft.
#include <pthread.h>

#include "weft/core/reactor.hpp"

namespace weft {

Reactor::Reactor(std::string name)
    : work_(asio::make_work_guard(io_)), thread_([this, name = std::move(name)] {
        pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
        detail::tls_current_reactor = this;
        io_.run();
      }) {}

Reactor::~Reactor() {
  work_.reset();
  io_.stop();
  thread_.join();
}

const char* Reactor::backend_name() noexcept {
#if defined(ASIO_HAS_IO_URING_AS_DEFAULT)
  return "io_uring";
#elif defined(ASIO_HAS_EPOLL)
  return "epoll";
#else
  return "select";
#endif
}

}  // namespace weft
