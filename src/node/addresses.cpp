// --bind and --advertise: checks and defaults (see addresses.hpp).
#include "node/addresses.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "weft/error.hpp"

namespace weft::detail {

namespace {
// This host's IPv4 interface addresses, loopback included.
std::vector<asio::ip::address_v4> interface_addresses() {
  std::vector<asio::ip::address_v4> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    out.emplace_back(ntohl(in->sin_addr.s_addr));
  }
  freeifaddrs(list);
  return out;
}

std::optional<asio::ip::address_v4> resolve_v4(const std::string& host) {
  asio::error_code ec;
  const auto literal = asio::ip::make_address_v4(host, ec);
  if (!ec) return literal;
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  const auto results = resolver.resolve(asio::ip::tcp::v4(), host, "", ec);
  if (ec || results.empty()) return std::nullopt;
  return results.begin()->endpoint().address().to_v4();
}
}  // namespace

void check_bind_address(std::string_view flag, const std::string& text) {
  asio::error_code ec;
  const auto address = asio::ip::make_address_v4(text, ec);
  if (ec) {
    throw UsageError(fmt::format(
        "{}: '{}' is not an IPv4 address (give one of this host's, such as 127.0.0.1, or 0.0.0.0 "
        "for all)",
        flag, text));
  }
  if (address.is_unspecified() || address.is_loopback()) return;
  for (const auto& mine : interface_addresses()) {
    if (mine == address) return;
  }
  throw UsageError(fmt::format(
      "{}: {} is not an address of this host (see `ip -4 addr`; 0.0.0.0 listens on all of them)",
      flag, text));
}

void check_resolves(std::string_view flag, const std::string& host) {
  if (host.empty()) throw UsageError(fmt::format("{}: the host is empty", flag));
  if (!resolve_v4(host)) {
    throw UsageError(fmt::format(
        "{}: cannot resolve '{}' to an IPv4 address (check the name, or give an address)", flag,
        host));
  }
}

std::string default_advertise(const std::string& bind, const std::string& head_host,
                              std::uint16_t head_port) {
  if (bind != "0.0.0.0") return bind;
  if (!head_host.empty()) {
    // Connecting a UDP socket sends nothing: it only asks the kernel which
    // interface routes there.
    if (auto head = resolve_v4(head_host)) {
      asio::io_context io;
      asio::ip::udp::socket probe(io);
      asio::error_code ec;
      probe.connect(asio::ip::udp::endpoint(*head, head_port == 0 ? 9 : head_port), ec);
      if (!ec) {
        const auto local = probe.local_endpoint(ec).address();
        if (!ec && !local.is_unspecified()) return local.to_string();
      }
    }
  }
  for (const auto& mine : interface_addresses()) {
    if (!mine.is_loopback()) return mine.to_string();
  }
  return "127.0.0.1";
}

}  // namespace weft::detail
