// The activity-server binary as a test's child process: started on a free
// loopback port (read back from its "listening on port N" log line), with
// an optional wrapper command in front of it (prlimit, setpriv) for tests
// that run it under resource limits, and its /proc figures.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "child_process.h"

namespace activity::test {

// Path of the server binary under test (ACTIVITY_SERVER).
std::string server_path();

// The port in the server's "listening on port N" log line.
std::optional<std::uint16_t> logged_port(const std::string& logged);

struct RunningServer {
  std::unique_ptr<ChildProcess> process;
  std::uint16_t port = 0;
};

// Starts the server with `args` plus a free loopback port and 100 ms
// announces. With a `wrapper`, runs wrapper..., server, args... instead.
// Returns nothing if it exited or did not listen within the deadline;
// `why` then holds what it wrote on standard error.
std::optional<RunningServer> try_start_server(
    std::vector<std::string> args, const std::vector<std::string>& wrapper = {},
    std::string* why = nullptr);
// As try_start_server without a wrapper, failing the test if it fails.
RunningServer start_server(std::vector<std::string> args);

// A "Name: value" number (kB for memory) of /proc/PID/status, or -1.
long proc_status(pid_t pid, const std::string& name);

}  // namespace activity::test
