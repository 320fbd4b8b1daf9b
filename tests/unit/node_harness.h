// A node state driven without sockets, shared by the node tests: fake
// participants record what the node delivers and whether it closed them,
// and lines are parsed as the server would parse them.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "node_state.h"
#include "protocol.h"

namespace activity::test {

using namespace std::chrono_literals;


class FakeParticipant : public Participant {
 public:
  void deliver(const Payload& line) override {
    if (!closed) lines.push_back(*line);
  }
  void close(const Payload& last_line, std::string_view reason) override {
    if (closed) return;
    if (last_line) lines.push_back(*last_line);
    closed = true;
    close_reason.assign(reason);
  }
  void set_role(Role r) override { role = r; }

  std::vector<std::string> lines;
  bool closed = false;
  std::string close_reason;
  Role role = Role::kNone;
};

inline const std::string kSecret = "network-secret";
inline const std::string kOwnId = "self";

inline NodeConfig harness_config(NodeLimits limits) {
  NodeConfig config;
  config.id = kOwnId;
  config.secret = kSecret;
  config.hostname = "self.host";
  config.port = 4000;
  config.lock_timeout = 10000ms;
  config.server_timeout = 5000ms;
  config.limits = limits;
  return config;
}

// A node plus its fake connections; lines are parsed as the server would.
struct Harness {
  explicit Harness(NodeLimits limits = NodeLimits{})
      : node(harness_config(limits)) {}
  explicit Harness(NodeConfig config) : node(std::move(config)) {}
  NodeState node;
  std::map<ConnId, std::shared_ptr<FakeParticipant>> conns;
  Parser parser{ParserOptions{1 << 20, 64, false}};
  TimePoint now = Clock::now();

  FakeParticipant& connect(ConnId id) {
    auto fake = std::make_shared<FakeParticipant>();
    conns[id] = fake;
    node.add_connection(id, fake);
    return *fake;
  }
  // An authenticated incoming server link; its greeting announce is cleared.
  FakeParticipant& link(ConnId id) {
    FakeParticipant& fake = connect(id);
    send(id, "{\"command\":\"AUTHENTICATE\",\"secret\":\"" + kSecret + "\"}");
    REQUIRE(fake.role == Role::kServerLink);
    REQUIRE_FALSE(fake.closed);
    fake.lines.clear();
    return fake;
  }
  void send(ConnId id, const std::string& line) {
    ParseResult parsed = parser.parse(line);
    if (parsed.ok()) {
      node.handle(id, *parsed.message, line, now);
    } else {
      node.reject(id, parsed.error);
    }
  }
  void announce_server(ConnId link_id, const std::string& id,
                       std::uint64_t load, std::uint16_t port = 5000) {
    send(link_id, "{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"" + id +
                      "\",\"load\":" + std::to_string(load) +
                      ",\"hostname\":\"" + id + ".host\",\"port\":" +
                      std::to_string(port) + "}");
  }
  FakeParticipant& logged_in(ConnId id, const std::string& user = "anonymous",
                             const std::string& secret = "") {
    FakeParticipant& fake = connect(id);
    send(id, user == "anonymous"
                 ? std::string("{\"command\":\"LOGIN\",\"username\":\"anonymous\"}")
                 : "{\"command\":\"LOGIN\",\"username\":\"" + user +
                       "\",\"secret\":\"" + secret + "\"}");
    REQUIRE(fake.lines.size() >= 1);
    REQUIRE(fake.lines[0].find("LOGIN_SUCCESS") != std::string::npos);
    fake.lines.clear();
    return fake;
  }
};

inline std::string last(const FakeParticipant& fake) {
  return fake.lines.empty() ? std::string() : fake.lines.back();
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Asserts the connection got exactly one line, of `command`, and was closed.
inline void check_closed_with(const FakeParticipant& fake, const std::string& command,
                       const std::string& info_part = "") {
  REQUIRE(fake.closed);
  REQUIRE(fake.lines.size() >= 1);
  CHECK(contains(last(fake), "\"command\":\"" + command + "\""));
  CHECK(contains(last(fake), info_part));
}

inline const std::string kAnonymousLogin =
    "{\"command\":\"LOGIN\",\"username\":\"anonymous\"}";
inline const std::string kAnonymousActivity =
    "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
    "\"activity\":{\"n\":1}}";


}  // namespace activity::test
