#include "node/addresses.hpp"
#include "node/kj_asio.hpp"
#include "node/transport.hpp"

namespace weft::detail {

void TcpTransport::check_bind(std::string_view flag, const std::string& host) const {
  check_bind_address(flag, host);
}

std::string TcpTransport::default_advertise(const std::string& bind, const std::string& head_host,
                                            std::uint16_t head_port) const {
  return detail::default_advertise(bind, head_host, head_port);
}

kj::Own<kj::ConnectionReceiver> TcpTransport::listen(const std::string& host, std::uint16_t port) {
  return kj::heap<TcpListener>(io_, asio::ip::tcp::endpoint(asio::ip::make_address_v4(host), port));
}

kj::Promise<kj::Own<kj::AsyncIoStream>> TcpTransport::connect(const std::string& host,
                                                              std::uint16_t port) {
  return connect_tcp(io_, host, port);
}

}  // namespace weft::detail
