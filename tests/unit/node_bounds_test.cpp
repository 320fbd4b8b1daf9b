// The node's bounds and its lock counting, without sockets: every limit of
// the resource model that lives in the node state is crossed here (stored
// users, known servers, lock rounds, registrations per connection and per
// second), the redirect rule holds for announced loads at the edge of 64
// bits, and each case of PROTOCOL.md section 6's counting rule has a test.
#include <limits>

#include "node_harness.h"

using namespace activity;
using namespace activity::test;

namespace {

std::string allowed(const std::string& user, const std::string& secret,
                    const std::string& server = "") {
  return "{\"command\":\"LOCK_ALLOWED\",\"username\":\"" + user + "\",\"secret\":\"" +
         secret + "\"" + (server.empty() ? "" : ",\"server\":\"" + server + "\"") + "}";
}

std::string register_line(const std::string& user, const std::string& secret = "s") {
  return "{\"command\":\"REGISTER\",\"username\":\"" + user + "\",\"secret\":\"" +
         secret + "\"}";
}

std::string lock_request(const std::string& user, const std::string& secret = "s") {
  return "{\"command\":\"LOCK_REQUEST\",\"username\":\"" + user + "\",\"secret\":\"" +
         secret + "\"}";
}

bool succeeded(const FakeParticipant& client) {
  return contains(last(client), "REGISTER_SUCCESS");
}

}  // namespace

TEST_CASE("lock counting: a forgotten noted server's answer no longer counts") {
  Harness h;
  h.link(100);
  h.link(101);
  h.announce_server(100, "a", 0);
  h.announce_server(101, "b", 0);
  FakeParticipant& client = h.connect(1);
  h.send(1, register_line("bob"));

  SUBCASE("named answer") {
    h.send(100, allowed("bob", "s", "a"));
    h.node.remove_connection(100);  // "a" is forgotten; "b" still silent
    CHECK(client.lines.empty());
    h.send(101, allowed("bob", "s", "b"));
    CHECK(succeeded(client));
  }
  SUBCASE("answer without the server field") {
    // It came by a's link, so it is a's: once a is gone, b is still awaited.
    h.send(100, allowed("bob", "s"));
    h.node.remove_connection(100);
    CHECK(client.lines.empty());
    CHECK(h.node.stats().pending_registrations == 1);
    h.send(101, allowed("bob", "s"));
    CHECK(succeeded(client));
  }
  SUBCASE("the last silent server forgotten completes the round") {
    h.send(100, allowed("bob", "s", "a"));
    h.node.remove_connection(101);
    CHECK(succeeded(client));
  }
}

TEST_CASE("lock counting: answers without the server field count per link") {
  Harness h;
  h.link(100);
  h.link(101);
  h.announce_server(100, "a", 0);
  h.announce_server(101, "b", 0);
  FakeParticipant& client = h.connect(1);
  h.send(1, register_line("bob"));
  // Two from a's side answer for a only: one server is behind that link.
  h.send(100, allowed("bob", "s"));
  h.send(100, allowed("bob", "s"));
  CHECK(client.lines.empty());
  h.send(101, allowed("bob", "s"));
  CHECK(succeeded(client));
}

TEST_CASE("lock counting: a named answer hands an attributed one on") {
  // "a" names itself; "f" (another implementation) does not. f's answer
  // arrives first and is attributed to a, the smallest id behind the link;
  // when a answers by id, f's answer moves to f.
  Harness h;
  h.link(100);
  h.announce_server(100, "a", 0);
  h.announce_server(100, "f", 0);
  FakeParticipant& client = h.connect(1);
  h.send(1, register_line("bob"));
  h.send(100, allowed("bob", "s"));
  CHECK(client.lines.empty());
  h.send(100, allowed("bob", "s", "a"));
  CHECK(succeeded(client));
}

