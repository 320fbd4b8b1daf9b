// The client's command line and the error paths a real server does not
// take on its own, played by a scripted FakeServer: INVALID_MESSAGE and
// AUTHENTICATION_FAIL (never answered, distinct exit statuses), a garbage
// line from the server (answered with INVALID_MESSAGE), a REDIRECT loop
// bounded by --max-redirects, and a REDIRECT that arrives after the client
// already sent an activity (which must be sent again on the new server).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "client_process.h"
#include "fake_server.h"
#include "test_support.h"

namespace activity::test {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::size_t line_count(const std::string& text) {
  std::size_t count = 0;
  for (char c : text) count += c == '\n' ? 1 : 0;
  return count;
}

constexpr const char* kLoginSuccess =
    R"({"command":"LOGIN_SUCCESS","info":"logged in"})";

}  // namespace

TEST_CASE("a bad command-line argument exits 2 with one line naming it") {
  struct Case {
    std::vector<std::string> args;
    std::string named;
  };
  const std::vector<Case> cases = {
      {{"-rp", "70000"}, "--remote-port"},
      {{"-rp", "http"}, "--remote-port"},
      {{"--bogus"}, "bogus"},
      {{"-rh"}, "remote-host"},
      {{"-u", ""}, "--username"},
      {{"-u", "erin", "-s", ""}, "--secret"},
      {{"--max-redirects", "many"}, "--max-redirects"},
      {{"--reply-timeout", "0"}, "--reply-timeout"},
      {{"-u", "erin", "-s", "x", "--secret-file", "f"}, "--secret-file"},
      {{"stray"}, "stray"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.named);
    const ClientRun run = run_client(c.args);
    CHECK(run.status.value_or(-1) == 2);
    CHECK(contains(run.err, c.named));
    CHECK(line_count(run.err) == 1);
    CHECK(run.out.empty());
  }
}

TEST_CASE("--help lists the options and the exit statuses") {
  const ClientRun run = run_client({"--help"});
  CHECK(run.status.value_or(-1) == 0);
  for (const std::string text :
       {"--remote-host", "-rh", "--remote-port", "-rp", "--username",
        "--secret", "--quiet", "--max-redirects", "Exit status",
        "8   more consecutive REDIRECTs", "generated_secret"}) {
    CAPTURE(text);
    CHECK(contains(run.out, text));
  }
}

TEST_CASE("INVALID_MESSAGE from the server: logged, never answered, exit 7") {
  FakeServer fake;
  ClientProcess client(client_args(fake.port()));
  CAPTURE(client.stderr_text());
  std::unique_ptr<FakePeer> peer = fake.accept();
  REQUIRE(peer);
  const std::optional<Message> login = peer->read_message();
  REQUIRE(login);
  CHECK(login->command == Command::kLogin);
  CHECK(login->username == "anonymous");
  CHECK(!login->has_secret);
  peer->send_line(
      R"({"command":"INVALID_MESSAGE","info":"you are not welcome"})");

  CHECK(client.wait_exit().value_or(-1) == 7);
  CHECK(contains(client.stderr_text(), loopback(fake.port()) +
                                           " answered INVALID_MESSAGE: you "
                                           "are not welcome"));
  CHECK(peer->wait_closed());
  CHECK(!peer->read_line(Millis(0)));  // nothing was sent back
}

TEST_CASE("AUTHENTICATION_FAIL after an activity: never answered, exit 6") {
  FakeServer fake;
  ClientProcess client(client_args(fake.port(), {"-u", "dave", "-s", "pw"}));
  CAPTURE(client.stderr_text());
  std::unique_ptr<FakePeer> peer = fake.accept();
  REQUIRE(peer);
  CHECK(peer->read_line() ==
        std::optional<std::string>(
            R"({"command":"LOGIN","username":"dave","secret":"pw"})"));
  peer->send_line(kLoginSuccess);

  client.write_stdin("{ \"a\" : [1, 2], \"s\": \"x y\" }\n");
  CHECK(peer->read_line() ==
        std::optional<std::string>(
            R"({"command":"ACTIVITY_MESSAGE","username":"dave","secret":"pw",)"
            R"("activity":{"a":[1,2],"s":"x y"}})"));
  peer->send_line(
      R"({"command":"AUTHENTICATION_FAIL","info":"secret mismatch"})");

  CHECK(client.wait_exit().value_or(-1) == 6);
  CHECK(contains(client.stderr_text(),
                 "answered AUTHENTICATION_FAIL: secret mismatch"));
  CHECK(peer->wait_closed());
  CHECK(!peer->read_line(Millis(0)));
}

