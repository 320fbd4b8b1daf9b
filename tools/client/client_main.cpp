// activity-client: parses the command line, publishes a generated secret if
// one is needed, starts the session (whose reader thread prints received
// activities), and runs the input loop on the main thread: standard input,
// validated line by line, goes to the session until input ends or the
// session does. The process exits with the session's ExitStatus.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "activity_validator.h"
#include "cli.h"
#include "client_options.h"
#include "client_session.h"
#include "exit_status.h"
#include "input_reader.h"
#include "log.h"
#include "named_limits.h"
#include "protocol.h"
#include "secret.h"

namespace {

using namespace activity;
using namespace activity::client;

// One line on standard output, flushed at once so `| jq` sees it. Only the
// reader thread calls this once the session has started.
bool write_stdout_line(std::string_view text) {
  std::string line(text);
  line.push_back('\n');
  return std::fwrite(line.data(), 1, line.size(), stdout) == line.size() &&
         std::fflush(stdout) == 0;
}

bool write_all(int fd, const std::string& bytes) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<std::size_t>(n);
  }
  return true;
}

// Hands the generated secret to the user before anything is sent, so it is
// not lost even if the connection drops right after the server stored it:
// into a new file (never overwriting one, which may hold an older secret),
// or as one JSON line on standard output, which keeps stdout parseable.
bool publish_secret(const ClientOptions& options) {
  const std::string& secret = *options.secret;
  if (!options.secret_file.empty()) {
    const int fd = ::open(options.secret_file.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      log(LogLevel::kError, "cannot create --secret-file ",
          options.secret_file, ": ", std::strerror(errno));
      return false;
    }
    const bool written = write_all(fd, secret + "\n");
    const int write_error = errno;
    if (::close(fd) != 0 || !written) {
      log(LogLevel::kError, "cannot write --secret-file ",
          options.secret_file, ": ", std::strerror(write_error));
      return false;
    }
    log(LogLevel::kInfo, "generated a secret for ", options.username,
        "; written to ", options.secret_file);
    return true;
  }
  std::string line = "{\"generated_secret\":";
  append_json_string(line, secret);
  line += ",\"username\":";
  append_json_string(line, options.username);
  line += "}";
  if (!write_stdout_line(line)) {
    log(LogLevel::kError, "cannot write the generated secret to standard "
                          "output");
    return false;
  }
  log(LogLevel::kInfo, "generated a secret for ", options.username,
      " (printed on standard output); to log in later: -u ", options.username,
      " -s SECRET");
  return true;
}

// Reads standard input until it ends (then asks the session to log out) or
// the session ends. poll() watches the session's ended descriptor beside
// standard input, so a server closing the connection ends the process even
// while nobody types.
void run_input_loop(ClientSession& session) {
  InputReader input(STDIN_FILENO, kDefaultMaxLineBytes);
  ActivityValidator validator(kDefaultMaxLineBytes, kDefaultMaxDepth);
  std::string line;
  std::string compact;
  std::uint64_t line_number = 0;
  for (;;) {
    for (;;) {
      const InputReader::Status status = input.next(line);
      if (status == InputReader::Status::kNeedMore) break;
      if (status == InputReader::Status::kEnd) {
        session.finish_input();
        return;
      }
      ++line_number;
      if (status == InputReader::Status::kTooLong) {
        log(LogLevel::kWarn, "input line ", line_number,
            " not sent: longer than ", kDefaultMaxLineBytes, " bytes");
        continue;
      }
      if (is_blank(line)) continue;
      if (std::optional<std::string> problem = validator.check(line, compact)) {
        log(LogLevel::kWarn, "input line ", line_number, " not sent: ",
            *problem);
        continue;
      }
      switch (session.send_activity(compact)) {
        case ClientSession::SendResult::kSent:
          break;
        case ClientSession::SendResult::kTooLong:
          log(LogLevel::kWarn, "input line ", line_number,
              " not sent: the ACTIVITY_MESSAGE would exceed the server's "
              "line limit of ",
              kDefaultMaxLineBytes, " bytes");
          break;
        case ClientSession::SendResult::kEnded:
          return;
      }
    }
    pollfd waiting[2] = {{session.ended_fd(), POLLIN, 0},
                         {STDIN_FILENO, POLLIN, 0}};
    if (poll(waiting, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log(LogLevel::kError, "poll on standard input failed: ",
          std::strerror(errno));
      session.finish_input();
      return;
    }
    if (waiting[0].revents != 0) return;  // the session has ended
    if ((waiting[1].revents & POLLNVAL) != 0) {
      session.finish_input();  // standard input is not open at all
      return;
    }
    if (waiting[1].revents != 0) {
      std::string error;
      input.fill(error);
      if (!error.empty()) {
        log(LogLevel::kWarn, "cannot read standard input (", error,
            "); treating it as ended");
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  ClientCommandLine command_line;
  try {
    command_line = parse_client_command_line(argc, argv);
  } catch (const UsageError& error) {
    std::fprintf(stderr, "activity-client: %s (see --help)\n", error.what());
    return to_int(ExitStatus::kUsage);
  }
  if (command_line.show_help) {
    std::fputs(command_line.help_text.c_str(), stdout);
    return to_int(ExitStatus::kSuccess);
  }
  ClientOptions& options = command_line.options;
  set_log_level(options.quiet ? LogLevel::kWarn : LogLevel::kInfo);
  // Sockets are written with MSG_NOSIGNAL; this covers standard output, so
  // a closed pipe there is an error to report, not a silent death.
  signal(SIGPIPE, SIG_IGN);

  try {
    if (options.generate_secret) {
      options.secret = generate_secret();
      if (!publish_secret(options)) return to_int(ExitStatus::kLocalError);
    }
    SessionSettings settings;
    settings.server = options.server;
    settings.username = options.username;
    settings.secret = options.secret;
    settings.register_first = options.generate_secret;
    settings.max_redirects = options.max_redirects;
    settings.connect_timeout = kConnectTimeout;
    settings.reply_timeout = options.reply_timeout;
    settings.logout_wait = kLogoutWait;
    settings.reconnect_for = options.reconnect_for;
    settings.others = options.others;

    ClientSession session(settings, write_stdout_line);
    session.start();
    run_input_loop(session);
    return to_int(session.wait());
  } catch (const std::exception& error) {
    log(LogLevel::kError, "client error: ", error.what());
    return to_int(ExitStatus::kLocalError);
  }
}
