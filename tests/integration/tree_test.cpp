// Distributed behaviour over real sockets: trees of in-process servers on
// loopback port 0. An activity reaches every logged-in client exactly once,
// a user registered on a leaf logs in elsewhere, racing registrations end
// with at most one success, and redirects follow the load gap rule.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

using namespace activity;
using namespace activity::test;

namespace {

// Server i joins server (i - 1) / 2: a binary tree.
std::size_t binary_parent(std::size_t i) { return (i - 1) / 2; }

std::string activity_line(const std::string& marker) {
  return encode_activity_message("anonymous", std::nullopt,
                                 "{\"marker\":\"" + marker + "\"}");
}

// The marker of an ACTIVITY_BROADCAST line, or "" for anything else.
std::string marker_of(const std::optional<Message>& message) {
  if (!message || message->command != Command::kActivityBroadcast) return "";
  const std::string& activity = message->activity;
  const std::string key = "\"marker\":\"";
  const std::size_t start = activity.find(key);
  if (start == std::string::npos) return "";
  const std::size_t end = activity.find('"', start + key.size());
  return activity.substr(start + key.size(), end - start - key.size());
}

}  // namespace

TEST_CASE("a 7-server tree delivers one activity to every client exactly once") {
  auto servers = start_tree(7, binary_parent);
  // Two clients per server, one round at a time with loads settled in
  // between, so no login is redirected.
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int round = 0; round < 2; ++round) {
    REQUIRE(wait_loads_settled(servers));
    for (const auto& server : servers) {
      clients.push_back(std::make_unique<LineClient>(server->port()));
      REQUIRE(clients.back()->login());
    }
  }
  REQUIRE(wait_loads_settled(servers));
  for (const auto& server : servers) CHECK(server->server().stats().load == 2);
  // A client that never logs in gets nothing.
  LineClient stranger(servers[3]->port());

  // The sender is on a leaf; two activities in a row from one sender keep
  // their order on every path, so "second" right after "first" proves that
  // no client saw "first" twice.
  LineClient& sender = *clients.back();
  sender.send_raw(activity_line("first"));
  sender.send_raw(activity_line("second"));
  for (std::size_t i = 0; i < clients.size(); ++i) {
    CAPTURE(i);
    CHECK(marker_of(clients[i]->read_message()) == "first");
    CHECK(marker_of(clients[i]->read_message()) == "second");
  }
  // Nothing else arrives: a third marker is the very next line everywhere.
  clients.front()->send_raw(activity_line("third"));
  for (std::size_t i = 0; i < clients.size(); ++i) {
    CAPTURE(i);
    CHECK(marker_of(clients[i]->read_message()) == "third");
  }
  CHECK_FALSE(stranger.read_line(200ms).has_value());
}

TEST_CASE("authenticated_user is stamped by the sender's server everywhere") {
  auto servers = start_tree(3, [](std::size_t) { return 0; });
  LineClient registrar(servers[1]->port());
  REQUIRE(registrar.register_user("carol", "pw"));
  REQUIRE(registrar.login("carol", "pw"));
  LineClient watcher(servers[2]->port());
  REQUIRE(watcher.login());
  registrar.send_raw(encode_activity_message(
      "carol", std::string_view("pw"),
      "{\"authenticated_user\":\"mallory\",\"verb\":\"post\"}"));
  std::optional<Message> got = watcher.read_until(Command::kActivityBroadcast);
  REQUIRE(got);
  CHECK(got->username == "carol");
  CHECK(got->activity == "{\"verb\":\"post\",\"authenticated_user\":\"carol\"}");
}

TEST_CASE("register on a leaf, log in at another server") {
  auto servers = start_tree(7, binary_parent);
  LineClient registrar(servers[6]->port());
  REQUIRE(registrar.register_user("alice", "s3cret"));
  // REGISTER_SUCCESS means every known server allowed and stored the pair.
  for (const auto& server : servers) {
    CHECK(server->server().stored_secret("alice") ==
          std::optional<std::string>("s3cret"));
  }
  LineClient elsewhere(servers[3]->port());
  CHECK(elsewhere.login("alice", "s3cret"));
  LineClient wrong(servers[0]->port());
  CHECK_FALSE(wrong.login("alice", "other"));
  CHECK(wrong.wait_closed());
  // Registering the same name again anywhere fails.
  LineClient again(servers[5]->port());
  again.send_raw(encode_register("alice", "x"));
  std::optional<Message> reply = again.read_message();
  REQUIRE(reply);
  CHECK(reply->command == Command::kRegisterFailed);
  CHECK(again.wait_closed());
}