TEST_CASE("a bad line from the server is answered INVALID_MESSAGE, exit 9") {
  FakeServer fake;
  ClientProcess client(client_args(fake.port()));
  CAPTURE(client.stderr_text());
  std::unique_ptr<FakePeer> peer = fake.accept();
  REQUIRE(peer);
  REQUIRE(peer->read_message());
  peer->send_line(kLoginSuccess);
  peer->send_line("this is not json");

  CHECK(client.wait_exit().value_or(-1) == 9);
  const std::optional<Message> reply = peer->read_message();
  REQUIRE(reply);
  CHECK(reply->command == Command::kInvalidMessage);
  CHECK(!reply->info.empty());
  CHECK(peer->wait_closed());
  CHECK(contains(client.stderr_text(), "sent a bad message"));
}

TEST_CASE("a REDIRECT loop stops after --max-redirects, without REGISTER "
          "again; exit 8") {
  FakeServer fake;
  ClientProcess client(
      client_args(fake.port(), {"-u", "erin", "--max-redirects", "2"}));
  CAPTURE(client.stderr_text());
  const std::string redirect_to_self =
      R"({"command":"REDIRECT","hostname":"127.0.0.1","port":)" +
      std::to_string(fake.port()) + "}";
  for (int connection = 0; connection < 3; ++connection) {
    CAPTURE(connection);
    std::unique_ptr<FakePeer> peer = fake.accept();
    REQUIRE(peer);
    std::optional<Message> message = peer->read_message();
    REQUIRE(message);
    if (connection == 0) {
      REQUIRE(message->command == Command::kRegister);
      CHECK(message->username == "erin");
      peer->send_line(R"({"command":"REGISTER_SUCCESS","info":"ok"})");
      message = peer->read_message();
      REQUIRE(message);
    }
    CHECK(message->command == Command::kLogin);  // never REGISTER again
    peer->send_line(kLoginSuccess);
    peer->send_line(redirect_to_self);
  }
  CHECK(client.wait_exit().value_or(-1) == 8);
  CHECK(contains(client.stderr_text(), "too many redirects"));
  CHECK(!fake.accept(Millis(0)));
}

TEST_CASE("activities sent before a REDIRECT are sent again after it") {
  TestServer server;
  LineClient watcher(server.port());
  REQUIRE(watcher.login());
  FakeServer fake;
  ClientProcess client(client_args(fake.port()));
  CAPTURE(client.stderr_text());
  std::unique_ptr<FakePeer> peer = fake.accept();
  REQUIRE(peer);
  REQUIRE(peer->read_message());
  peer->send_line(kLoginSuccess);

  // The client sends on the fake server, which then redirects without
  // having processed the activity (as a real server would: it decides on
  // REDIRECT at login).
  client.write_stdin("{\"seq\":1}\n");
  const std::optional<Message> sent = peer->read_message();
  REQUIRE(sent);
  CHECK(sent->command == Command::kActivityMessage);
  peer->send_line(R"({"command":"REDIRECT","hostname":"127.0.0.1","port":)" +
                  std::to_string(server.port()) + "}");
  peer->close();

  std::optional<Message> replayed =
      watcher.read_until(Command::kActivityBroadcast);
  REQUIRE(replayed);
  CHECK(replayed->activity == R"({"seq":1,"authenticated_user":"anonymous"})");
  client.write_stdin("{\"seq\":2}\n");
  client.close_stdin();
  replayed = watcher.read_until(Command::kActivityBroadcast);
  REQUIRE(replayed);
  CHECK(replayed->activity == R"({"seq":2,"authenticated_user":"anonymous"})");
  CHECK(client.wait_exit().value_or(-1) == 0);
}

}  // namespace activity::test
