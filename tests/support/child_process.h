// A child process for tests that drive the real binaries: its standard
// input, output and error are pipes, and every read and the wait for its
// exit have deadlines. It is spawned with every other descriptor closed (an
// inherited test socket would keep a connection open that a test expects
// to close), and killed and reaped when the object goes away, so a failed
// check never leaves a process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "test_support.h"

namespace activity::test {

class ChildProcess {
 public:
  // Starts the binary at `path` with `args` (argv[0] excluded).
  ChildProcess(const std::string& path, const std::vector<std::string>& args);
  ~ChildProcess();  // SIGKILL if still running, then reaps it
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

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
  // Sends `signal` to the child if it is still running.
  void send_signal(int signal);
  pid_t pid() const { return pid_; }

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

// Path of a binary under test, from an environment variable that
// tests/meson.build sets.
std::string binary_from_env(const char* variable);

}  // namespace activity::test
