// The real activity-client binary run as a child process for the client
// tests: its path comes from the ACTIVITY_CLIENT environment variable (set
// by tests/client/meson.build), its standard input, output and error are
// pipes, and every read has a deadline. The child is killed and reaped when
// the object goes away, so a failed check never leaves a process behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "test_support.h"

namespace activity::test {

class ClientProcess {
 public:
  // Starts activity-client with `args` (argv[0] excluded).
  explicit ClientProcess(const std::vector<std::string>& args);
  ~ClientProcess();  // SIGKILL if still running, then reaps it
  ClientProcess(const ClientProcess&) = delete;
  ClientProcess& operator=(const ClientProcess&) = delete;

  // Writes to the child's standard input (all of it; blocking).
  void write_stdin(const std::string& text);
  // Ends the child's standard input.
  void close_stdin();

  // The next line of the child's standard output, or nothing if the
  // deadline passes or the output ends first.
  std::optional<std::string> read_line(Millis timeout = kDefaultWait);
  // True once standard error has contained `text` (within the deadline).
  bool wait_stderr(const std::string& text, Millis timeout = kDefaultWait);
  // Standard error collected so far.
  const std::string& stderr_text() const { return err_; }
  // Standard output collected so far and not yet returned by read_line.
  const std::string& stdout_pending() const { return out_; }

  // Waits for the child to exit and returns its exit status (128 + signal
  // number if a signal ended it), or nothing if the deadline passes.
  std::optional<int> wait_exit(Millis timeout = kDefaultWait);
  // True while the child has not been seen to exit.
  bool running();

 private:
  // Waits up to `deadline` for output on stdout or stderr and appends it.
  // Returns false if nothing arrived (deadline passed or both ended).
  bool pump(std::chrono::steady_clock::time_point deadline);
  bool reap(bool block);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::string out_;
  std::string err_;
  std::optional<int> status_;
};

// Runs activity-client with `args`, writes `input` and closes standard input,
// and collects everything until it exits: its exit status (nothing on
// timeout), standard output and standard error.
struct ClientRun {
  std::optional<int> status;
  std::string out;
  std::string err;
};
ClientRun run_client(const std::vector<std::string>& args,
                     const std::string& input = "",
                     Millis timeout = kDefaultWait);

// Arguments that point the client at 127.0.0.1:`port`, then `extra`.
std::vector<std::string> client_args(std::uint16_t port,
                                     const std::vector<std::string>& extra = {});

// "127.0.0.1:port", as the client names a server in its messages.
std::string loopback(std::uint16_t port);

// The string member `name` of the JSON object on `line`, if it has one.
std::optional<std::string> json_string(const std::string& line,
                                       const char* name);

}  // namespace activity::test
