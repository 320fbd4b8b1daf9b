// The node state without sockets: fake participants record what the node
// delivers and whether it closed them. Covers the role and state rules of
// PROTOCOL.md section 2, server links and the known-server table (3), login
// and redirect choice (4), activities (5) and lock counting (6).
#include "node_harness.h"

using namespace activity;
using namespace activity::test;


TEST_CASE("server-only messages on a connection that has not authenticated") {
  for (const char* line :
       {"{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"x\",\"load\":0,\"hostname\":"
        "\"h\",\"port\":1}",
        "{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{\"authenticated_user\":\"a\"}}",
        "{\"command\":\"LOCK_REQUEST\",\"username\":\"u\",\"secret\":\"s\"}",
        "{\"command\":\"LOCK_ALLOWED\",\"username\":\"u\",\"secret\":\"s\"}",
        "{\"command\":\"LOCK_DENIED\",\"username\":\"u\",\"secret\":\"s\"}"}) {
    CAPTURE(line);
    for (bool as_client : {false, true}) {
      Harness h;
      FakeParticipant& fake = as_client ? h.logged_in(1) : h.connect(1);
      h.send(1, line);
      check_closed_with(fake, "INVALID_MESSAGE",
                        as_client ? "on a client connection"
                                  : "on an unauthenticated connection");
      CHECK(h.node.stats().connections == 0);
      CHECK(h.node.stats().users == 0);
    }
  }
}

TEST_CASE("client messages on a server link are bad messages") {
  for (const char* line :
       {"{\"command\":\"LOGIN\",\"username\":\"anonymous\"}",
        "{\"command\":\"REGISTER\",\"username\":\"u\",\"secret\":\"s\"}",
        "{\"command\":\"LOGOUT\"}",
        "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\",\"activity\":{}}"}) {
    CAPTURE(line);
    Harness h;
    FakeParticipant& fake = h.link(1);
    h.send(1, line);
    check_closed_with(fake, "INVALID_MESSAGE", "on a server link");
    CHECK(h.node.stats().server_links == 0);
  }
}

TEST_CASE("AUTHENTICATE: wrong secret, twice, on a client connection") {
  Harness h;
  FakeParticipant& wrong = h.connect(1);
  h.send(1, "{\"command\":\"AUTHENTICATE\",\"secret\":\"nope\"}");
  check_closed_with(wrong, "AUTHENTICATION_FAIL", "secret is incorrect");

  FakeParticipant& twice = h.link(2);
  h.send(2, "{\"command\":\"AUTHENTICATE\",\"secret\":\"" + kSecret + "\"}");
  check_closed_with(twice, "INVALID_MESSAGE", "already authenticated");

  FakeParticipant& client = h.logged_in(3);
  h.send(3, "{\"command\":\"AUTHENTICATE\",\"secret\":\"" + kSecret + "\"}");
  check_closed_with(client, "INVALID_MESSAGE", "client connection");
}

TEST_CASE("a new server link gets this server's announce straight away") {
  Harness h;
  FakeParticipant& fake = h.connect(1);
  h.send(1, "{\"command\":\"AUTHENTICATE\",\"secret\":\"" + kSecret + "\"}");
  REQUIRE(fake.lines.size() == 1);
  const std::string root;  // no parent: a root
  CHECK(fake.lines[0] ==
        encode_server_announce(kOwnId, 0, "self.host", 4000, &root));
  CHECK(fake.lines[0].find("\"features\":[\"heal/1\",\"gone/1\"],\"parent\":\"\"") !=
        std::string::npos);
  CHECK_FALSE(fake.closed);
}

TEST_CASE("--no-extensions: the announce is exactly section 3's") {
  NodeConfig config = harness_config(NodeLimits{});
  config.extensions = false;
  Harness h(std::move(config));
  FakeParticipant& fake = h.connect(1);
  h.send(1, "{\"command\":\"AUTHENTICATE\",\"secret\":\"" + kSecret +
                "\",\"features\":[\"heal/1\"]}");
  REQUIRE(fake.lines.size() == 1);
  CHECK(fake.lines[0] == encode_server_announce(kOwnId, 0, "self.host", 4000));
  // Not extended: ROOT_QUERY is an unknown command, as it is elsewhere.
  h.send(1, "{\"command\":\"ROOT_QUERY\",\"query\":\"q\",\"hops\":0}");
  check_closed_with(fake, "INVALID_MESSAGE", "unknown command 'ROOT_QUERY'");
}

