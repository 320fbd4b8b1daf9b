// A client of the activity-stream protocol (PROTOCOL.md): newline-framed JSON
// lines. It logs in as anonymous (unless it is a registration session),
// follows REDIRECT through the base class, turns each ACTIVITY_BROADCAST
// into a stamp for the scenario, and reports REGISTER replies. Any refusal
// from the server (LOGIN_FAILED, INVALID_MESSAGE, AUTHENTICATION_FAIL) or a
// line it cannot read fails the session with the server's words.
#pragma once

#include <string>

#include "session.h"

namespace bench {

class ActivitySession final : public Session {
 public:
  using Session::Session;

  void send_register(std::string_view username, std::string_view secret) override;

 private:
  void on_connected() override;
  void append_publish(const ActivityStamp& stamp, std::size_t activity_size) override;
  void on_input() override;
  void handle_line(std::string_view line);

  bool register_pending_ = false;
  std::string command_;  // reused to decode the command of each line
};

}  // namespace bench
