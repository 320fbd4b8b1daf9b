// Forgetting the dead network-wide (docs/features.md, "gone/1") and the
// redirect choice that accounts for what it sends (PROTOCOL.md section 4,
// docs/features.md, "Redirects").
#include <set>

#include "node_harness.h"

namespace activity::test {
namespace {

const std::string kGoneFeatures = ",\"features\":[\"heal/1\",\"gone/1\"]";

// An incoming link from one of our servers, advertising gone/1 or not.
FakeParticipant& our_link(Harness& h, ConnId id, bool gone = true) {
  FakeParticipant& fake = h.connect(id);
  h.send(id, "{\"command\":\"AUTHENTICATE\",\"secret\":\"" + kSecret + "\"" +
                 (gone ? kGoneFeatures : std::string(",\"features\":[\"heal/1\"]")) +
                 "}");
  REQUIRE(fake.role == Role::kServerLink);
  fake.lines.clear();
  return fake;
}

std::string gone_line(const std::vector<std::string>& ids) {
  std::string line = encode_server_gone(ids);
  line.pop_back();
  return line;
}

std::set<std::string> known(const Harness& h) {
  std::vector<std::string> ids = h.node.known_server_ids();
  return {ids.begin(), ids.end()};
}

}  // namespace

TEST_CASE("gone/1: a closed link's servers are named to the other links") {
  Harness h;
  FakeParticipant& ours = our_link(h, 1);
  FakeParticipant& foreign = h.link(2);  // another implementation
  our_link(h, 3);
  h.announce_server(3, "b", 0);
  h.announce_server(3, "c", 0);
  ours.lines.clear();
  foreign.lines.clear();

  h.node.remove_connection(3);
  CHECK(known(h).empty());
  REQUIRE(ours.lines.size() == 1);
  CHECK(ours.lines[0] == "{\"command\":\"SERVER_GONE\",\"ids\":[\"b\",\"c\"]}\n");
  CHECK(foreign.lines.empty());  // the original protocol has no such message
}

TEST_CASE("gone/1: long lists go in chunks of kMaxGoneIds") {
  Harness h;
  FakeParticipant& ours = our_link(h, 1);
  our_link(h, 2);
  const std::size_t count = kMaxGoneIds * 2 + 1;
  for (std::size_t i = 0; i < count; ++i) h.announce_server(2, "s" + std::to_string(i), 0);
  ours.lines.clear();
  h.node.remove_connection(2);
  REQUIRE(ours.lines.size() == 3);
  Parser parser(ParserOptions{1 << 20, 64, false});
  std::size_t named = 0;
  for (const std::string& line : ours.lines) {
    ParseResult parsed = parser.parse(line.substr(0, line.size() - 1));
    REQUIRE(parsed.ok());
    CHECK(parsed.message->ids.size() <= kMaxGoneIds);
    named += parsed.message->ids.size();
  }
  CHECK(named == count);
}

TEST_CASE("gone/1: a neighbour speaks only for the servers behind it") {
  Harness h;
  FakeParticipant& left = our_link(h, 1);
  FakeParticipant& right = our_link(h, 2);
  h.announce_server(1, "a", 0);
  h.announce_server(1, "a2", 0);
  h.announce_server(2, "b", 0);
  left.lines.clear();
  right.lines.clear();

  // "b" is behind link 2, "x" is unknown: neither is forgotten for link 1.
  h.send(1, gone_line({"a", "b", "x"}));
  CHECK(known(h) == std::set<std::string>{"a2", "b"});
  CHECK_FALSE(left.closed);
  // Relayed on, with only what was forgotten; not back where it came from.
  REQUIRE(right.lines.size() == 1);
  CHECK(right.lines[0] == encode_server_gone({"a"}));
  CHECK(left.lines.empty());

  // Nothing forgotten: nothing relayed.
  right.lines.clear();
  h.send(1, gone_line({"b"}));
  CHECK(right.lines.empty());
  CHECK(known(h) == std::set<std::string>{"a2", "b"});
}

TEST_CASE("gone/1: a round stops waiting for a server that is gone") {
  Harness h;
  our_link(h, 1);
  h.announce_server(1, "a", 0);
  h.announce_server(1, "b", 0);
  FakeParticipant& client = h.connect(10);
  h.send(10, "{\"command\":\"REGISTER\",\"username\":\"u\",\"secret\":\"s\"}");
  h.send(1, "{\"command\":\"LOCK_ALLOWED\",\"username\":\"u\",\"secret\":\"s\","
            "\"server\":\"a\"}");
  CHECK(h.node.stats().pending_registrations == 1);
  h.send(1, gone_line({"b"}));
  CHECK(h.node.stats().pending_registrations == 0);
  CHECK(contains(last(client), "REGISTER_SUCCESS"));
}

TEST_CASE("gone/1: not understood on a link that did not advertise it") {
  Harness h;
  SUBCASE("another implementation") {
    FakeParticipant& fake = h.link(1);
    h.send(1, gone_line({"a"}));
    check_closed_with(fake, "INVALID_MESSAGE", "unknown command 'SERVER_GONE'");
  }
  SUBCASE("one of ours with heal/1 only") {
    FakeParticipant& fake = our_link(h, 1, false);
    h.send(1, gone_line({"a"}));
    check_closed_with(fake, "INVALID_MESSAGE", "unknown command 'SERVER_GONE'");
  }
  SUBCASE("a client") {
    FakeParticipant& fake = h.logged_in(1);
    h.send(1, gone_line({"a"}));
    check_closed_with(fake, "INVALID_MESSAGE", "server-only message");
  }
}

TEST_CASE("gone/1: malformed SERVER_GONE is a bad message") {
  Parser parser(ParserOptions{1 << 20, 64, false});
  const std::string too_many = [] {
    std::vector<std::string> ids;
    for (std::size_t i = 0; i <= kMaxGoneIds; ++i) ids.push_back("s" + std::to_string(i));
    return gone_line(ids);
  }();
  const std::string long_id = gone_line({std::string(kDefaultMaxIdBytes + 1, 'x')});
  const std::pair<std::string, std::string> cases[] = {
      {"{\"command\":\"SERVER_GONE\"}", "missing field 'ids'"},
      {"{\"command\":\"SERVER_GONE\",\"ids\":\"a\"}", "must be an array"},
      {"{\"command\":\"SERVER_GONE\",\"ids\":[]}", "1 to 64 entries"},
      {too_many, "1 to 64 entries"},
      {"{\"command\":\"SERVER_GONE\",\"ids\":[1]}", "non-empty strings"},
      {"{\"command\":\"SERVER_GONE\",\"ids\":[\"\"]}", "non-empty strings"},
      {long_id, "exceeds the limit"},
  };
  for (const auto& [line, error] : cases) {
    CAPTURE(line.substr(0, 80));
    ParseResult parsed = parser.parse(line);
    REQUIRE_FALSE(parsed.ok());
    CHECK(contains(parsed.error, error));
  }
}

TEST_CASE("redirect: a client sent to a server counts there until it announces") {
  Harness h;
  h.link(100);
  h.announce_server(100, "a", 0, 5001);
  h.announce_server(100, "b", 0, 5002);
  h.logged_in(1);
  std::map<std::string, int> sent;
  for (ConnId id = 2; id <= 12; ++id) {
    FakeParticipant& fake = h.connect(id);
    h.send(id, kAnonymousLogin);
    if (fake.closed) {
      REQUIRE(contains(last(fake), "REDIRECT"));
      ++sent[contains(last(fake), "5001") ? "a" : "b"];
    }
  }
  // Without accounting, every redirected client would have gone to a.
  CHECK(sent["a"] >= 1);
  CHECK(sent["b"] >= 1);
  const auto& servers = h.node.known_servers();
  CHECK(servers.at("a").load == static_cast<std::uint64_t>(sent["a"]));
  CHECK(servers.at("b").load == static_cast<std::uint64_t>(sent["b"]));
  // The loads end within one of ours.
  const std::uint64_t own = h.node.stats().load;
  CHECK(own <= servers.at("a").load + 1);
  CHECK(own <= servers.at("b").load + 1);
  // The next announce replaces the count with what the server has.
  h.announce_server(100, "a", 0, 5001);
  CHECK(servers.at("a").load == 0);
}

TEST_CASE("redirect: ties are broken at random, not always by the smallest id") {
  std::set<std::string> chosen;
  for (int run = 0; run < 64 && chosen.size() < 3; ++run) {
    Harness h;
    h.link(100);
    for (const char* id : {"a", "b", "c"}) h.announce_server(100, id, 0, 5000);
    h.logged_in(1);
    FakeParticipant& fake = h.connect(2);
    h.send(2, kAnonymousLogin);
    REQUIRE(fake.closed);
    for (const std::string& id : h.node.known_server_ids()) {
      if (h.node.known_servers().at(id).load == 1) chosen.insert(id);
    }
  }
  // Each of three is picked with chance 1/3: all three within 64 runs but
  // for a chance of about 3 * (2/3)^64, 2e-11.
  CHECK(chosen.size() == 3);
}

}  // namespace activity::test
