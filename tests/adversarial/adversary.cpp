// Helpers of the adversarial suite (see adversary.h).
#include "adversary.h"

namespace activity::test {

FakePeer::FakePeer(std::uint16_t port, const std::string& secret) : link_(port) {
  link_.send_raw(encode_authenticate(secret));
}

void FakePeer::announce(const std::string& id, std::uint64_t load,
                        const std::string& hostname, std::uint16_t port) {
  link_.send_line(announce_line(id, load, hostname, port));
}

Bystander::Bystander(std::uint16_t port) : client_(port) {
  if (!client_.login()) throw std::runtime_error("bystander could not log in");
}

bool Bystander::still_served(Millis timeout) {
  const std::string probe = "{\"probe\":" + std::to_string(++probes_) + "}";
  client_.send_raw(encode_activity_message("anonymous", std::nullopt, probe));
  const std::string expected =
      "\"probe\":" + std::to_string(probes_) + ",\"authenticated_user\":\"anonymous\"";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<Millis>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    std::optional<std::string> line = client_.read_line(left);
    if (!line) return false;
    if (line->find(expected) != std::string::npos) return true;
  }
}

std::optional<Millis> login_latency(std::uint16_t port) {
  const auto start = std::chrono::steady_clock::now();
  LineClient client(port);
  if (!client.login()) return std::nullopt;
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
}

std::string register_line(const std::string& user, const std::string& secret) {
  std::string line = encode_register(user, secret);
  line.pop_back();
  return line;
}

std::string lock_line(const std::string& command, const std::string& user,
                      const std::string& secret, const std::string& server) {
  std::string line = "{\"command\":\"" + command + "\",\"username\":";
  append_json_string(line, user);
  line += ",\"secret\":";
  append_json_string(line, secret);
  if (!server.empty()) {
    line += ",\"server\":";
    append_json_string(line, server);
  }
  return line + "}";
}

std::string announce_line(const std::string& id, std::uint64_t load,
                          const std::string& hostname, std::uint16_t port) {
  std::string line = encode_server_announce(id, load, hostname, port);
  line.pop_back();
  return line;
}

std::string reply_info(LineClient& client, Command command, Millis timeout) {
  std::optional<Message> reply = client.read_until(command, timeout);
  return reply ? reply->info : std::string("<none>");
}

}  // namespace activity::test
