// The client's command line (PROTOCOL.md section 8): the original
// skeleton's flags -rh -rp -u -s with their long forms, plus the options this
// client adds (--quiet, --max-redirects, --reply-timeout, --secret-file).
// Parsing is kept apart from main() so it can be read and checked on its own;
// every error is a UsageError whose text is one line naming the argument.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "named_limits.h"
#include "server_connection.h"

namespace activity::client {

inline constexpr std::size_t kDefaultMaxRedirects = 10;
inline constexpr std::size_t kMaxRedirectsLimit = 1000;
// How long to wait for REGISTER_SUCCESS/LOGIN_SUCCESS (or their failure).
// Generous because a registration waits for every server's lock answer,
// which a server may take its whole lock timeout (default 10 s) to give.
inline constexpr Millis kDefaultReplyTimeout{30000};
// After LOGOUT, how long to wait for the server to close the connection.
inline constexpr Millis kLogoutWait{1000};
// How long a client whose server is lost keeps reconnecting.
inline constexpr Millis kDefaultReconnectFor{30000};
// Most servers given with --servers.
inline constexpr std::size_t kMaxOtherServers = 64;

struct ClientOptions {
  Endpoint server{"localhost", kDefaultPort};
  std::string username = "anonymous";
  std::optional<std::string> secret;  // never set for anonymous
  // A secret is generated (and the username registered) when a username
  // other than anonymous comes without --secret.
  bool generate_secret = false;
  // Where a generated secret goes: empty means standard output, as the
  // JSON line {"generated_secret":"...","username":"..."}.
  std::string secret_file;
  std::size_t max_redirects = kDefaultMaxRedirects;
  Millis reply_timeout = kDefaultReplyTimeout;
  // Reconnecting after the server is lost (--reconnect-for, --servers).
  Millis reconnect_for = kDefaultReconnectFor;
  std::vector<Endpoint> others;
  bool quiet = false;
};

struct ClientCommandLine {
  ClientOptions options;
  bool show_help = false;
  std::string help_text;
};

// Throws UsageError (one line, naming the argument) on a bad command line.
ClientCommandLine parse_client_command_line(int argc, const char* const* argv);

}  // namespace activity::client