TEST_CASE("login rules") {
  Harness h;
  SUBCASE("anonymous needs no secret and counts toward the load") {
    h.logged_in(1);
    h.logged_in(2);
    CHECK(h.node.stats().load == 2);
  }
  SUBCASE("unknown user, wrong secret") {
    FakeParticipant& unknown = h.connect(1);
    h.send(1, "{\"command\":\"LOGIN\",\"username\":\"bob\",\"secret\":\"s\"}");
    check_closed_with(unknown, "LOGIN_FAILED", "not registered");
    FakeParticipant& reg = h.connect(2);
    h.send(2, "{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"s\"}");
    CHECK(contains(last(reg), "REGISTER_SUCCESS"));
    FakeParticipant& wrong = h.connect(3);
    h.send(3, "{\"command\":\"LOGIN\",\"username\":\"bob\",\"secret\":\"t\"}");
    check_closed_with(wrong, "LOGIN_FAILED", "wrong secret");
    CHECK(h.node.stats().load == 0);
  }
  SUBCASE("LOGIN while logged in, REGISTER after login") {
    FakeParticipant& twice = h.logged_in(1);
    h.send(1, kAnonymousLogin);
    check_closed_with(twice, "INVALID_MESSAGE", "already logged in");
    FakeParticipant& late = h.logged_in(2);
    h.send(2, "{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"s\"}");
    check_closed_with(late, "INVALID_MESSAGE", "REGISTER after login");
    CHECK(h.node.stats().users == 0);
    CHECK(h.node.stats().load == 0);
  }
  SUBCASE("register then login on the same connection; many logins at once") {
    FakeParticipant& fake = h.connect(1);
    h.send(1, "{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"s\"}");
    h.send(1, "{\"command\":\"LOGIN\",\"username\":\"bob\",\"secret\":\"s\"}");
    REQUIRE(fake.lines.size() == 2);
    CHECK(contains(fake.lines[1], "LOGIN_SUCCESS"));
    h.logged_in(2, "bob", "s");
    CHECK(h.node.stats().load == 2);
  }
  SUBCASE("LOGOUT: without a role, closed silently; logged in, closed") {
    FakeParticipant& none = h.connect(1);
    h.send(1, "{\"command\":\"LOGOUT\"}");
    CHECK(none.closed);
    CHECK(none.lines.empty());
    FakeParticipant& client = h.logged_in(2);
    h.send(2, "{\"command\":\"LOGOUT\"}");
    CHECK(client.closed);
    CHECK(h.node.stats().load == 0);
  }
}

TEST_CASE("redirect when a known server's load is at least 2 lower") {
  Harness h;
  h.link(100);
  SUBCASE("gap of 2 redirects to the least-loaded server") {
    h.announce_server(100, "a", 1, 5001);
    h.announce_server(100, "b", 0, 5002);
    h.logged_in(1);  // load 1: 0 + 2 > 1, stays
    FakeParticipant& second = h.connect(2);
    h.send(2, kAnonymousLogin);  // load 2: server b (0) is 2 lower
    REQUIRE(second.lines.size() == 2);
    CHECK(contains(second.lines[0], "LOGIN_SUCCESS"));
    CHECK(second.lines[1] ==
          "{\"command\":\"REDIRECT\",\"hostname\":\"b.host\",\"port\":5002}\n");
    CHECK(second.closed);
    CHECK(h.node.stats().load == 1);  // the redirected client no longer counts
  }
  SUBCASE("gap of 1 does not") {
    h.announce_server(100, "a", 1);
    h.logged_in(1);
    FakeParticipant& second = h.connect(2);
    h.send(2, kAnonymousLogin);
    CHECK_FALSE(second.closed);
    CHECK(h.node.stats().load == 2);
  }
}

