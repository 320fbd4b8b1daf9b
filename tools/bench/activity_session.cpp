// Activity-stream protocol client session: see activity_session.h.
#include "activity_session.h"

#include <cstring>

#include "json_scan.h"

namespace bench {
namespace {

// Far above any line this benchmark provokes; only guards against a server
// that never sends a newline.
constexpr std::size_t kMaxLineBytes = 16 * 1024 * 1024;

constexpr std::string_view kLoginLine = "{\"command\":\"LOGIN\",\"username\":\"anonymous\"}\n";
constexpr std::string_view kActivityPrefix =
    "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\",\"activity\":";

bool is_blank(std::string_view line) {
  for (const char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

void ActivitySession::append_publish(const ActivityStamp& stamp, std::size_t activity_size) {
  std::string& out = output();
  out += kActivityPrefix;
  append_activity(out, stamp, activity_size);
  out += "}\n";
}

void ActivitySession::send_register(std::string_view username, std::string_view secret) {
  std::string& out = output();
  out += "{\"command\":\"REGISTER\",\"username\":";
  append_json_string(out, username);
  out += ",\"secret\":";
  append_json_string(out, secret);
  out += "}\n";
  register_pending_ = true;
}

void ActivitySession::on_connected() {
  register_pending_ = false;
  if (role() == SessionRole::kRegister) {
    become_ready();
  } else {
    output() += kLoginLine;
  }
}

void ActivitySession::on_input() {
  const std::uint32_t current = generation();
  for (;;) {
    const std::string_view input = connection_.input();
    const void* newline = std::memchr(input.data(), '\n', input.size());
    if (newline == nullptr) {
      if (input.size() > kMaxLineBytes) fail(target().to_string() + ": line longer than 16 MiB");
      return;
    }
    const auto length = static_cast<std::size_t>(static_cast<const char*>(newline) - input.data());
    handle_line(input.substr(0, length));
    if (!alive(current)) return;
    connection_.consume(length + 1);
  }
}

void ActivitySession::handle_line(std::string_view line) {
  if (is_blank(line)) return;
  if (line.back() == '\r') line.remove_suffix(1);
  JsonObjectScanner scanner(line);
  std::string_view key;
  std::string_view raw;
  std::string_view command_raw;
  std::string_view activity_raw;
  std::string_view hostname_raw;
  std::string_view port_raw;
  std::string_view info_raw;
  while (scanner.next(key, raw)) {
    if (key == "command") command_raw = raw;
    else if (key == "activity") activity_raw = raw;
    else if (key == "hostname") hostname_raw = raw;
    else if (key == "port") port_raw = raw;
    else if (key == "info") info_raw = raw;
  }
  if (scanner.failed() || !json_to_string(command_raw, command_)) {
    fail(target().to_string() + ": unreadable line from the server: " + printable_sample(line));
    return;
  }
  std::string info;
  if (!info_raw.empty()) json_to_string(info_raw, info);

  if (command_ == "ACTIVITY_BROADCAST") {
    ActivityStamp stamp;
    // Activities that are not ours (no stamp) are ignored.
    if (parse_activity(activity_raw, stamp)) host_.on_session_activity(*this, stamp);
  } else if (command_ == "LOGIN_SUCCESS") {
    // A REDIRECT may still follow (PROTOCOL.md section 4); the session then
    // stops being ready and the scenario is told.
    if (state() == State::kHandshake) become_ready();
  } else if (command_ == "REDIRECT") {
    Endpoint where;
    std::int64_t port = 0;
    if (!json_to_string(hostname_raw, where.host) || where.host.empty() ||
        !json_to_int(port_raw, port) || port < 1 || port > 65535) {
      fail(target().to_string() + ": bad REDIRECT: " + printable_sample(line));
      return;
    }
    where.port = static_cast<std::uint16_t>(port);
    redirect_to(where);
  } else if (command_ == "REGISTER_SUCCESS" || command_ == "REGISTER_FAILED") {
    if (!register_pending_) {
      fail(target().to_string() + ": unexpected " + command_);
      return;
    }
    register_pending_ = false;
    host_.on_session_register_reply(*this, command_ == "REGISTER_SUCCESS", info);
  } else if (command_ == "LOGIN_FAILED" || command_ == "INVALID_MESSAGE" ||
             command_ == "AUTHENTICATION_FAIL") {
    fail(target().to_string() + ": " + command_ + (info.empty() ? "" : ": " + info));
  }
  // Anything else (a future command) is ignored, as the protocol asks.
}

}  // namespace bench
