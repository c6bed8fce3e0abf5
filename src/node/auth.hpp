// The cluster token proves itself without travelling (DESIGN §7's handshake).
//
//   Nonce n = fresh_nonce();                              // the gate, per connection
//   Proof p = prove(token, n);                            // the peer, from Gate.challenge
//   bool ok = verify(token, n, p);                        // the gate, in constant time
//
// A proof is HMAC-SHA256 keyed with the token (libsodium). The gate's proof
// is over a nonce it chose for that connection, so a recorded handshake
// cannot be replayed. A task stream's hello is one-way and carries no
// nonce: its proof covers the sender's node id, which keeps the token off
// the wire but does not stop a replay by someone who can already read and
// inject into the connection (there is no TLS). Any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "weft/object/object_id.hpp"

namespace weft::detail {

using Nonce = std::array<std::uint8_t, 32>;
using Proof = std::array<std::uint8_t, 32>;

Nonce fresh_nonce();
Proof prove(std::string_view token, std::span<const std::uint8_t> message);
// False for a proof of another length too.
bool verify(std::string_view token, std::span<const std::uint8_t> message,
            std::span<const std::uint8_t> proof);

// What a task stream's hello proves: "weft stream" and the sender's id.
Proof prove_stream_hello(std::string_view token, NodeId sender);
bool verify_stream_hello(std::string_view token, NodeId sender,
                         std::span<const std::uint8_t> proof);

}  // namespace weft::detail
