// Helpers of the adversarial suite: a fake peer server speaking the
// protocol over a real socket (it can say anything a hostile or broken
// server could), a bystander client whose service is checked after every
// attack, and builders for the lines attackers send.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "test_support.h"

namespace activity::test {

// A server link opened by the test: it authenticates with the network
// secret, then sends whatever the test makes it send.
class FakePeer {
 public:
  FakePeer(std::uint16_t port, const std::string& secret = "test-secret");
  void announce(const std::string& id, std::uint64_t load,
                const std::string& hostname = "127.0.0.1",
                std::uint16_t port = 1);
  LineClient& link() { return link_; }

 private:
  LineClient link_;
};

// An anonymous client logged in before an attack; still_served() checks,
// after it, that activities still reach it, in both directions.
class Bystander {
 public:
  explicit Bystander(std::uint16_t port);
  // Sends an activity and waits for its own copy to come back.
  bool still_served(Millis timeout = kDefaultWait);
  LineClient& client() { return client_; }

 private:
  LineClient client_;
  int probes_ = 0;
};

// The time a fresh anonymous LOGIN takes to be answered, or nothing.
std::optional<Millis> login_latency(std::uint16_t port);

std::string register_line(const std::string& user, const std::string& secret = "s");
// A LOCK_* line; `server` adds the optional extension field.
std::string lock_line(const std::string& command, const std::string& user,
                      const std::string& secret = "s", const std::string& server = "");
std::string announce_line(const std::string& id, std::uint64_t load,
                          const std::string& hostname = "127.0.0.1",
                          std::uint16_t port = 1);

// The info of the INVALID_MESSAGE (or other `command`) the client reads
// next, skipping other lines, or "<none>" if none arrives in time.
std::string reply_info(LineClient& client, Command command = Command::kInvalidMessage,
                       Millis timeout = kDefaultWait);

}  // namespace activity::test