TEST_CASE("activities go to every link and every logged-in client") {
  Harness h;
  FakeParticipant& link = h.link(100);
  FakeParticipant& sender = h.logged_in(1);
  FakeParticipant& other = h.logged_in(2, "anonymous");
  FakeParticipant& stranger = h.connect(3);
  h.send(1, "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
            "\"activity\":{\"authenticated_user\":\"root\",\"x\":[1]}}");
  const std::string expected =
      "{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{\"x\":[1],"
      "\"authenticated_user\":\"anonymous\"}}\n";
  CHECK(sender.lines == std::vector<std::string>{expected});
  CHECK(other.lines == std::vector<std::string>{expected});
  CHECK(link.lines == std::vector<std::string>{expected});
  CHECK(stranger.lines.empty());
}

TEST_CASE("ACTIVITY_MESSAGE authentication rules") {
  Harness h;
  SUBCASE("no role or not logged in: AUTHENTICATION_FAIL") {
    FakeParticipant& none = h.connect(1);
    h.send(1, kAnonymousActivity);
    check_closed_with(none, "AUTHENTICATION_FAIL", "before logging in");
  }
  SUBCASE("username other than the logged-in user") {
    FakeParticipant& fake = h.logged_in(1);
    h.send(1, "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"bob\","
              "\"secret\":\"s\",\"activity\":{}}");
    check_closed_with(fake, "AUTHENTICATION_FAIL", "does not match");
  }
  SUBCASE("secret other than the login's") {
    h.connect(9);
    h.send(9, "{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"s\"}");
    FakeParticipant& fake = h.logged_in(1, "bob", "s");
    h.send(1, "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"bob\","
              "\"secret\":\"t\",\"activity\":{}}");
    check_closed_with(fake, "AUTHENTICATION_FAIL", "secret");
  }
  SUBCASE("on a server link it is a bad message") {
    FakeParticipant& link = h.link(1);
    h.send(1, kAnonymousActivity);
    check_closed_with(link, "INVALID_MESSAGE");
  }
}

TEST_CASE("a broadcast from a link goes on unchanged, never back") {
  Harness h;
  FakeParticipant& from = h.link(100);
  FakeParticipant& onward = h.link(101);
  FakeParticipant& client = h.logged_in(1);
  const std::string line =
      "{\"command\":\"ACTIVITY_BROADCAST\", \"extra\":true,"
      "\"activity\":{\"authenticated_user\":\"x\"}}";
  h.send(100, line);
  CHECK(from.lines.empty());
  CHECK(onward.lines == std::vector<std::string>{line + "\n"});
  CHECK(client.lines == std::vector<std::string>{line + "\n"});
}

TEST_CASE("announces: recorded, forwarded, own id dropped, forgotten") {
  Harness h;
  FakeParticipant& a = h.link(100);
  FakeParticipant& b = h.link(101);
  h.announce_server(100, "far", 3);
  CHECK(h.node.known_server_ids() == std::vector<std::string>{"far"});
  CHECK(a.lines.empty());
  REQUIRE(b.lines.size() == 1);
  CHECK(contains(b.lines[0], "\"id\":\"far\""));

  h.announce_server(101, kOwnId, 0);
  CHECK(h.node.known_server_ids() == std::vector<std::string>{"far"});
  CHECK(a.lines.empty());

  SUBCASE("closing the link forgets the servers behind it") {
    h.announce_server(101, "near", 0);
    h.node.remove_connection(100);
    CHECK(h.node.known_server_ids() == std::vector<std::string>{"near"});
  }
  SUBCASE("silence past the server timeout forgets it") {
    h.node.expire(h.now + 4999ms);
    CHECK(h.node.stats().known_servers == 1);
    h.node.expire(h.now + 5000ms);
    CHECK(h.node.stats().known_servers == 0);
  }
}

TEST_CASE("LOCK_REQUEST at a server that did not originate it") {
  Harness h;
  FakeParticipant& from = h.link(100);
  FakeParticipant& onward = h.link(101);
  const std::string request =
      "{\"command\":\"LOCK_REQUEST\",\"username\":\"bob\",\"secret\":\"s\"}";
  h.send(100, request);
  CHECK(h.node.stored_secret("bob") == std::optional<std::string>("s"));
  // Forwarded onward; ALLOWED with our id broadcast on every link.
  const std::string allowed =
      encode_lock(Command::kLockAllowed, "bob", "s", kOwnId);
  CHECK(onward.lines == std::vector<std::string>{request + "\n", allowed});
  CHECK(from.lines == std::vector<std::string>{allowed});

  from.lines.clear();
  h.send(100, request);  // the same pair again: ALLOWED, not DENIED
  CHECK(from.lines == std::vector<std::string>{allowed});

  from.lines.clear();
  h.send(100, "{\"command\":\"LOCK_REQUEST\",\"username\":\"bob\",\"secret\":\"t\"}");
  CHECK(from.lines == std::vector<std::string>{
                          encode_lock(Command::kLockDenied, "bob", "t", kOwnId)});
  CHECK(h.node.stored_secret("bob") == std::optional<std::string>("s"));
}

