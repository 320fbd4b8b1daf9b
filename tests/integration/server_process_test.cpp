// The activity-server binary as users run it: command-line errors (one
// line, exit 2), the generated secret on standard output, SIGTERM and SIGINT
// stopping cleanly with exit 0, start-up link failures exiting non-zero, and
// a tree of three server processes that a client crosses.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "child_process.h"
#include "server_process.h"
#include "test_support.h"

using namespace activity;
using namespace activity::test;

namespace {

// True when `text` has `shape`'s length and a digit wherever `shape` has
// '#', and `shape`'s character everywhere else.
bool has_shape(const std::string& text, const std::string& shape) {
  if (text.size() != shape.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool digit = std::isdigit(static_cast<unsigned char>(text[i])) != 0;
    if (shape[i] == '#' ? !digit : text[i] != shape[i]) return false;
  }
  return true;
}

// Runs the server with `args` and returns its exit status and stderr.
std::pair<int, std::string> run_to_exit(const std::vector<std::string>& args) {
  ChildProcess server(server_path(), args);
  std::optional<int> status = server.wait_exit(10000ms);
  REQUIRE(status);
  return {*status, server.stderr_text()};
}

bool one_line(const std::string& text) {
  return !text.empty() && text.find('\n') == text.size() - 1;
}

}  // namespace

TEST_CASE("--help prints the options and exits 0") {
  ChildProcess server(server_path(), {"--help"});
  std::string help;
  while (std::optional<std::string> line = server.read_line(5000ms)) {
    help += *line + "\n";
  }
  CHECK(server.wait_exit(5000ms) == std::optional<int>(0));
  for (const char* option : {"--local-port", "--local-host", "--remote-host",
                             "--remote-port", "--secret", "--announce-interval",
                             "--max-line-bytes", "--lock-timeout", "--log-level",
                             "-lp -lh -rh -rp -s -a"}) {
    CAPTURE(option);
    CHECK(help.find(option) != std::string::npos);
  }
}

TEST_CASE("bad arguments: one line naming the argument, exit 2") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-lp", "http"}, "--local-port"},
      {{"-lp", "70000"}, "--local-port"},
      {{"-rp", "0", "-rh", "x", "-s", "s"}, "--remote-port"},
      {{"-a", "-5"}, "announce-interval"},
      {{"--lock-timeout", "soon"}, "--lock-timeout"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--bogus"}, "bogus"},
      {{"stray"}, "stray"},
      {{"-rh", "localhost"}, "--secret"},
      {{"-s", ""}, "--secret"},
  };
  for (const auto& test : cases) {
    const std::vector<std::string>& args = test.first;
    const std::string& named = test.second;
    CAPTURE(args.front());
    const auto [status, errors] = run_to_exit(args);
    CHECK(status == 2);
    CHECK(one_line(errors));
    CHECK(errors.find(named) != std::string::npos);
  }
}

TEST_CASE("alone: prints a generated secret, serves, stops on SIGTERM") {
  ChildProcess server(server_path(),
                      {"-lp", "0", "--bind", "127.0.0.1", "--log-level", "info"});
  std::optional<std::string> secret = server.read_line(10000ms);
  REQUIRE(secret);
  // 128 bits as base-32 text: 26 characters of [a-z2-7].
  CHECK(secret->size() == 26);
  CHECK(std::all_of(secret->begin(), secret->end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
  }));
  REQUIRE(server.wait_stderr("listening on port", 10000ms));
  // Logs carry a timestamp and a level, and never the secret.
  const std::string logged = server.stderr_text();
  // The "listening" line reads "<timestamp>Z INFO  server <id> listening ...".
  const std::size_t listening = logged.find(" listening on port ");
  REQUIRE(listening != std::string::npos);
  const std::size_t line_start = logged.rfind('\n', listening) + 1;  // npos + 1 == 0
  const std::string line = logged.substr(line_start, listening - line_start);
  const std::string stamp = "####-##-##T##:##:##.###";
  const std::string level = "Z INFO  server ";
  REQUIRE(line.size() > stamp.size() + level.size());
  CHECK(has_shape(line.substr(0, stamp.size()), stamp));
  CHECK(line.compare(stamp.size(), level.size(), level) == 0);
  const std::string id = line.substr(stamp.size() + level.size());
  CHECK(std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  }));
  const std::optional<std::uint16_t> port = logged_port(logged);
  REQUIRE(port);
  LineClient client(*port);
  CHECK(client.login());
  server.send_signal(SIGTERM);
  CHECK(server.wait_exit(10000ms) == std::optional<int>(0));
  CHECK(client.wait_closed());
  CHECK(server.stderr_text().find(*secret) == std::string::npos);
}

TEST_CASE("SIGINT also stops cleanly with exit 0") {
  RunningServer running = start_server({"-s", "abc"});
  LineClient client(running.port);
  CHECK(client.login());
  running.process->send_signal(SIGINT);
  CHECK(running.process->wait_exit(10000ms) == std::optional<int>(0));
}

TEST_CASE("joining with the wrong secret or to nothing exits non-zero") {
  RunningServer parent = start_server({"-s", "right"});
  {
    ChildProcess joiner(server_path(),
                        {"-lp", "0", "--bind", "127.0.0.1", "-rh", "127.0.0.1",
                         "-rp", std::to_string(parent.port), "-s", "wrong"});
    std::optional<int> status = joiner.wait_exit(10000ms);
    REQUIRE(status);
    CHECK(*status != 0);
    CHECK(joiner.stderr_text().find("AUTHENTICATION_FAIL") != std::string::npos);
  }
  {
    // A port nothing listens on: the parent's, once the parent has gone.
    const std::string dead_port = std::to_string(parent.port);
    parent.process->send_signal(SIGTERM);
    REQUIRE(parent.process->wait_exit(10000ms) == std::optional<int>(0));
    ChildProcess joiner(server_path(), {"-lp", "0", "--bind", "127.0.0.1", "-rh",
                                        "127.0.0.1", "-rp", dead_port, "-s", "x"});
    std::optional<int> status = joiner.wait_exit(10000ms);
    REQUIRE(status);
    CHECK(*status != 0);
    CHECK(joiner.stderr_text().find("cannot connect") != std::string::npos);
  }
}

TEST_CASE("three server processes: register at one end, log in at the other") {
  RunningServer a = start_server({"-s", "tree-secret"});
  RunningServer b = start_server({"-s", "tree-secret", "-rh", "127.0.0.1", "-rp",
                                  std::to_string(a.port)});
  RunningServer c = start_server({"-s", "tree-secret", "-rh", "127.0.0.1", "-rp",
                                  std::to_string(b.port)});
  // The round waits only for the servers c knows by now, but its
  // LOCK_REQUEST reaches a regardless: poll until a accepts the login.
  LineClient watcher(a.port);
  REQUIRE(watcher.login());
  LineClient registrar(c.port);
  REQUIRE(registrar.register_user("dana", "pw", 10000ms));
  CHECK(wait_until([&] {
    LineClient probe(a.port);
    return probe.login("dana", "pw");
  }));
  REQUIRE(registrar.login("dana", "pw"));
  registrar.send_raw(encode_activity_message("dana", std::string_view("pw"),
                                             "{\"hello\":\"tree\"}"));
  std::optional<Message> got = watcher.read_until(Command::kActivityBroadcast);
  REQUIRE(got);
  CHECK(got->username == "dana");
  for (RunningServer* server : {&c, &b, &a}) {
    server->process->send_signal(SIGTERM);
    CHECK(server->process->wait_exit(10000ms) == std::optional<int>(0));
  }
}
