// activity-server: parses the command line, starts the server, prints a
// generated secret, and runs until SIGINT or SIGTERM, then stops cleanly.
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

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

// Memory a long line used is given back to the system when it is freed:
// glibc otherwise raises its mmap threshold after the first large free and
// keeps later large buffers in its heaps for good.
void return_large_buffers() {
  constexpr int kThreshold = 128 * 1024;
  mallopt(M_MMAP_THRESHOLD, kThreshold);
  mallopt(M_TRIM_THRESHOLD, kThreshold);
}

// Each connection holds two descriptors; the soft limit (often 1024) would
// stop the server far below --max-connections, so it is raised to the hard
// limit, as an operator would with `ulimit -n`.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The log writer runs from here to every return of main, which writes
// whatever is still queued.
class LogWriterScope {
 public:
  explicit LogWriterScope(std::size_t lines_per_second) {
    activity::start_log_writer(lines_per_second);
  }
  ~LogWriterScope() { activity::stop_log_writer(); }
  LogWriterScope(const LogWriterScope&) = delete;
  LogWriterScope& operator=(const LogWriterScope&) = delete;
};

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
  return_large_buffers();
  raise_descriptor_limit();
  signal(SIGPIPE, SIG_IGN);
  // Before any thread starts: every thread inherits the blocked signals.
  const sigset_t stop_signals = block_stop_signals();
  LogWriterScope log_writer(command_line.log_lines_per_second);

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
  // Past the start-up rule: a lost parent link is healed from now on.
  server.enable_healing();
  int received = 0;
  sigwait(&stop_signals, &received);
  log(LogLevel::kInfo, "received ", received == SIGINT ? "SIGINT" : "SIGTERM",
      "; handing clients on and stopping");
  server.hand_off();
  server.stop();
  return 0;
}
