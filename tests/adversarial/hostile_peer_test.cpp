// A peer server that lies (findings 5, 8, 9 and 10 of the hardening issue,
// over real sockets): an announced load near 2^64 must not win every
// redirect; a message with a member name twice is refused, not forwarded;
// numbers beyond 64 bits or double range travel on unchanged instead of
// splitting the tree; lock answers count exactly as PROTOCOL.md section 6
// says; and the rest of what a lying peer can say leaves the server whole.
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "adversary.h"

using namespace activity;
using namespace activity::test;

namespace {

const std::string kBroadcastStart = "{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{";

bool known(TestServer& server, std::size_t count) {
  return wait_until([&] { return server.server().stats().known_servers == count; });
}

}  // namespace

TEST_CASE("an announced load near 2^64 does not take the redirects") {
  TestServer server;
  Bystander bystander(server.port());
  FakePeer forger(server.port());
  forger.announce("forger", std::numeric_limits<std::uint64_t>::max() - 1, "forger.example",
                  4444);
  REQUIRE(known(server, 1));
  for (int i = 0; i < 5; ++i) {
    LineClient client(server.port());
    client.send_raw(encode_login("anonymous", std::nullopt));
    std::optional<Message> reply = client.read_message();
    REQUIRE(reply);
    CHECK(reply->command == Command::kLoginSuccess);
    CHECK_FALSE(client.wait_closed(100ms));  // not redirected
  }
  // And one at load 2^64 - 1 exactly, and one at 0 (which does win).
  forger.announce("forger", std::numeric_limits<std::uint64_t>::max(), "forger.example", 4444);
  FakePeer fair(server.port());
  fair.announce("fair", 0, "fair.example", 5555);
  REQUIRE(known(server, 2));
  LineClient third(server.port());  // load 2 here counting it, 0 there
  third.send_raw(encode_login("anonymous", std::nullopt));
  std::optional<Message> redirect = third.read_until(Command::kRedirect);
  REQUIRE(redirect);
  CHECK(redirect->hostname == "fair.example");
}

TEST_CASE("a member name twice: refused on the link, never forwarded") {
  TestServer server;
  Bystander bystander(server.port());
  FakePeer sender(server.port());
  FakePeer next(server.port());
  sender.announce("sender", 0);
  next.announce("next", 0);
  REQUIRE(known(server, 2));
  // next reads what the server forwards to it from now on.
  sender.link().send_line(
      "{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"x\",\"load\":1,\"hostname\":\"h\",\"port\":1,"
      "\"command\":\"INVALID_MESSAGE\"}");
  CHECK(reply_info(sender.link()) == "member 'command' appears twice in one object");
  CHECK(sender.link().wait_closed());
  // A broadcast with two authors reaches no one.
  FakePeer second(server.port());
  second.link().send_line(kBroadcastStart +
                          "\"authenticated_user\":\"alice\",\"authenticated_user\":\"mallory\"}}");
  CHECK(reply_info(second.link()) == "member 'authenticated_user' appears twice in one object");
  CHECK(bystander.still_served());
  // What next received up to the bystander's probe: nothing of the above.
  bool probe_seen = false;
  while (std::optional<std::string> line = next.link().read_line()) {
    CHECK(line->find("INVALID_MESSAGE") == std::string::npos);
    CHECK(line->find("mallory") == std::string::npos);
    if (line->find("\"probe\":") != std::string::npos) {
      probe_seen = true;
      break;
    }
  }
  CHECK(probe_seen);
}

TEST_CASE("numbers beyond 64 bits or double range are forwarded unchanged") {
  TestServer server;
  Bystander bystander(server.port());
  FakePeer sender(server.port());
  FakePeer next(server.port());
  sender.announce("sender", 0);
  next.announce("next", 0);
  REQUIRE(known(server, 2));
  const std::string line = kBroadcastStart +
                           "\"big\":18446744073709551616,\"huge\":1e309,\"neg\":-1e309,"
                           "\"f\":1.0E+2,\"z\":-0,\"authenticated_user\":\"far\"}}";
  sender.link().send_line(line);
  // The other link and the local client get the very same line.
  std::optional<std::string> forwarded;
  while ((forwarded = next.link().read_line()) &&
         forwarded->find("ACTIVITY_BROADCAST") == std::string::npos) {
  }
  REQUIRE(forwarded);
  CHECK(*forwarded == line);
  std::optional<std::string> delivered;
  while ((delivered = bystander.client().read_line()) &&
         delivered->find("ACTIVITY_BROADCAST") == std::string::npos) {
  }
  REQUIRE(delivered);
  CHECK(*delivered == line);
  // The link stays up.
  CHECK_FALSE(sender.link().wait_closed(200ms));
  CHECK(server.server().stats().server_links == 2);

  // From a client they are kept exactly, floats as written.
  bystander.client().send_raw(encode_activity_message(
      "anonymous", std::nullopt, "{\"big\":18446744073709551616,\"huge\":1e309,\"f\":1.0E+2}"));
  std::optional<std::string> stamped;
  while ((stamped = next.link().read_line()) &&
         stamped->find("ACTIVITY_BROADCAST") == std::string::npos) {
  }
  REQUIRE(stamped);
  CHECK(*stamped == kBroadcastStart +
                        "\"big\":18446744073709551616,\"huge\":1e309,\"f\":1.0E+2,"
                        "\"authenticated_user\":\"anonymous\"}}");
}