TEST_CASE("two clients racing for one username on different servers") {
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    auto servers = start_tree(5, binary_parent);
    const std::string name = "racer" + std::to_string(round);
    LineClient left(servers[3]->port());
    LineClient right(servers[4]->port());
    // Both requests are on the wire before either server answers.
    left.send_raw(encode_register(name, "left-secret"));
    right.send_raw(encode_register(name, "right-secret"));
    std::optional<Message> left_reply = left.read_message(8000ms);
    std::optional<Message> right_reply = right.read_message(8000ms);
    REQUIRE(left_reply);
    REQUIRE(right_reply);
    const int successes = (left_reply->command == Command::kRegisterSuccess) +
                          (right_reply->command == Command::kRegisterSuccess);
    CHECK(successes <= 1);
    // Whatever the outcome, the network ends consistent: the winner's
    // secret everywhere, or the name nowhere.
    const std::optional<std::string> winner =
        successes == 0 ? std::nullopt
        : left_reply->command == Command::kRegisterSuccess
            ? std::optional<std::string>("left-secret")
            : std::optional<std::string>("right-secret");
    CHECK(wait_until([&] {
      for (const auto& server : servers) {
        if (server->server().stored_secret(name) != winner) return false;
      }
      return true;
    }));
  }
}

TEST_CASE("redirect when the load gap is 2, none when it is 1") {
  auto servers = start_tree(2, [](std::size_t) { return 0; });
  Server& busy = servers[0]->server();
  Server& idle = servers[1]->server();
  LineClient first(servers[0]->port());
  REQUIRE(first.login());  // load 1 vs 0: gap 1, stays
  CHECK_FALSE(first.read_line(300ms).has_value());
  CHECK(busy.stats().load == 1);

  // Wait until the idle server's load 0 is what the busy one knows; then
  // a second client makes the gap 2 and is sent away.
  LineClient second(servers[0]->port());
  second.send_raw(encode_login("anonymous", std::nullopt));
  std::optional<Message> success = second.read_message();
  REQUIRE(success);
  CHECK(success->command == Command::kLoginSuccess);
  std::optional<Message> redirect = second.read_message();
  REQUIRE(redirect);
  CHECK(redirect->command == Command::kRedirect);
  CHECK(redirect->hostname == "127.0.0.1");
  CHECK(redirect->port == servers[1]->port());
  CHECK(second.wait_closed());
  CHECK(wait_until([&] { return busy.stats().load == 1; }));

  // The redirected client logs in where it was sent, and stays.
  LineClient moved(redirect->port);
  REQUIRE(moved.login());
  CHECK_FALSE(moved.read_line(300ms).has_value());
  CHECK(idle.stats().load == 1);
}

TEST_CASE("servers behind a closed link are forgotten, further ones time out") {
  ServerOptions options = test_server_options();
  options.server_timeout = 1000ms;
  auto servers =
      start_tree(4, [](std::size_t i) { return i == 3 ? 1 : 0; }, options);
  // Tree: 0 - 1 - 3, and 0 - 2. Stopping 1 cuts 3 off from 0 and 2: server
  // 0 forgets 1 and 3 at once (they were behind the closed link), server 2
  // when their announces stop for the server timeout.
  servers[1]->server().stop();
  CHECK(wait_until([&] {
    return servers[0]->server().stats().known_servers == 1 &&
           servers[3]->server().stats().known_servers == 0;
  }, 500ms));
  CHECK(wait_until([&] {
    return servers[0]->server().stats().known_servers == 1 &&
           servers[2]->server().stats().known_servers == 1 &&
           servers[3]->server().stats().known_servers == 0;
  }));
  // What is left still works: register with only the known servers.
  LineClient client(servers[2]->port());
  CHECK(client.register_user("after-split", "s"));
}
