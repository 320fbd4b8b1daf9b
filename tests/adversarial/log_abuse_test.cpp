// Logs that cannot be abused (finding 7 of the hardening issue), with the
// server binary as a process: nothing a peer sends reaches standard error
// but as a short printable sample, secrets never (not in samples of bad
// lines either), no line is longer than the bound, no peer text can start
// a line of its own, and a standard error that nobody reads stalls
// nothing: the server keeps serving and counts the lines it had to drop.
#include <doctest/doctest.h>

#include <signal.h>

#include <sstream>
#include <string>
#include <thread>

#include "adversary.h"
#include "server_process.h"

using namespace activity;
using namespace activity::test;

TEST_CASE("peer text reaches the log only as short printable samples, secrets never") {
  RunningServer server = start_server({"-s", "network-secret-xyzzy", "--log-level", "debug"});
  const std::string forged = "2026-01-01T00:00:00.000Z ERROR forged line";
  {
    LineClient client(server.port);
    // A username that would forge a line and move the cursor, registered.
    std::string name = "evil\n" + forged + "\x1b[2J";
    client.send_raw(encode_register(name, "user-secret-plugh"));
    CHECK(client.read_until(Command::kRegisterSuccess));
  }
  {
    LineClient client(server.port);  // 500 bytes of name: sampled, not whole
    CHECK(client.register_user(std::string(500, 'n'), "s"));
  }
  {
    LineClient client(server.port);  // 900 KB of name: refused, sampled
    client.send_raw(encode_register(std::string(900 * 1000, 'm'), "s"));
    CHECK(reply_info(client).find("exceeds the limit") != std::string::npos);
  }
  for (const std::string& bad :
       {std::string("{\"command\":\"LOGIN\",\"username\":\"bob\",\"secret\":\"user-secret-plugh\""),
        std::string("{\"command\":\"AUTHENTICATE\",\"secret\":\"network-secret-xyzzy\",}"),
        std::string("{\"secret\":\"user-secret-plugh\",\"command\":\"NOPE\"}"),
        std::string("{\"command\":\"REGISTER\",\"username\":\"a\",\"secret\":\"user-secret-plugh\",") +
            std::string(100, ' ')}) {
    LineClient client(server.port);
    client.send_line(bad);
    CHECK(client.read_until(Command::kInvalidMessage));
  }
  {
    LineClient client(server.port);  // a wrong login: the secret tried is not logged
    CHECK_FALSE(client.login("evil", "user-secret-plugh-wrong"));
  }
  server.process->send_signal(SIGTERM);
  REQUIRE(server.process->wait_exit() == std::optional<int>(0));
  const std::string& logged = server.process->stderr_text();
  CHECK(logged.find("registered evil?") != std::string::npos);  // the log did run
  CHECK(logged.find("sent a bad line") != std::string::npos);
  CHECK(logged.find("user-secret-plugh") == std::string::npos);
  CHECK(logged.find("network-secret-xyzzy") == std::string::npos);
  CHECK(logged.find(std::string(81, 'n')) == std::string::npos);
  CHECK(logged.find(std::string(2000, 'm')) == std::string::npos);
  std::istringstream lines(logged);
  std::string line;
  std::size_t longest = 0;
  std::size_t unprintable = 0;
  while (std::getline(lines, line)) {
    CHECK(line.rfind(forged, 0) != 0);  // no line of the peer's own
    longest = std::max(longest, line.size());
    for (char c : line) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte >= 0x7f) ++unprintable;
    }
  }
  CHECK(unprintable == 0);
  // Timestamp and level, then at most kMaxLogLineBytes and "...".
  CHECK(longest <= 31 + kMaxLogLineBytes + 3);
}

TEST_CASE("a standard error nobody reads stalls nothing; dropped lines are counted") {
  RunningServer server = start_server(
      {"-s", "secret", "--max-users", "1", "--log-lines-per-second", "1000000"});
  // From here on nobody reads the server's standard error: its pipe fills
  // (64 KiB), then the log writer's queue (1 MiB), then lines are dropped.
  FakePeer peer(server.port, "secret");
  std::string flood;
  for (int i = 0; i < 30000; ++i) {
    // All but the first are denied at the user table's bound, each with a
    // warning of about 100 bytes.
    flood += lock_line("LOCK_REQUEST", "flooded-name-" + std::to_string(i)) + "\n";
  }
  std::thread sender([&] { peer.link().send_raw(flood); });
  int answered = 0;
  while (answered < 30000) {
    std::optional<Message> answer = peer.link().read_message(20000ms);
    if (!answer) break;
    if (answer->command == Command::kLockDenied || answer->command == Command::kLockAllowed) {
      ++answered;
    }
  }
  sender.join();
  CHECK(answered == 30000);
  // The server still serves, while its log cannot be written.
  Bystander bystander(server.port);
  CHECK(bystander.still_served());
  LineClient registering(server.port);
  registering.send_raw(encode_register("late", "s"));
  CHECK(registering.read_until(Command::kRegisterFailed));
  // Once standard error is read again, the drop is reported.
  CHECK(server.process->wait_stderr("log lines dropped", 10000ms));
  server.process->send_signal(SIGTERM);
  CHECK(server.process->wait_exit(10000ms) == std::optional<int>(0));
}
