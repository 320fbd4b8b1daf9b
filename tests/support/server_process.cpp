// The server binary as a child process (see server_process.h).
#include "server_process.h"

#include <doctest/doctest.h>

#include <cctype>
#include <fstream>

namespace activity::test {

std::string server_path() { return binary_from_env("ACTIVITY_SERVER"); }

std::optional<std::uint16_t> logged_port(const std::string& logged) {
  const std::string marker = "listening on port ";
  const std::size_t at = logged.find(marker);
  if (at == std::string::npos) return std::nullopt;
  std::size_t end = at + marker.size();
  while (end < logged.size() && std::isdigit(static_cast<unsigned char>(logged[end]))) {
    ++end;
  }
  const std::string digits = logged.substr(at + marker.size(), end - at - marker.size());
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  return static_cast<std::uint16_t>(std::stoul(digits));
}

std::optional<RunningServer> try_start_server(std::vector<std::string> args,
                                              const std::vector<std::string>& wrapper,
                                              std::string* why) {
  args.insert(args.end(), {"-lp", "0", "--bind", "127.0.0.1", "-lh",
                           "127.0.0.1", "-a", "100"});
  std::string program = server_path();
  if (!wrapper.empty()) {
    args.insert(args.begin(), program);
    args.insert(args.begin(), wrapper.begin() + 1, wrapper.end());
    program = wrapper.front();
  }
  RunningServer running;
  running.process = std::make_unique<ChildProcess>(program, args);
  const bool listening = running.process->wait_stderr("listening on port", 10000ms);
  const std::optional<std::uint16_t> port =
      listening ? logged_port(running.process->stderr_text()) : std::nullopt;
  if (!port) {
    if (why != nullptr) *why = running.process->stderr_text();
    return std::nullopt;
  }
  running.port = *port;
  return running;
}

RunningServer start_server(std::vector<std::string> args) {
  std::string why;
  std::optional<RunningServer> running = try_start_server(std::move(args), {}, &why);
  INFO(why);
  REQUIRE(running);
  return std::move(*running);
}

long proc_status(pid_t pid, const std::string& name) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(name + ":", 0) == 0) return std::stol(line.substr(name.size() + 1));
  }
  return -1;
}

}  // namespace activity::test
