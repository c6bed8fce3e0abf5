// A failed result whose last ref dies before anyone read its error logs one
// warning naming the task and the error (Ray's "unhandled error"); an error
// someone learnt of (awaited, got, or failing a dependent task) logs nothing,
// and ObjectStoreOptions::log_unread_errors = false silences the warning.
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "remote/failures.hpp"
#include "stderr_capture.hpp"
#include "weft/weft.hpp"
#include "weft_test.hpp"

namespace {

using remote_test::caught_as;
using remote_test::failure_of;
using weft_test::stderr_of;

constexpr std::string_view unread_warning = "died with an error nobody read";

weft::NodeOptions small_node(bool log_unread_errors = true) {
  return {.threads = 2, .store = {.capacity = 64 << 20, .log_unread_errors = log_unread_errors}};
}

std::size_t occurrences(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

int unread_throws(int x) {
  std::string message = "no value for ";
  message += std::to_string(x);
  throw std::out_of_range(message);
}
WEFT_REMOTE(unread_throws);

int unread_plus_one(int x) { return x + 1; }
WEFT_REMOTE(unread_plus_one);

weft::Returns<int, int> unread_pair_throws(int x) {
  std::string message = "no pair for ";
  message += std::to_string(x);
  throw std::invalid_argument(message);
}
WEFT_REMOTE(unread_pair_throws);

TEST_CASE("a failed result dropped unread logs one warning naming the task and its error") {
  const std::string out = stderr_of([] {
    weft::Node node(small_node());
    node.run([](weft::Runtime&) -> weft::Task<void> {
      auto failed = weft::submit<&unread_throws>(7);
      // Waiting learns only that it is done, not what it holds.
      std::vector waited{failed};
      co_await weft::wait(std::move(waited));
    });
  });
  CHECK(occurrences(out, unread_warning) == 1);
  CHECK(out.find("unread_throws") != std::string::npos);
  CHECK(out.find("std::out_of_range") != std::string::npos);
  CHECK(out.find("no value for 7") != std::string::npos);
  CHECK(out.find("log_unread_errors") != std::string::npos);
}

TEST_CASE("an error that was awaited or got logs nothing when its ref dies") {
  const std::string out = stderr_of([] {
    weft::Node node(small_node());
    const auto awaited = node.run([](weft::Runtime&) -> weft::Task<std::exception_ptr> {
      co_return co_await failure_of(weft::submit<&unread_throws>(1));
    });
    CHECK(caught_as<weft::TaskError>(awaited));
    weft::Node::ThreadScope scope(node);
    auto got = weft::submit<&unread_throws>(2);
    CHECK_THROWS_AS(weft::get(got), weft::TaskError);
  });
  CHECK(occurrences(out, unread_warning) == 0);
}

TEST_CASE("an error passed to a dependent task is read there, and only the dependent's is told") {
  const std::string out = stderr_of([] {
    weft::Node node(small_node());
    node.run([](weft::Runtime&) -> weft::Task<void> {
      auto failed = weft::submit<&unread_throws>(3);
      auto dependent = weft::submit<&unread_plus_one>(failed);
      std::vector waited{dependent};
      co_await weft::wait(std::move(waited));
    });
  });
  // The dependent read its argument's error and holds it; nobody read that.
  CHECK(occurrences(out, unread_warning) == 1);
  CHECK(out.find("no value for 3") != std::string::npos);
}

TEST_CASE("each unread result of a task with several fails on its own; read ones log nothing") {
  const std::string out = stderr_of([] {
    weft::Node node(small_node());
    const auto first_error = node.run([](weft::Runtime&) -> weft::Task<std::exception_ptr> {
      auto [first, second] = weft::submit<&unread_pair_throws>(4);
      auto error = co_await failure_of(first);
      std::vector waited{second};
      co_await weft::wait(std::move(waited));
      co_return error;
    });
    CHECK(caught_as<weft::TaskError>(first_error));
  });
  CHECK(occurrences(out, unread_warning) == 1);
  CHECK(out.find("no pair for 4") != std::string::npos);
}

TEST_CASE("log_unread_errors = false drops unread errors silently") {
  const std::string out = stderr_of([] {
    weft::Node node(small_node(/*log_unread_errors=*/false));
    node.run([](weft::Runtime&) -> weft::Task<void> {
      auto failed = weft::submit<&unread_throws>(5);
      std::vector waited{failed};
      co_await weft::wait(std::move(waited));
    });
  });
  CHECK(occurrences(out, unread_warning) == 0);
}
