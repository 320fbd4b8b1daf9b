// activity-server: parses the command line, starts the server, prints a
// generated secret, and runs until SIGINT or SIGTERM, then stops cleanly.
#include <signal.h>

#include <cstdio>
#include <exception>
#include <iostream>

#include "cli.h"
#include "log.h"
#include "secret.h"
#include "server.h"
#include "server_options.h"

namespace {

// Blocks SIGINT and SIGTERM in every thread (threads inherit the mask) so
// that only sigwait() in main receives them.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace activity;
  ServerCommandLine command_line;
  try {
    command_line = parse_server_command_line(argc, argv);
  } catch (const UsageError& error) {
    std::fprintf(stderr, "activity-server: %s (see --help)\n", error.what());
    return 2;
  }
  if (command_line.show_help) {
    std::cout << command_line.help_text;
    return 0;
  }
  set_log_level(command_line.log_level);
  signal(SIGPIPE, SIG_IGN);
  const sigset_t stop_signals = block_stop_signals();

  ServerOptions& options = command_line.options;
  if (command_line.generate_secret) {
    options.secret = generate_secret();
    std::printf("%s\n", options.secret.c_str());
    std::fflush(stdout);
    log(LogLevel::kInfo, "generated the server secret (printed on standard output)");
  }
  Server server(options);
  try {
    server.start();
  } catch (const std::exception& error) {
    log(LogLevel::kError, error.what());
    return 1;
  }
  if (!options.remote_host.empty()) {
    if (std::optional<std::string> failure =
            server.wait_for_startup_link(kStartupLinkGrace)) {
      log(LogLevel::kError, "could not join ", options.remote_host, ":",
          options.remote_port, ": ", *failure);
      server.stop();
      return 1;
    }
  }
  int received = 0;
  sigwait(&stop_signals, &received);
  log(LogLevel::kInfo, "received ", received == SIGINT ? "SIGINT" : "SIGTERM",
      "; stopping");
  server.stop();
  return 0;
}