TEST_CASE("lock counting: an answer without the field goes to the server heard last") {
  // "a" has gone silent; "b", behind the same link, still announces and
  // answers without the server field. The answer is b's, so forgetting a
  // completes the round (attributing it by id order would have lost it).
  Harness h;
  h.link(100);
  h.announce_server(100, "a", 0);
  h.announce_server(100, "b", 0);
  FakeParticipant& client = h.connect(1);
  h.send(1, register_line("bob"));
  h.now += 3000ms;
  h.announce_server(100, "b", 0);
  h.send(100, allowed("bob", "s"));
  CHECK(client.lines.empty());
  h.node.expire(h.now + 2500ms);  // a: 5.5 s silent; b: 2.5 s
  CHECK(succeeded(client));
}

TEST_CASE("lock counting: a server forgotten and announced again is not noted") {
  Harness h;
  h.link(100);
  h.link(101);
  h.announce_server(100, "a", 0);
  h.announce_server(101, "b", 0);
  FakeParticipant& client = h.connect(1);
  h.send(1, register_line("bob"));
  h.node.remove_connection(101);
  h.link(102);
  h.announce_server(102, "b", 0);  // back, by another link: a new entry
  h.send(102, allowed("bob", "s", "b"));  // not noted now: ignored
  h.send(102, allowed("bob", "s"));       // nor is it counted for anyone
  CHECK(client.lines.empty());
  h.send(100, allowed("bob", "s", "a"));
  CHECK(succeeded(client));
}

TEST_CASE("lock counting stays cheap with many known servers") {
  // Every answer is counted in time independent of the number of noted
  // servers; 1000 servers and 1000 answers must not take seconds.
  NodeLimits limits;
  limits.max_known_servers = 1000;
  Harness h(limits);
  h.link(100);
  for (int i = 0; i < 1000; ++i) h.announce_server(100, "s" + std::to_string(i), 0);
  FakeParticipant& client = h.connect(1);
  h.send(1, register_line("bob"));
  for (int i = 0; i < 999; ++i) h.send(100, allowed("bob", "s", "s" + std::to_string(i)));
  CHECK(client.lines.empty());
  h.send(100, allowed("bob", "s", "s999"));
  CHECK(succeeded(client));
}

TEST_CASE("redirect: announced loads at the edge of 64 bits never win") {
  for (std::uint64_t load : {std::numeric_limits<std::uint64_t>::max(),
                             std::numeric_limits<std::uint64_t>::max() - 1,
                             std::numeric_limits<std::uint64_t>::max() - 2}) {
    CAPTURE(load);
    Harness h;
    h.link(100);
    h.announce_server(100, "forger", load);
    FakeParticipant& first = h.connect(1);
    h.send(1, kAnonymousLogin);
    CHECK_FALSE(first.closed);
    CHECK(contains(last(first), "LOGIN_SUCCESS"));
  }
}

TEST_CASE("the known-server table is bounded") {
  NodeLimits limits;
  limits.max_known_servers = 3;
  Harness h(limits);
  FakeParticipant& liar = h.link(100);
  FakeParticipant& honest = h.link(101);
  h.announce_server(101, "real", 0);
  h.announce_server(100, "fake1", 0);
  h.announce_server(100, "fake2", 0);
  h.announce_server(100, "fake1", 7);  // a known id is updated, not added
  CHECK_FALSE(liar.closed);
  CHECK(h.node.known_servers().at("fake1").load == 7);
  h.announce_server(100, "fake3", 0);
  check_closed_with(liar, "INVALID_MESSAGE",
                    "SERVER_ANNOUNCE: the known-server table is full (limit 3 servers)");
  // The liar's servers go with its link; the honest link is untouched.
  CHECK(h.node.known_server_ids() == std::vector<std::string>{"real"});
  CHECK_FALSE(honest.closed);
}

