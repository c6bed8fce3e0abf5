// The token's proofs (src/node/auth.hpp): they verify with the same token
// over the same message only, and never contain the token.
#include <algorithm>
#include <string>
#include <string_view>

#include "node/auth.hpp"
#include "weft_test.hpp"

using weft::detail::fresh_nonce;
using weft::detail::prove;
using weft::detail::verify;

TEST_CASE("a proof verifies with its token and nonce, and with nothing else") {
  const std::string token = "correct horse battery staple";
  const auto nonce = fresh_nonce();
  const auto proof = prove(token, nonce);

  CHECK(verify(token, nonce, proof));
  CHECK_FALSE(verify("correct horse battery stapler", nonce, proof));
  CHECK_FALSE(verify(token, fresh_nonce(), proof));
  CHECK_FALSE(verify(token, nonce, std::span(proof).first(16)));
  auto flipped = proof;
  flipped[5] ^= 1;
  CHECK_FALSE(verify(token, nonce, flipped));
}

TEST_CASE("nonces differ from one challenge to the next") { CHECK(fresh_nonce() != fresh_nonce()); }

TEST_CASE("a stream hello's proof is bound to the sender's node id") {
  const auto proof = weft::detail::prove_stream_hello("t0ken", 0x5eed);
  CHECK(weft::detail::verify_stream_hello("t0ken", 0x5eed, proof));
  CHECK_FALSE(weft::detail::verify_stream_hello("t0ken", 0x5eee, proof));
  CHECK_FALSE(weft::detail::verify_stream_hello("token", 0x5eed, proof));
  const std::string_view bytes(reinterpret_cast<const char*>(proof.data()), proof.size());
  CHECK(bytes.find("t0ken") == std::string_view::npos);
}
