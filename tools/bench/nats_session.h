// A client of NATS's text protocol, playing the same part as an activity
// client so that the two systems run the identical scenario: wait for the
// server's INFO, send CONNECT (verbose and pedantic off), SUB to the subject
// when receiving, then PING; the PONG means the subscription is in place and
// the session is ready. Activities go out as PUB and come back as MSG with
// the same payload bytes; the server's PINGs are answered with PONG.
#pragma once

#include <string>

#include "session.h"

namespace bench {

class NatsSession final : public Session {
 public:
  NatsSession(std::size_t index, SessionHost& host, SessionRole role, Endpoint home,
              std::string subject);

 private:
  void on_connected() override {}
  void append_publish(const ActivityStamp& stamp, std::size_t activity_size) override;
  void on_input() override;
  void on_reset() override;
  // Handles one control line (MSG header, PING, PONG, INFO, -ERR).
  void handle_control(std::string_view line);

  std::string subject_;
  std::string payload_;            // reused to build each PUB payload
  std::int64_t payload_bytes_ = -1;  // size of the MSG payload being awaited
  bool connect_sent_ = false;
};

}  // namespace bench
