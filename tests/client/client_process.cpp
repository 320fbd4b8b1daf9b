// Client-test helpers (see client_process.h).
#include "client_process.h"

namespace activity::test {

ClientRun run_client(const std::vector<std::string>& args,
                     const std::string& input, Millis timeout) {
  ClientProcess client(args);
  client.write_stdin(input);
  client.close_stdin();
  ClientRun run;
  run.status = client.wait_exit(timeout);
  run.out = client.stdout_pending();
  run.err = client.stderr_text();
  return run;
}

std::vector<std::string> client_args(std::uint16_t port,
                                     const std::vector<std::string>& extra) {
  std::vector<std::string> args{"-rh", "127.0.0.1", "-rp",
                                std::to_string(port)};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string loopback(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

std::optional<std::string> json_string(const std::string& line,
                                       const char* name) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(line).get(root) != simdjson::SUCCESS) return std::nullopt;
  std::string_view value;
  if (root[name].get_string().get(value) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return std::string(value);
}

}  // namespace activity::test
