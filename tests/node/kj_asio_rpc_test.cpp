// KJ inside the Asio reactor: Cap'n Proto RPC between two reactors over real
// loopback TCP, awaited from weft coroutines.
#include <cstdint>
#include <utility>
#include <vector>

#include "kj_asio_fixture.hpp"
#include "weft/core/sync_wait.hpp"
#include "weft/core/task.hpp"
#include "weft/core/when_all.hpp"
#include "weft_test.hpp"

namespace {
using kj_asio_test::transport_error_kind;
using kj_asio_test::TwoNodes;
using weft::TransportError;
}  // namespace

TEST_CASE("an RPC echo between two reactors returns on the awaiting coroutine's executor") {
  TwoNodes n;
  n.start_rpc();
  auto body = [&]() -> weft::Task<std::pair<std::uint64_t, bool>> {
    co_await weft::resume_on(n.pool);
    auto v = co_await n.echo(41);
    co_return std::pair{v, weft::current_executor() == &n.pool};
  };
  auto [value, on_pool] = weft::sync_wait(body());
  CHECK(value == 41);
  CHECK(on_pool);
}

TEST_CASE("1000 pipelined RPC calls all return their own values") {
  TwoNodes n;
  n.start_rpc();
  auto body = [&]() -> weft::Task<std::vector<std::uint64_t>> {
    co_await weft::resume_on(n.pool);
    std::vector<weft::Task<std::uint64_t>> calls;
    for (std::uint64_t i = 0; i < 1000; ++i) calls.push_back(n.echo(i * 7 + 1));
    co_return co_await weft::when_all(std::move(calls));
  };
  auto values = weft::sync_wait(body());
  REQUIRE(values.size() == 1000);
  std::size_t wrong = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) wrong += values[i] != i * 7 + 1;
  CHECK(wrong == 0);
}

TEST_CASE("a peer that drops the connection fails a pending call with TransportError") {
  TwoNodes n;
  n.start_rpc();
  auto body = [&]() -> weft::Task<TransportError::Kind> {
    co_await weft::resume_on(n.pool);
    auto pending =
        weft::run_on_kj(n.b, [&] { return n.client->echo.hangRequest().send().ignoreResult(); });
    auto drop = weft::run_on_kj(n.a, [&] {
      return kj::mv(n.server->hang_seen.promise).then([&] { n.server->peers.clear(); });
    });
    auto [kind, dropped] =
        co_await weft::when_all(transport_error_kind(std::move(pending)), std::move(drop));
    (void)dropped;
    co_return kind;
  };
  CHECK(weft::sync_wait(body()) == TransportError::Kind::disconnected);

  // Both reactors keep serving: a new connection echoes again.
  n.connect_client();
  CHECK(weft::sync_wait(n.echo(5)) == 5);
}
