// connect_tcp to a host name: asio's resolver, adapted to a KJ promise.
#include <kj/debug.h>

#include <memory>
#include <string>
#include <utility>

#include "node/kj_asio.hpp"

namespace weft::detail {

namespace {
// connect_tcp's pending name lookup; the asio handler shares it with the promise.
struct PendingResolve {
  explicit PendingResolve(asio::io_context& io) : resolver(io) {}
  asio::ip::tcp::resolver resolver;
  kj::PromiseFulfiller<asio::ip::tcp::endpoint>* fulfiller =
      nullptr;  // null once settled or dropped
};

class ResolveAdapter {
 public:
  ResolveAdapter(kj::PromiseFulfiller<asio::ip::tcp::endpoint>& fulfiller, asio::io_context& io,
                 const std::string& host, std::uint16_t port)
      : pending_(std::make_shared<PendingResolve>(io)) {
    pending_->fulfiller = &fulfiller;
    pending_->resolver.async_resolve(
        asio::ip::tcp::v4(), host, std::to_string(port),
        [p = pending_, host](const asio::error_code& ec,
                             const asio::ip::tcp::resolver::results_type& results) {
          KjAsioEventPort::CompletionScope run_kj_after;
          auto* f = std::exchange(p->fulfiller, nullptr);
          if (f == nullptr) return;
          if (ec || results.empty()) {
            f->reject(kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                                    kj::str("cannot resolve host name '", host.c_str(),
                                            "': ", ec ? ec.message().c_str() : "no IPv4 address")));
            return;
          }
          f->fulfill(results.begin()->endpoint());
        });
  }
  ~ResolveAdapter() {
    if (std::exchange(pending_->fulfiller, nullptr) != nullptr) pending_->resolver.cancel();
  }
  ResolveAdapter(const ResolveAdapter&) = delete;
  ResolveAdapter& operator=(const ResolveAdapter&) = delete;

 private:
  std::shared_ptr<PendingResolve> pending_;
};
}  // namespace

kj::Promise<kj::Own<kj::AsyncIoStream>> connect_tcp(asio::io_context& io, const std::string& host,
                                                    std::uint16_t port) {
  asio::error_code ec;
  const auto address = asio::ip::make_address_v4(host, ec);
  if (!ec) return connect_tcp(io, asio::ip::tcp::endpoint(address, port));
  return kj::newAdaptedPromise<asio::ip::tcp::endpoint, ResolveAdapter>(io, host, port)
      .then([&io](asio::ip::tcp::endpoint endpoint) { return connect_tcp(io, endpoint); });
}

}  // namespace weft::detail
