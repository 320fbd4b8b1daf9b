// The real activity-client binary run as a child process for the client
// tests (its path comes from ACTIVITY_CLIENT, set by
// tests/client/meson.build), and small helpers for its arguments and
// output.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "child_process.h"
#include "test_support.h"

namespace activity::test {

// The activity-client binary (from ACTIVITY_CLIENT) as a child process.
class ClientProcess : public ChildProcess {
 public:
  explicit ClientProcess(const std::vector<std::string>& args)
      : ChildProcess(binary_from_env("ACTIVITY_CLIENT"), args) {}
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
