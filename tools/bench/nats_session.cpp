// NATS text protocol client session: see nats_session.h.
#include "nats_session.h"

#include <cstring>
#include <utility>

#include "json_scan.h"

namespace bench {
namespace {

constexpr std::size_t kMaxControlLineBytes = 64 * 1024;
constexpr std::string_view kConnect = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

NatsSession::NatsSession(std::size_t index, SessionHost& host, SessionRole role, Endpoint home,
                         std::string subject)
    : Session(index, host, role, std::move(home), RedirectPolicy::kFollow, 0),
      subject_(std::move(subject)) {}

void NatsSession::on_reset() {
  payload_bytes_ = -1;
  connect_sent_ = false;
}

void NatsSession::append_publish(const ActivityStamp& stamp, std::size_t activity_size) {
  payload_.clear();
  append_activity(payload_, stamp, activity_size);
  std::string& out = output();
  out += "PUB ";
  out += subject_;
  out += ' ';
  out += std::to_string(payload_.size());
  out += "\r\n";
  out += payload_;
  out += "\r\n";
}

void NatsSession::on_input() {
  const std::uint32_t current = generation();
  for (;;) {
    const std::string_view input = connection_.input();
    if (payload_bytes_ >= 0) {
      const auto size = static_cast<std::size_t>(payload_bytes_);
      if (input.size() < size + 2) return;
      ActivityStamp stamp;
      if (parse_activity(input.substr(0, size), stamp)) {
        host_.on_session_activity(*this, stamp);
        if (!alive(current)) return;
      }
      connection_.consume(size + 2);
      payload_bytes_ = -1;
      continue;
    }
    const void* newline = std::memchr(input.data(), '\n', input.size());
    if (newline == nullptr) {
      if (input.size() > kMaxControlLineBytes) fail(target().to_string() + ": control line too long");
      return;
    }
    const auto length = static_cast<std::size_t>(static_cast<const char*>(newline) - input.data());
    std::string_view line = input.substr(0, length);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    handle_control(line);
    if (!alive(current)) return;
    connection_.consume(length + 1);
  }
}

void NatsSession::handle_control(std::string_view line) {
  if (starts_with(line, "MSG ")) {
    // MSG <subject> <sid> [reply-to] <#bytes>: the size is the last field.
    const std::size_t space = line.rfind(' ');
    std::int64_t size = -1;
    if (!json_to_int(line.substr(space + 1), size) || size < 0) {
      fail(target().to_string() + ": bad MSG line: " + printable_sample(line));
      return;
    }
    payload_bytes_ = size;
  } else if (starts_with(line, "PING")) {
    output() += "PONG\r\n";
  } else if (starts_with(line, "PONG")) {
    if (state() == State::kHandshake) become_ready();
  } else if (starts_with(line, "INFO")) {
    if (connect_sent_) return;
    connect_sent_ = true;
    std::string& out = output();
    out += kConnect;
    if (role() == SessionRole::kStream) out += "SUB " + subject_ + " 1\r\n";
    out += "PING\r\n";
  } else if (starts_with(line, "-ERR")) {
    fail(target().to_string() + ": " + printable_sample(line));
  }
  // +OK and anything else: nothing to do.
}

}  // namespace bench