TEST_CASE("LOCK_DENIED removes the user only when the secret matches") {
  Harness h;
  h.link(100);
  h.send(100, "{\"command\":\"LOCK_REQUEST\",\"username\":\"bob\",\"secret\":\"s\"}");
  h.send(100, "{\"command\":\"LOCK_DENIED\",\"username\":\"bob\",\"secret\":\"t\"}");
  CHECK(h.node.stored_secret("bob").has_value());
  h.send(100, "{\"command\":\"LOCK_DENIED\",\"username\":\"bob\",\"secret\":\"s\"}");
  CHECK_FALSE(h.node.stored_secret("bob").has_value());
}

TEST_CASE("lock rounds at the originating server") {
  Harness h;
  FakeParticipant& link = h.link(100);
  h.announce_server(100, "a", 0);
  h.announce_server(100, "b", 0);
  FakeParticipant& client = h.connect(1);
  h.send(1, "{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"s\"}");
  REQUIRE(link.lines.size() >= 1);
  CHECK(link.lines.back() == encode_lock(Command::kLockRequest, "bob", "s"));
  CHECK(client.lines.empty());
  CHECK(h.node.stats().pending_registrations == 1);
  const std::string allowed_a =
      "{\"command\":\"LOCK_ALLOWED\",\"username\":\"bob\",\"secret\":\"s\",\"server\":\"a\"}";

  SUBCASE("an ALLOWED from every noted server completes it") {
    h.send(100, allowed_a);
    h.send(100, allowed_a);  // a duplicate counts once
    CHECK(client.lines.empty());
    h.send(100, "{\"command\":\"LOCK_ALLOWED\",\"username\":\"bob\",\"secret\":"
                "\"s\",\"server\":\"stranger\"}");  // not noted: ignored
    CHECK(client.lines.empty());
    h.send(100, "{\"command\":\"LOCK_ALLOWED\",\"username\":\"bob\",\"secret\":"
                "\"other\",\"server\":\"b\"}");  // another pair
    CHECK(client.lines.empty());
    h.send(100, "{\"command\":\"LOCK_ALLOWED\",\"username\":\"bob\",\"secret\":"
                "\"s\",\"server\":\"b\"}");
    REQUIRE(client.lines.size() == 1);
    CHECK(contains(client.lines[0], "REGISTER_SUCCESS"));
    CHECK_FALSE(client.closed);
    CHECK(h.node.stats().pending_registrations == 0);
  }
  SUBCASE("ALLOWEDs without the server field are counted") {
    h.send(100, "{\"command\":\"LOCK_ALLOWED\",\"username\":\"bob\",\"secret\":\"s\"}");
    CHECK(client.lines.empty());
    h.send(100, "{\"command\":\"LOCK_ALLOWED\",\"username\":\"bob\",\"secret\":\"s\"}");
    CHECK(contains(last(client), "REGISTER_SUCCESS"));
  }
  SUBCASE("one DENIED fails it and removes the user") {
    h.send(100, allowed_a);
    h.send(100, "{\"command\":\"LOCK_DENIED\",\"username\":\"bob\",\"secret\":\"s\"}");
    check_closed_with(client, "REGISTER_FAILED");
    CHECK_FALSE(h.node.stored_secret("bob").has_value());
    CHECK(h.node.stats().pending_registrations == 0);
  }
  SUBCASE("a forgotten noted server is no longer waited for") {
    h.send(100, allowed_a);
    h.node.expire(h.now + 4999ms);  // nothing silent yet
    CHECK(client.lines.empty());
    // Only "a" announces again; "b" goes silent and is forgotten.
    h.now += 3000ms;
    h.announce_server(100, "a", 0);
    h.node.expire(h.now + 2500ms);
    CHECK(contains(last(client), "REGISTER_SUCCESS"));
  }
  SUBCASE("the lock timeout fails it and broadcasts LOCK_DENIED") {
    const TimePoint start = h.now;
    h.now += 6000ms;  // both noted servers keep announcing
    h.announce_server(100, "a", 0);
    h.announce_server(100, "b", 0);
    link.lines.clear();
    h.node.expire(start + 9999ms);
    CHECK(client.lines.empty());
    h.node.expire(start + 10000ms);
    check_closed_with(client, "REGISTER_FAILED", "timed out");
    CHECK(link.lines ==
          std::vector<std::string>{encode_lock(Command::kLockDenied, "bob", "s", kOwnId)});
    CHECK_FALSE(h.node.stored_secret("bob").has_value());
  }
  SUBCASE("the client leaving does not stop the round") {
    h.node.remove_connection(1);
    h.send(100, allowed_a);
    h.send(100, "{\"command\":\"LOCK_ALLOWED\",\"username\":\"bob\",\"secret\":"
                "\"s\",\"server\":\"b\"}");
    CHECK(h.node.stats().pending_registrations == 0);
    CHECK(h.node.stored_secret("bob") == std::optional<std::string>("s"));
  }
  SUBCASE("the pending username cannot log in; a second REGISTER is bad") {
    FakeParticipant& early = h.connect(2);
    h.send(2, "{\"command\":\"LOGIN\",\"username\":\"bob\",\"secret\":\"s\"}");
    check_closed_with(early, "LOGIN_FAILED", "pending");
    h.send(1, "{\"command\":\"REGISTER\",\"username\":\"carol\",\"secret\":\"s\"}");
    check_closed_with(client, "INVALID_MESSAGE", "pending");
    // The round itself goes on.
    CHECK(h.node.stats().pending_registrations == 1);
  }
}