TEST_CASE("the user table is bounded, for clients and for other servers") {
  NodeLimits limits;
  limits.max_users = 2;
  Harness h(limits);
  FakeParticipant& link = h.link(100);
  h.send(100, lock_request("peer-user"));
  FakeParticipant& first = h.connect(1);
  h.send(1, register_line("alice"));
  CHECK(succeeded(first));
  FakeParticipant& second = h.connect(2);
  h.send(2, register_line("carol"));
  check_closed_with(second, "REGISTER_FAILED", "user table is full (limit 2 users)");
  // A taken name is still refused as taken.
  FakeParticipant& third = h.connect(3);
  h.send(3, register_line("alice", "other"));
  check_closed_with(third, "REGISTER_FAILED", "already registered");
  // Another server's request: denied, not stored; a stored pair is allowed.
  link.lines.clear();
  h.send(100, lock_request("dave"));
  CHECK(link.lines == std::vector<std::string>{
                          encode_lock(Command::kLockDenied, "dave", "s", kOwnId)});
  CHECK_FALSE(h.node.stored_secret("dave").has_value());
  link.lines.clear();
  h.send(100, lock_request("alice"));
  CHECK(link.lines == std::vector<std::string>{
                          encode_lock(Command::kLockAllowed, "alice", "s", kOwnId)});
  CHECK(h.node.stats().users == 2);
}

TEST_CASE("one registration per connection, then LOGIN") {
  Harness h;
  FakeParticipant& client = h.connect(1);
  h.send(1, register_line("alice"));
  CHECK(succeeded(client));
  h.send(1, register_line("bob"));
  check_closed_with(client, "INVALID_MESSAGE",
                    "REGISTER: at most 1 registration(s) per connection");
  CHECK_FALSE(h.node.stored_secret("bob").has_value());
  CHECK(h.node.stored_secret("alice") == std::optional<std::string>("s"));

  FakeParticipant& again = h.connect(2);
  h.send(2, register_line("carol"));
  h.send(2, "{\"command\":\"LOGIN\",\"username\":\"carol\",\"secret\":\"s\"}");
  CHECK(contains(last(again), "LOGIN_SUCCESS"));
}

TEST_CASE("registrations per second are bounded, with a burst") {
  NodeLimits limits;
  limits.registrations_per_second = 5;
  Harness h(limits);
  ConnId next = 1;
  auto attempt = [&](const std::string& name) {
    FakeParticipant& client = h.connect(next);
    h.send(next++, register_line(name));
    return succeeded(client);
  };
  for (int i = 0; i < 5; ++i) CHECK(attempt("u" + std::to_string(i)));
  FakeParticipant& refused = h.connect(next);
  h.send(next++, register_line("u5"));
  check_closed_with(refused, "INVALID_MESSAGE", "more than 5 registrations per second");
  CHECK_FALSE(h.node.stored_secret("u5").has_value());
  h.now += 200ms;  // one more allowed
  CHECK(attempt("u6"));
  CHECK_FALSE(attempt("u7"));
  h.now += 10000ms;  // the burst refills to 5, not beyond
  for (int i = 0; i < 5; ++i) CHECK(attempt("v" + std::to_string(i)));
  CHECK_FALSE(attempt("v5"));
}

TEST_CASE("lock rounds in progress are bounded") {
  NodeLimits limits;
  limits.max_pending_registrations = 2;
  Harness h(limits);
  h.link(100);
  h.announce_server(100, "a", 0);
  h.connect(1);
  h.send(1, register_line("u1"));
  h.connect(2);
  h.send(2, register_line("u2"));
  CHECK(h.node.stats().pending_registrations == 2);
  FakeParticipant& third = h.connect(3);
  h.send(3, register_line("u3"));
  check_closed_with(third, "INVALID_MESSAGE",
                    "2 registrations are in progress here (limit 2)");
  CHECK_FALSE(h.node.stored_secret("u3").has_value());
  // Once a round ends there is room again.
  h.send(100, allowed("u1", "s", "a"));
  FakeParticipant& fourth = h.connect(4);
  h.send(4, register_line("u4"));
  CHECK_FALSE(fourth.closed);
  CHECK(h.node.stats().pending_registrations == 2);
}
