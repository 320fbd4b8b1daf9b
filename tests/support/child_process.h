// A child process for tests that drive the real binaries: its standard
// input, output and error are pipes; every read and the wait for its exit
// have deadlines; the destructor kills and reaps it, so a failed check
// never leaves a process behind.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "named_limits.h"

namespace activity::test {

class ChildProcess {
 public:
  // Starts `path` with `args` (argv[0] is set to `path`).
  ChildProcess(const std::string& path, const std::vector<std::string>& args);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void write_stdin(const std::string& bytes);
  void close_stdin();
  // The next line of standard output / error, or nothing at the deadline
  // or at the end of the stream.
  std::optional<std::string> read_stdout_line(Millis timeout);
  std::optional<std::string> read_stderr_line(Millis timeout);
  // Reads standard error until a line containing `text` arrives; returns it.
  std::optional<std::string> wait_stderr_line(const std::string& text,
                                              Millis timeout);
  // Everything read from standard error so far, including consumed lines.
  const std::string& stderr_seen() const { return stderr_seen_; }

  void send_signal(int signal);
  // The exit status (or 128 + signal number), or nothing at the deadline.
  std::optional<int> wait_exit(Millis timeout);
  pid_t pid() const { return pid_; }

 private:
  struct Stream {
    int fd = -1;
    std::string buffer;
    bool eof = false;
  };
  // Moves whatever is readable on the open streams into their buffers,
  // waiting at most `wait_ms`.
  void pump(int wait_ms);
  std::optional<std::string> read_line(Stream& stream, Millis timeout);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  Stream out_;
  Stream err_;
  std::string stderr_seen_;
  std::optional<int> status_;
};

// Path of a binary under test, from an environment variable set by Meson.
std::string binary_from_env(const char* variable);

}  // namespace activity::test
