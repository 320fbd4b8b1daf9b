// The exit statuses of activity-client, one per way a session can end, so a
// script can tell "the server refused my secret" from "the network is down"
// without reading standard error. The table here is the single source for
// --help and is mirrored in tools/client/README.md; the numbers are part of
// the client's interface and must not be renumbered.
#pragma once

#include <string>

namespace activity::client {

enum class ExitStatus : int {
  kSuccess = 0,             // end of input, logged out
  kLocalError = 1,          // stdout or the secret file not writable, ...
  kUsage = 2,               // bad command line
  kConnectionFailed = 3,    // cannot connect, connection lost, no reply
  kLoginFailed = 4,         // LOGIN_FAILED
  kRegisterFailed = 5,      // REGISTER_FAILED
  kAuthenticationFail = 6,  // AUTHENTICATION_FAIL
  kInvalidMessage = 7,      // the server answered INVALID_MESSAGE
  kTooManyRedirects = 8,    // more consecutive REDIRECTs than allowed
  kProtocolError = 9,       // the server sent a bad or unexpected message
};

inline int to_int(ExitStatus status) { return static_cast<int>(status); }

// The table of exit statuses as help text, one "  N  meaning" per line.
std::string exit_status_help();

}  // namespace activity::client