TEST_CASE("REGISTER refusals") {
  Harness h;
  FakeParticipant& anon = h.connect(1);
  h.send(1, "{\"command\":\"REGISTER\",\"username\":\"anonymous\",\"secret\":\"s\"}");
  check_closed_with(anon, "REGISTER_FAILED", "anonymous");
  h.connect(2);
  h.send(2, "{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"s\"}");
  FakeParticipant& again = h.connect(3);
  h.send(3, "{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"t\"}");
  check_closed_with(again, "REGISTER_FAILED", "already registered");
  CHECK(h.node.stored_secret("bob") == std::optional<std::string>("s"));
}

TEST_CASE("a peer's INVALID_MESSAGE or AUTHENTICATION_FAIL closes silently") {
  for (const char* line : {"{\"command\":\"INVALID_MESSAGE\",\"info\":\"x\"}",
                           "{\"command\":\"AUTHENTICATION_FAIL\"}"}) {
    Harness h;
    FakeParticipant& fake = h.link(1);
    h.send(1, line);
    CHECK(fake.closed);
    CHECK(fake.lines.empty());
  }
}

TEST_CASE("replies a server never receives are bad messages") {
  for (const char* line : {"{\"command\":\"LOGIN_SUCCESS\"}",
                           "{\"command\":\"REDIRECT\",\"hostname\":\"h\",\"port\":1}",
                           "{\"command\":\"REGISTER_FAILED\"}"}) {
    CAPTURE(line);
    Harness h;
    FakeParticipant& fake = h.logged_in(1);
    h.send(1, line);
    check_closed_with(fake, "INVALID_MESSAGE", "unexpected command");
  }
}

TEST_CASE("a bad message closes only its own connection") {
  Harness h;
  h.link(100);
  h.announce_server(100, "a", 0);
  FakeParticipant& good = h.logged_in(1);
  h.connect(2);
  h.send(2, "{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"s\"}");
  FakeParticipant& bad = h.connect(3);
  h.send(3, "{\"command\":\"FOO\"}");
  check_closed_with(bad, "INVALID_MESSAGE", "unknown command 'FOO'");
  CHECK_FALSE(good.closed);
  const NodeStats stats = h.node.stats();
  CHECK(stats.load == 1);
  CHECK(stats.known_servers == 1);
  CHECK(stats.server_links == 1);
  CHECK(stats.pending_registrations == 1);
  CHECK(h.node.stored_secret("bob").has_value());
}
