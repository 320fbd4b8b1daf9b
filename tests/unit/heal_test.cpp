// The node's side of healing (docs/features.md, "heal/1"): ROOT_QUERY
// answers and relays, orphaning and the rejoin candidates, the gate on a
// joining link and the rules that allow a join, the link timeout, the cycle
// guard and the graceful stop's hand-off.
#include "node_harness.h"

namespace activity::test {
namespace {

const std::string kFeatures = ",\"features\":[\"heal/1\"]";

std::string announce_line(const std::string& id, std::uint64_t load,
                          std::uint16_t port, const std::string* parent) {
  std::string line = "{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"" + id +
                     "\",\"load\":" + std::to_string(load) + ",\"hostname\":\"" +
                     id + ".host\",\"port\":" + std::to_string(port);
  if (parent != nullptr) line += kFeatures + ",\"parent\":\"" + *parent + "\"";
  return line + "}";
}

std::string query(const std::string& token, std::uint64_t hops = 0) {
  return "{\"command\":\"ROOT_QUERY\",\"query\":\"" + token +
         "\",\"hops\":" + std::to_string(hops) + "}";
}

std::string reply(const std::string& token, const std::string& root, bool orphan,
                  bool busy) {
  return encode_root_reply(token, root, orphan, busy);
}

// The value of string field `name` in a line this node wrote.
std::string field(const std::string& line, const std::string& name) {
  Parser parser(ParserOptions{1 << 20, 64, false});
  ParseResult parsed = parser.parse(line.substr(0, line.size() - 1));
  REQUIRE(parsed.ok());
  if (name == "query") return parsed.message->query;
  if (name == "root") return parsed.message->root;
  if (name == "orphan") return parsed.message->orphan ? "true" : "false";
  if (name == "busy") return parsed.message->busy ? "true" : "false";
  return {};
}

struct HealHarness : Harness {
  HealHarness() : Harness(config()) {}
  static NodeConfig config() {
    NodeConfig c = harness_config(NodeLimits{});
    c.link_timeout = 600ms;
    c.wake_healer = [] {};
    return c;
  }
  // An incoming link from one of our servers.
  FakeParticipant& heal_link(ConnId id) {
    FakeParticipant& fake = connect(id);
    send(id, "{\"command\":\"AUTHENTICATE\",\"secret\":\"" + kSecret + "\"" +
                 kFeatures + "}");
    REQUIRE(fake.role == Role::kServerLink);
    fake.lines.clear();
    return fake;
  }
  // The start-up link to a parent `parent_id`, which is ours when `heal`.
  FakeParticipant& parent(ConnId id, const std::string& parent_id, bool heal,
                          const std::string& grandparent = "") {
    auto fake = std::make_shared<FakeParticipant>();
    conns[id] = fake;
    node.add_outgoing_link(id, fake, now);
    send(id, announce_line(parent_id, 0, 5001, heal ? &grandparent : nullptr));
    fake->lines.clear();
    return *fake;
  }
  FakeParticipant& joining(ConnId id) {
    auto fake = std::make_shared<FakeParticipant>();
    conns[id] = fake;
    node.add_joining_link(id, fake, now);
    return *fake;
  }
};

}  // namespace

TEST_CASE("a root answers ROOT_QUERY for itself") {
  HealHarness h;
  FakeParticipant& child = h.heal_link(1);
  h.send(1, query("t1"));
  REQUIRE(child.lines.size() == 1);
  CHECK(field(child.lines[0], "query") == "t1");
  CHECK(field(child.lines[0], "root") == kOwnId);
  CHECK(field(child.lines[0], "orphan") == "false");
  CHECK(field(child.lines[0], "busy") == "false");
}

TEST_CASE("ROOT_QUERY from a server without heal/1 is an unknown command") {
  HealHarness h;
  FakeParticipant& foreign = h.link(1);
  h.send(1, query("t1"));
  check_closed_with(foreign, "INVALID_MESSAGE", "unknown command 'ROOT_QUERY'");
}

TEST_CASE("a child relays ROOT_QUERY to its parent and the answer back") {
  HealHarness h;
  FakeParticipant& up = h.parent(1, "top", true);
  FakeParticipant& asker = h.heal_link(2);
  h.send(2, query("mine", 3));
  REQUIRE(up.lines.size() == 1);
  CHECK(contains(up.lines[0], "\"hops\":4"));
  const std::string token = field(up.lines[0], "query");
  CHECK(token != "mine");
  h.send(1, reply(token, "top", false, false));
  REQUIRE(asker.lines.size() == 1);
  CHECK(field(asker.lines[0], "query") == "mine");
  CHECK(field(asker.lines[0], "root") == "top");
  // Answered once: a repeat of the answer goes nowhere.
  h.send(1, reply(token, "top", false, false));
  CHECK(asker.lines.size() == 1);
  SUBCASE("an answer from anywhere but the parent is not relayed") {
    h.send(2, query("again"));
    const std::string second = field(up.lines.back(), "query");
    FakeParticipant& other = h.heal_link(3);
    h.send(3, reply(second, "forged", false, false));
    CHECK(asker.lines.size() == 1);
    CHECK(other.lines.empty());
  }
}

TEST_CASE("relayed queries are bounded, per link and in all, and a circling one is dropped") {
  HealHarness h;
  FakeParticipant& up = h.parent(1, "top", true);
  const std::size_t links = kMaxRelayedQueries / kMaxRelayedPerLink;
  std::vector<FakeParticipant*> askers;
  for (std::size_t link = 0; link < links + 1; ++link) askers.push_back(&h.heal_link(10 + link));
  FakeParticipant& asker = *askers[0];
  const auto ask = [&](std::size_t link, const std::string& token, std::uint64_t hops = 0) {
    h.send(10 + link, query(token, hops));
  };
  // One link gets its share, then "busy"; the others still get theirs.
  for (std::size_t i = 0; i < kMaxRelayedPerLink; ++i) ask(0, "q" + std::to_string(i));
  CHECK(up.lines.size() == kMaxRelayedPerLink);
  CHECK(asker.lines.empty());
  ask(0, "one-more");
  REQUIRE(asker.lines.size() == 1);
  CHECK(field(asker.lines[0], "busy") == "true");
  CHECK(field(asker.lines[0], "root").empty());
  for (std::size_t link = 1; link < links; ++link) {
    for (std::size_t i = 0; i < kMaxRelayedPerLink; ++i) ask(link, "q" + std::to_string(i));
  }
  CHECK(up.lines.size() == kMaxRelayedQueries);
  // The table is full: a link with nothing relayed is told "busy" too.
  ask(links, "late");
  REQUIRE(askers[links]->lines.size() == 1);
  CHECK(field(askers[links]->lines[0], "busy") == "true");
  // They expire: after the lifetime there is room again.
  h.now += kRelayedQueryLifetime;
  h.send(1, announce_line("top", 0, 5001, nullptr));  // every link is alive
  for (std::size_t link = 0; link <= links; ++link) {
    h.send(10 + link, announce_line("below" + std::to_string(link), 0, 5002, nullptr));
  }
  up.lines.resize(kMaxRelayedQueries);  // without the forwarded announces
  h.node.expire(h.now);
  ask(0, "later");
  CHECK(up.lines.size() == kMaxRelayedQueries + 1);
  ask(0, "circling", kMaxQueryHops);
  CHECK(up.lines.size() == kMaxRelayedQueries + 1);
  int replies = 0;
  for (const std::string& line : asker.lines) replies += contains(line, "ROOT_REPLY");
  CHECK(replies == 1);
}

TEST_CASE("beyond a parent without heal/1 the root is unknown") {
  HealHarness h;
  FakeParticipant& up = h.parent(1, "foreign", false);
  // An announce of ours that the foreign server forwards unchanged says
  // nothing about the foreign server itself.
  const std::string none;
  h.send(1, announce_line("ours-beyond", 0, 5002, &none));
  up.lines.clear();
  FakeParticipant& asker = h.heal_link(2);
  asker.lines.clear();
  h.send(2, query("t"));
  CHECK(up.lines.empty());
  REQUIRE(asker.lines.size() == 1);
  CHECK(field(asker.lines[0], "root").empty());
}

TEST_CASE("losing the parent: an orphan, with its ancestors first") {
  HealHarness h;
  bool woken = false;
  NodeConfig config = HealHarness::config();
  config.wake_healer = [&woken] { woken = true; };
  Harness plain(std::move(config));
  auto up = std::make_shared<FakeParticipant>();
  plain.node.add_outgoing_link(1, up, plain.now);
  const std::string root;
  const std::string p = "p", gp = "gp";
  plain.send(1, announce_line("p", 0, 6001, &gp));
  plain.send(1, announce_line("aunt", 0, 6004, &gp));
  plain.send(1, announce_line("gp", 0, 6002, &root));
  plain.send(1, announce_line("a-cousin", 0, 6003, &p));
  CHECK_FALSE(plain.node.orphaned());
  plain.node.remove_connection(1);
  CHECK(woken);
  CHECK(plain.node.orphaned());
  CHECK(plain.node.stats().orphaned);
  std::vector<std::string> order;
  for (const RejoinCandidate& c : plain.node.rejoin_candidates()) order.push_back(c.id);
  CHECK(order == std::vector<std::string>{"p", "gp", "a-cousin", "aunt"});
  // A root with no parent answers as an orphan now.
  plain.connect(2);
  plain.send(2, "{\"command\":\"AUTHENTICATE\",\"secret\":\"" + kSecret + "\"" +
                    kFeatures + "}");
  plain.conns[2]->lines.clear();
  plain.send(2, query("t"));
  CHECK(field(plain.conns[2]->lines.at(0), "orphan") == "true");
  // A candidate heard from since on a child link is in our own tree.
  plain.send(2, announce_line("aunt", 0, 6004, &root));
  order.clear();
  for (const RejoinCandidate& c : plain.node.rejoin_candidates()) order.push_back(c.id);
  CHECK(order == std::vector<std::string>{"p", "gp", "a-cousin"});
}

TEST_CASE("an orphan also tries servers it heard of below it that left") {
  HealHarness h;
  h.parent(1, "top", true);
  FakeParticipant& child = h.heal_link(2);
  const std::string self = kOwnId;
  h.send(2, announce_line("former-child", 0, 6100, &self));
  // The child leaves (it rejoined elsewhere while we were frozen), then
  // our parent goes too.
  child.closed = true;
  h.node.remove_connection(2);
  h.node.remove_connection(1);
  REQUIRE(h.node.orphaned());
  std::vector<std::string> order;
  for (const RejoinCandidate& c : h.node.rejoin_candidates()) order.push_back(c.id);
  CHECK(order == std::vector<std::string>{"top", "former-child"});
  // Servers not heard of for kRememberServersFor are forgotten.
  h.now += kRememberServersFor;
  h.node.expire(h.now);
  CHECK(h.node.rejoin_candidates().empty());
}

TEST_CASE("--no-extensions: losing the parent leaves the server apart") {
  NodeConfig config = harness_config(NodeLimits{});
  config.extensions = false;
  Harness h(std::move(config));
  auto up = std::make_shared<FakeParticipant>();
  h.node.add_outgoing_link(1, up, h.now);
  h.send(1, announce_line("p", 0, 6001, nullptr));
  h.node.remove_connection(1);
  CHECK_FALSE(h.node.orphaned());
  CHECK(h.node.rejoin_candidates().empty());
}

TEST_CASE("a joining link is gated until the target's root allows it") {
  HealHarness h;
  FakeParticipant& client = h.logged_in(9);
  FakeParticipant& child = h.heal_link(2);
  FakeParticipant& target = h.joining(1);
  CHECK(h.node.join_outcome().state == JoinState::kWaiting);
  // Nothing from the target's network is taken yet.
  h.send(1, "{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{\"authenticated_user\":\"x\"}}");
  CHECK(client.lines.empty());
  CHECK(child.lines.empty());
  // Nothing from ours goes to it either.
  h.send(9, kAnonymousActivity);
  CHECK(target.lines.empty());
  // Not busy yet: a target that never answers (a hung server) must not
  // hold up the servers that want to join us.
  h.send(2, query("before"));
  CHECK(field(child.lines.back(), "busy") == "false");
  const std::string none;
  h.send(1, announce_line("target", 3, 7000, &none));
  REQUIRE(target.lines.size() == 1);
  CHECK(contains(target.lines[0], "ROOT_QUERY"));
  const std::string token = field(target.lines[0], "query");
  CHECK(h.node.stats().known_servers == 0);
  // While it waits this server is busy to anyone asking.
  h.send(2, query("t"));
  CHECK(field(child.lines.back(), "busy") == "true");

  SUBCASE("allowed by a root that never lost a parent") {
    h.send(1, reply(token, "zz-root", false, false));
    CHECK(h.node.join_outcome().state == JoinState::kJoined);
    CHECK_FALSE(target.closed);
    CHECK(contains(target.lines.back(), "SERVER_ANNOUNCE"));
    CHECK(h.node.known_server_ids() == std::vector<std::string>{"target"});
    CHECK(h.node.stats().server_links == 2);
    // Now a link like any other: broadcasts flow both ways.
    h.send(1, "{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{\"authenticated_user\":\"x\"}}");
    CHECK(contains(last(client), "ACTIVITY_BROADCAST"));
    // The target's announce was forwarded into our subtree.
    bool forwarded = false;
    for (const std::string& line : child.lines) forwarded |= contains(line, "\"id\":\"target\"");
    CHECK(forwarded);
    // And queries now go up through it.
    h.send(2, query("u"));
    CHECK(contains(target.lines.back(), "ROOT_QUERY"));
  }
  SUBCASE("allowed by a root that is itself an orphan, not joining") {
    h.send(1, reply(token, "zz-orphan", true, false));
    CHECK(h.node.join_outcome().state == JoinState::kJoined);
  }
  SUBCASE("refused: the root is ourselves") {
    h.send(1, reply(token, kOwnId, false, false));
    CHECK(h.node.join_outcome().state == JoinState::kRefused);
    CHECK(contains(h.node.join_outcome().why, "our own tree"));
  }
  SUBCASE("refused: the root is joining") {
    h.send(1, reply(token, "a-root", false, true));
    CHECK(h.node.join_outcome().state == JoinState::kRefused);
    CHECK(target.closed);
  }
  SUBCASE("refused: the root is unknown") {
    h.send(1, reply(token, "", false, false));
    CHECK(h.node.join_outcome().state == JoinState::kRefused);
  }
  SUBCASE("an answer to another token is ignored") {
    h.send(1, reply("other", "a-root", false, false));
    CHECK(h.node.join_outcome().state == JoinState::kWaiting);
  }
}

TEST_CASE("a join target that is not ours is refused at its announce") {
  HealHarness h;
  FakeParticipant& target = h.joining(1);
  h.send(1, announce_line("foreign", 0, 7000, nullptr));
  CHECK(h.node.join_outcome().state == JoinState::kRefused);
  CHECK(target.closed);
}

TEST_CASE("an abandoned join never becomes a second parent") {
  HealHarness h;
  FakeParticipant& late = h.joining(1);
  h.node.abandon_join("too slow");
  CHECK(late.closed);
  CHECK(h.node.join_outcome().state == JoinState::kRefused);
  FakeParticipant& next = h.joining(2);
  const std::string none;
  h.send(2, announce_line("t2", 0, 7002, &none));
  const std::string token = field(next.lines.back(), "query");
  h.send(2, reply(token, "r", false, false));
  CHECK(h.node.join_outcome().state == JoinState::kJoined);
  CHECK(h.node.stats().server_links == 1);
}

TEST_CASE("a parent lost to silence is marked hung; one that closed is not") {
  HealHarness h;
  h.parent(1, "top", true);
  h.now += 600ms;
  h.node.expire(h.now);
  CHECK(h.node.orphaned());
  CHECK(h.node.parent_went_silent());
  FakeParticipant& next = h.joining(2);
  const std::string none;
  h.send(2, announce_line("t2", 0, 7002, &none));
  h.send(2, reply(field(next.lines.back(), "query"), "r", false, false));
  REQUIRE(h.node.join_outcome().state == JoinState::kJoined);
  CHECK_FALSE(h.node.parent_went_silent());
  h.node.remove_connection(2);  // closed, not silent
  CHECK(h.node.orphaned());
  CHECK_FALSE(h.node.parent_went_silent());
}

TEST_CASE("link timeout: a silent link of ours closes, a foreign one does not") {
  HealHarness h;
  FakeParticipant& ours = h.heal_link(1);
  FakeParticipant& foreign = h.link(2);
  h.now += 500ms;
  h.node.expire(h.now);
  CHECK_FALSE(ours.closed);
  h.send(1, announce_line("ours", 0, 7001, nullptr));  // heard: the clock restarts
  h.now += 500ms;
  h.node.expire(h.now);
  CHECK_FALSE(ours.closed);
  h.now += 100ms;
  h.node.expire(h.now);
  CHECK(ours.closed);
  CHECK(h.node.known_server_ids().empty());
  CHECK_FALSE(foreign.closed);
}

TEST_CASE("our own announce back over a link of ours is a cycle") {
  HealHarness h;
  FakeParticipant& ours = h.heal_link(1);
  FakeParticipant& foreign = h.link(2);
  const std::string none;
  h.send(2, announce_line(kOwnId, 0, 4000, nullptr));
  CHECK_FALSE(foreign.closed);
  h.send(1, announce_line(kOwnId, 0, 4000, &none));
  CHECK(ours.closed);
}

TEST_CASE("graceful stop: clients are spread over the known servers") {
  HealHarness h;
  CHECK(h.node.hand_off_clients() == 0);  // nobody to hand on to
  h.heal_link(1);
  std::vector<FakeParticipant*> clients;
  for (ConnId id = 10; id < 15; ++id) clients.push_back(&h.logged_in(id));
  const std::string none;
  h.send(1, announce_line("a", 4, 7001, &none));
  h.send(1, announce_line("b", 5, 7002, &none));
  CHECK(h.node.hand_off_clients() == 5);
  int to_a = 0, to_b = 0;
  for (FakeParticipant* client : clients) {
    REQUIRE(client->closed);
    to_a += contains(last(*client), "\"port\":7001");
    to_b += contains(last(*client), "\"port\":7002");
  }
  // Loads 4 and 5 plus five clients: three to a, two to b.
  CHECK(to_a == 3);
  CHECK(to_b == 2);
  CHECK(h.node.stats().load == 0);
}

}  // namespace activity::test
