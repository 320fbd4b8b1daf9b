// The help text for the exit statuses (see exit_status.h). Kept beside the
// enum so that adding a status without describing it is hard to miss.
#include "exit_status.h"

#include <array>

namespace activity::client {
namespace {

struct ExitStatusText {
  ExitStatus status;
  const char* meaning;
};

constexpr std::array<ExitStatusText, 10> kExitStatusTexts{{
    {ExitStatus::kSuccess, "end of input; logged out"},
    {ExitStatus::kLocalError,
     "local error (standard output or the secret file not writable)"},
    {ExitStatus::kUsage, "bad command line"},
    {ExitStatus::kConnectionFailed,
     "cannot connect, connection lost, or no reply in time"},
    {ExitStatus::kLoginFailed, "LOGIN_FAILED (unknown user or wrong secret)"},
    {ExitStatus::kRegisterFailed, "REGISTER_FAILED (username taken, ...)"},
    {ExitStatus::kAuthenticationFail, "AUTHENTICATION_FAIL from the server"},
    {ExitStatus::kInvalidMessage, "the server answered INVALID_MESSAGE"},
    {ExitStatus::kTooManyRedirects,
     "more consecutive REDIRECTs than --max-redirects"},
    {ExitStatus::kProtocolError,
     "the server sent a bad or unexpected message"},
}};

}  // namespace

std::string exit_status_help() {
  std::string out;
  for (const ExitStatusText& entry : kExitStatusTexts) {
    const int code = to_int(entry.status);
    out += "  ";
    out += std::to_string(code);
    out += code < 10 ? "   " : "  ";
    out += entry.meaning;
    out += '\n';
  }
  return out;
}

}  // namespace activity::client
