// Graceful stop: a server given SIGTERM hands its clients on with REDIRECT
// (our client follows it by itself, a raw-socket client by the protocol),
// closes its links so the server below it rejoins at once, and exits 0;
// every client keeps receiving afterwards.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>

#include "cluster.h"

namespace activity::test {
namespace {

// Logs in where `redirect` says, following further REDIRECTs as the
// protocol's clients do (the new server may balance its load on).
std::unique_ptr<LineClient> follow(Message redirect) {
  for (int hops = 0; hops < 10; ++hops) {
    auto client = std::make_unique<LineClient>(redirect.port, redirect.hostname);
    if (!client->login()) return nullptr;
    std::optional<Message> next = client->read_message(200ms);
    if (!next || next->command != Command::kRedirect) return client;
    redirect = *next;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("graceful stop: clients are redirected and keep receiving") {
  // 0 root; 1 and 2 under it; 3 under 1. Server 1 is stopped.
  Cluster cluster;
  const std::optional<std::size_t> parents[] = {std::nullopt, 0, 0, 1};
  for (std::size_t i = 0; i < 4; ++i) {
    std::string why;
    REQUIRE_MESSAGE(cluster.start(i, parents[i], &why), why);
  }
  for (std::size_t i = 0; i < 4; ++i) REQUIRE(cluster.listen(i));
  std::string missing;
  REQUIRE_MESSAGE(cluster.one_tree(10000ms, &missing), missing);
  cluster.drain(2100ms);  // past the start-up grace: links heal from now on

  const std::uint16_t stopped_port = cluster.at(1).port;
  ChildProcess ours(binary_from_env("ACTIVITY_CLIENT"),
                    {"-rh", "127.0.0.1", "-rp", std::to_string(stopped_port)});
  CAPTURE(ours.stderr_text());
  REQUIRE(ours.wait_stderr("logged in as anonymous"));
  LineClient raw(stopped_port);
  REQUIRE(raw.login());

  const auto stop_started = std::chrono::steady_clock::now();
  cluster.at(1).listener.reset();  // its own listener is redirected too
  cluster.at(1).process->send_signal(SIGTERM);
  std::optional<Message> redirect = raw.read_until(Command::kRedirect);
  REQUIRE(redirect);
  CHECK(redirect->port != stopped_port);
  // Handing off, it accepts nobody new (who would be cut without a
  // REDIRECT): the port refuses.
  REQUIRE(cluster.at(1).process->wait_stderr("no longer accepting connections"));
  CHECK_THROWS(LineClient(stopped_port));
  CHECK(raw.wait_closed());
  REQUIRE(cluster.at(1).process->wait_exit(5000ms).value_or(-1) == 0);
  const auto stop_took = std::chrono::steady_clock::now() - stop_started;
  CHECK(stop_took < kHandOffBound + 2000ms);
  cluster.at(1).process.reset();

  // The raw client follows the REDIRECT as the protocol says.
  std::unique_ptr<LineClient> moved = follow(*redirect);
  REQUIRE(moved);
  REQUIRE(ours.wait_stderr("redirected by 127.0.0.1:" + std::to_string(stopped_port)));
  REQUIRE(ours.wait_stderr("logged in as anonymous on"));
  CHECK(ours.stderr_text().find("logged in as anonymous on 127.0.0.1:" +
                                std::to_string(stopped_port) + "\n") != std::string::npos);
  // Server 3 rejoined (through 0, its grandparent): one tree of 0, 2, 3.
  REQUIRE_MESSAGE(cluster.one_tree(10000ms, &missing), missing);
  CHECK(cluster.at(3).process->wait_stderr("rejoined the network"));

  // Both redirected clients receive what is sent anywhere.
  for (std::size_t sender : {0, 2, 3}) {
    const std::string id = "after-stop-" + std::to_string(sender);
    cluster.at(sender).listener->send_raw(encode_activity_message(
        "anonymous", std::nullopt, "{\"id\":\"" + id + "\"}"));
    bool raw_got = false;
    for (int i = 0; i < 10 && !raw_got; ++i) {
      std::optional<Message> message = moved->read_until(Command::kActivityBroadcast);
      raw_got = message && activity_id(message->activity) == id;
    }
    CHECK_MESSAGE(raw_got, id);
    bool ours_got = false;
    for (int i = 0; i < 10 && !ours_got; ++i) {
      std::optional<std::string> line = ours.read_line();
      ours_got = line && line->find(id) != std::string::npos;
    }
    CHECK_MESSAGE(ours_got, id);
  }
  CHECK(cluster.duplicates().empty());
}

}  // namespace activity::test
