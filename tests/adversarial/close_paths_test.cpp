// Finding 1 of the hardening issue, and the close path as a whole: every
// close-after-reply of PROTOCOL.md section 2 ends the connection within a
// bounded time, from each place a close can be decided (the connection's
// own reader, another connection's reader, the timer, a slow-consumer
// drop, shutdown), while the client never sends another byte. Before the
// close became a state change the reader observes, a REGISTER_FAILED
// decided by a LOCK_DENIED or a lock timeout left the connection (and its
// two threads) open until the client spoke again.
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "adversary.h"

using namespace activity;
using namespace activity::test;

namespace {

// Well inside the bound (write deadline unused, linger 300 ms in tests).
constexpr Millis kCloseBound{3000};

ServerOptions close_test_options() {
  ServerOptions options = test_server_options();
  options.lock_timeout = 300ms;
  options.server_timeout = 600000ms;  // the fake peer announces once
  options.handshake_timeout = 300ms;
  return options;
}

// Waits until only `expected` connection threads are left.
bool threads_back_to(TestServer& server, std::size_t expected) {
  return wait_until([&] { return server.server().live_connection_threads() == expected; },
                    10000ms);
}

}  // namespace

TEST_CASE("a close decided by the connection's own reader ends it") {
  TestServer server(close_test_options());
  Bystander bystander(server.port());
  const std::string auth = "{\"command\":\"AUTHENTICATE\",\"secret\":\"wrong\"}";
  struct Case {
    const char* name;
    std::string line;
    const char* reply;  // nullptr: none expected
  };
  const std::vector<Case> cases = {
      {"INVALID_MESSAGE", "not json", "INVALID_MESSAGE"},
      {"AUTHENTICATION_FAIL", auth, "AUTHENTICATION_FAIL"},
      {"LOGIN_FAILED", "{\"command\":\"LOGIN\",\"username\":\"nobody\",\"secret\":\"x\"}",
       "LOGIN_FAILED"},
      {"REGISTER_FAILED", register_line("anonymous"), "REGISTER_FAILED"},
      {"LOGOUT", "{\"command\":\"LOGOUT\"}", nullptr},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    LineClient client(server.port());
    client.send_line(c.line);
    if (c.reply != nullptr) {
      std::optional<std::string> reply = client.read_line(kCloseBound);
      REQUIRE(reply);
      CHECK(reply->find(std::string("\"command\":\"") + c.reply + "\"") != std::string::npos);
    }
    CHECK(client.wait_closed(kCloseBound));
  }
  SUBCASE("handshake timeout") {
    LineClient silent(server.port());
    CHECK(reply_info(silent, Command::kInvalidMessage, kCloseBound).find("handshake") !=
          std::string::npos);
    CHECK(silent.wait_closed(kCloseBound));
  }
  CHECK(threads_back_to(server, 1));
  CHECK(bystander.still_served());
}

TEST_CASE("a REDIRECT ends the redirected connection") {
  TestServer server(close_test_options());
  Bystander bystander(server.port());
  FakePeer peer(server.port());
  peer.announce("idle", 0, "127.0.0.1", 9);
  REQUIRE(wait_until([&] { return server.server().stats().known_servers == 1; }));
  LineClient client(server.port());
  client.send_raw(encode_login("anonymous", std::nullopt));
  CHECK(client.read_until(Command::kRedirect, kCloseBound));
  CHECK(client.wait_closed(kCloseBound));
  CHECK(threads_back_to(server, 2));
}

TEST_CASE("REGISTER_FAILED from a LOCK_DENIED read on a link ends the client") {
  TestServer server(close_test_options());
  Bystander bystander(server.port());
  FakePeer peer(server.port());
  peer.announce("peer", 5);
  REQUIRE(wait_until([&] { return server.server().stats().known_servers == 1; }));
  LineClient client(server.port());
  client.send_line(register_line("taken", "mine"));
  REQUIRE(peer.link().read_until(Command::kLockRequest));
  // Decided on the link's reader thread, not the client's.
  peer.link().send_line(lock_line("LOCK_DENIED", "taken", "mine"));
  CHECK(reply_info(client, Command::kRegisterFailed, kCloseBound).find("already registered") !=
        std::string::npos);
  CHECK(client.wait_closed(kCloseBound));
  CHECK(threads_back_to(server, 2));
  CHECK(bystander.still_served());
}

TEST_CASE("50 registrations failed by the lock timeout leave nothing open") {
  TestServer server(close_test_options());
  Bystander bystander(server.port());
  FakePeer peer(server.port());
  peer.announce("mute", 5);  // noted by every round, never answers
  REQUIRE(wait_until([&] { return server.server().stats().known_servers == 1; }));
  const std::size_t baseline = server.server().live_connection_threads();
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(std::make_unique<LineClient>(server.port()));
    clients.back()->send_line(register_line("late" + std::to_string(i)));
  }
  // Decided by the timer thread; the clients never send another byte.
  for (auto& client : clients) {
    CHECK(reply_info(*client, Command::kRegisterFailed, kCloseBound + 1000ms)
              .find("timed out") != std::string::npos);
    CHECK(client->wait_closed(kCloseBound));
  }
  CHECK(threads_back_to(server, baseline));
  CHECK(server.server().stats().pending_registrations == 0);
  CHECK(server.server().stats().users == 0);
  CHECK(bystander.still_served());
}

TEST_CASE("a slow consumer dropped by another connection's delivery ends") {
  ServerOptions options = close_test_options();
  options.client_queue_bytes = 64 * 1024;
  TestServer server(options);
  LineClient slow(server.port());
  const int small = 4096;
  setsockopt(slow.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  REQUIRE(slow.login());
  Bystander publisher(server.port());
  const std::string activity =
      encode_activity_message("anonymous", std::nullopt,
                              "{\"pad\":\"" + std::string(4000, 'p') + "\"}");
  for (int i = 0; i < 4000 && server.server().stats().load == 2; ++i) {
    publisher.client().send_raw(activity);
    REQUIRE(publisher.client().read_until(Command::kActivityBroadcast));
  }
  CHECK(wait_until([&] { return server.server().stats().load == 1; }));
  CHECK(threads_back_to(server, 1));
  CHECK(publisher.still_served());
}

TEST_CASE("stopping the server ends every connection at once") {
  auto server = std::make_unique<TestServer>(close_test_options());
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<LineClient>(server->port()));
    if (i % 2 == 0) REQUIRE(clients.back()->login());
  }
  server->server().stop();
  CHECK(server->server().live_connection_threads() == 0);
  for (auto& client : clients) CHECK(client->wait_closed(kCloseBound));
}
