// HMAC-SHA256 proofs of the cluster token, with libsodium.
#include "node/auth.hpp"

#include <sodium.h>

#include <cstring>
#include <stdexcept>

namespace weft::detail {

namespace {
void ensure_sodium() {
  // Thread-safe and idempotent; fails only without a source of randomness.
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium could not be initialised (no randomness source)");
}

std::array<std::uint8_t, 19> stream_message(NodeId sender) {
  std::array<std::uint8_t, 19> m{};
  std::memcpy(m.data(), "weft stream", 11);
  for (int i = 0; i < 8; ++i) m[11 + i] = static_cast<std::uint8_t>(sender >> (8 * i));
  return m;
}
}  // namespace

Nonce fresh_nonce() {
  ensure_sodium();
  Nonce n;
  randombytes_buf(n.data(), n.size());
  return n;
}

Proof prove(std::string_view token, std::span<const std::uint8_t> message) {
  ensure_sodium();
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(token.data()),
                              token.size());
  crypto_auth_hmacsha256_update(&state, message.data(), message.size());
  Proof p;
  crypto_auth_hmacsha256_final(&state, p.data());
  sodium_memzero(&state, sizeof state);
  return p;
}

bool verify(std::string_view token, std::span<const std::uint8_t> message,
            std::span<const std::uint8_t> proof) {
  if (proof.size() != Proof{}.size()) return false;
  const Proof expected = prove(token, message);
  return sodium_memcmp(expected.data(), proof.data(), expected.size()) == 0;
}

Proof prove_stream_hello(std::string_view token, NodeId sender) {
  const auto m = stream_message(sender);
  return prove(token, m);
}

bool verify_stream_hello(std::string_view token, NodeId sender,
                         std::span<const std::uint8_t> proof) {
  const auto m = stream_message(sender);
  return verify(token, m, proof);
}

}  // namespace weft::detail