TEST_CASE("lock answers over links count as section 6 says") {
  ServerOptions options = test_server_options();
  options.lock_timeout = 60000ms;
  options.server_timeout = 600000ms;
  TestServer server(options);
  FakePeer left(server.port());
  FakePeer right(server.port());
  left.announce("a", 0);
  right.announce("b", 0);
  REQUIRE(known(server, 2));

  SUBCASE("an answer without the server field from a link that then closes") {
    LineClient client(server.port());
    client.send_line(register_line("bob"));
    REQUIRE(left.link().read_until(Command::kLockRequest));
    left.link().send_line(lock_line("LOCK_ALLOWED", "bob"));
    left.link().close();  // a goes; b has said nothing
    REQUIRE(known(server, 1));
    CHECK_FALSE(client.read_until(Command::kRegisterSuccess, 300ms));
    right.link().send_line(lock_line("LOCK_ALLOWED", "bob"));
    CHECK(client.read_until(Command::kRegisterSuccess));
  }
  SUBCASE("answers for servers that were never noted are ignored") {
    LineClient client(server.port());
    client.send_line(register_line("carol"));
    REQUIRE(left.link().read_until(Command::kLockRequest));
    left.link().send_line(lock_line("LOCK_ALLOWED", "carol", "s", "nobody"));
    left.link().send_line(lock_line("LOCK_ALLOWED", "carol"));
    left.link().send_line(lock_line("LOCK_ALLOWED", "carol"));  // a answered already
    CHECK_FALSE(client.read_until(Command::kRegisterSuccess, 300ms));
    right.link().send_line(lock_line("LOCK_ALLOWED", "carol"));
    CHECK(client.read_until(Command::kRegisterSuccess));
  }
}

TEST_CASE("a peer that lies about everything leaves the server whole") {
  TestServer server;
  Bystander bystander(server.port());
  LineClient user(server.port());
  REQUIRE(user.register_user("kept", "s"));
  FakePeer liar(server.port());
  // Our own id (dropped), ports and loads at their edges, an empty id.
  liar.announce(server.server().id(), 0);
  liar.announce("edge", std::numeric_limits<std::uint64_t>::max(), "h", 65535);
  liar.announce("", 0);
  // Lock answers for rounds nobody runs, a denial of another secret.
  liar.link().send_line(lock_line("LOCK_ALLOWED", "ghost"));
  liar.link().send_line(lock_line("LOCK_DENIED", "kept", "not-the-secret"));
  // Replies only clients should get.
  REQUIRE(known(server, 2));
  CHECK(server.server().stored_secret("kept") == std::optional<std::string>("s"));
  CHECK(server.server().stats().users == 1);
  CHECK(bystander.still_served());
  // Out-of-range fields end only this link.
  liar.link().send_line("{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"x\",\"load\":"
                        "18446744073709551616,\"hostname\":\"h\",\"port\":1}");
  CHECK(reply_info(liar.link()) == "SERVER_ANNOUNCE: field 'load' must be a non-negative integer");
  FakePeer second(server.port());
  second.link().send_line("{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"p\",\"load\":0,"
                          "\"hostname\":\"h\",\"port\":65536}");
  CHECK(reply_info(second.link()) ==
        "SERVER_ANNOUNCE: field 'port' must be an integer from 1 to 65535");
  // A peer reporting our "error" is closed without an answer.
  FakePeer third(server.port());
  third.link().send_line("{\"command\":\"INVALID_MESSAGE\",\"info\":\"you are wrong\"}");
  CHECK(third.link().wait_closed());
  CHECK(wait_until([&] { return server.server().stats().server_links == 0; }));
  CHECK(server.server().stored_secret("kept") == std::optional<std::string>("s"));
  CHECK(bystander.still_served());
}
