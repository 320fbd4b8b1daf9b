// The real activity-client binary against real in-process servers: an
// anonymous session, registering with a generated secret and logging in
// again with it, a wrong secret, invalid input lines, the server going away
// while the client waits on standard input, and a redirect across a
// three-server tree. Each test drives the client through its pipes and
// watches the servers and LineClients; every wait has a deadline.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "client_process.h"
#include "test_support.h"

namespace activity::test {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (std::size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + part.size())) {
    ++count;
  }
  return count;
}

// Reads broadcasts until one whose activity contains `text`.
std::optional<std::string> read_activity_with(LineClient& client,
                                              const std::string& text) {
  const auto deadline = std::chrono::steady_clock::now() + kDefaultWait;
  for (;;) {
    const auto left = std::chrono::duration_cast<Millis>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::optional<Message> message =
        client.read_until(Command::kActivityBroadcast, left);
    if (!message) return std::nullopt;
    if (contains(message->activity, text)) return message->activity;
  }
}

std::size_t load_of(TestServer& server) {
  return server.server().stats().load;
}

}  // namespace

TEST_CASE("anonymous: activities go out from stdin and come in on stdout") {
  TestServer server;
  LineClient watcher(server.port());
  REQUIRE(watcher.login());
  ClientProcess client(client_args(server.port()));
  CAPTURE(client.stderr_text());
  REQUIRE(wait_until([&] { return load_of(server) == 2; }));

  client.write_stdin("{\"text\": \"hello\", \"n\": 12345678901234}\n");
  const std::optional<std::string> seen = read_activity_with(watcher, "hello");
  REQUIRE(seen);
  CHECK(*seen ==
        R"({"text":"hello","n":12345678901234,"authenticated_user":"anonymous"})");
  // The client prints its own copy: the activity went out.
  const std::optional<std::string> own = client.read_line();
  REQUIRE(own);
  CHECK(*own == *seen);

  watcher.send_raw(encode_activity_message("anonymous", std::nullopt,
                                           R"({"text":"hi back"})"));
  const std::optional<std::string> received = client.read_line();
  REQUIRE(received);
  CHECK(*received == R"({"text":"hi back","authenticated_user":"anonymous"})");

  client.close_stdin();
  CHECK(client.wait_exit().value_or(-1) == 0);
  CHECK(wait_until([&] { return load_of(server) == 1; }));
  CHECK(contains(client.stderr_text(),
                 "logged in as anonymous on " + loopback(server.port())));
  CHECK(client.stdout_pending().empty());
}

TEST_CASE("a username without a secret registers, logs in, and can log in "
          "again with the printed secret") {
  TestServer server;
  LineClient bob(server.port());
  REQUIRE(bob.register_user("bob", "bob-secret"));
  REQUIRE(bob.login("bob", "bob-secret"));

  std::string secret;
  {
    ClientProcess client(client_args(server.port(), {"-u", "alice"}));
    CAPTURE(client.stderr_text());
    const std::optional<std::string> first = client.read_line();
    REQUIRE(first);
    const std::optional<std::string> generated =
        json_string(*first, "generated_secret");
    REQUIRE(generated);
    secret = *generated;
    CHECK(json_string(*first, "username") == std::optional<std::string>("alice"));
    CHECK(secret.size() == 26);
    REQUIRE(wait_until([&] { return load_of(server) == 2; }));
    CHECK(server.server().stored_secret("alice") ==
          std::optional<std::string>(secret));
    CHECK(client.wait_stderr("registered alice on " +
                             loopback(server.port())));

    client.write_stdin("{\"n\":1}\n");
    const std::optional<std::string> seen = read_activity_with(bob, "\"n\"");
    REQUIRE(seen);
    CHECK(*seen == R"({"n":1,"authenticated_user":"alice"})");
    CHECK(client.read_line() == std::optional<std::string>(*seen));

    bob.send_raw(encode_activity_message("bob", std::string_view("bob-secret"),
                                         R"({"from":"bob"})"));
    CHECK(client.read_line() ==
          std::optional<std::string>(R"({"from":"bob","authenticated_user":"bob"})"));
    client.close_stdin();
    CHECK(client.wait_exit().value_or(-1) == 0);
  }

  // Later: log in with the printed secret; no REGISTER this time.
  const ClientRun again = run_client(
      client_args(server.port(), {"-u", "alice", "-s", secret}), "{\"n\":2}\n");
  CHECK(again.status.value_or(-1) == 0);
  CHECK(contains(again.err, "logged in as alice"));
  CHECK(!contains(again.err, "registered"));
  const std::optional<std::string> second = read_activity_with(bob, "\"n\":2");
  REQUIRE(second);
  CHECK(*second == R"({"n":2,"authenticated_user":"alice"})");
}

TEST_CASE("--secret-file receives a generated secret instead of stdout") {
  TestServer server;
  char directory[] = "/tmp/activity-client-test-XXXXXX";
  REQUIRE(mkdtemp(directory) != nullptr);
  const std::string path = std::string(directory) + "/carol.secret";

  const ClientRun run = run_client(
      client_args(server.port(), {"-u", "carol", "--secret-file", path}));
  CHECK(run.status.value_or(-1) == 0);
  CHECK(run.out.empty());
  std::string secret;
  std::ifstream(path) >> secret;
  struct stat info {};
  REQUIRE(stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  CHECK(server.server().stored_secret("carol") ==
        std::optional<std::string>(secret));

  // An existing file is never overwritten: it may hold an older secret.
  const ClientRun refused = run_client(
      client_args(server.port(), {"-u", "dave", "--secret-file", path}));
  CHECK(refused.status.value_or(-1) == 1);
  CHECK(contains(refused.err, path));
  CHECK(!server.server().stored_secret("dave"));

  unlink(path.c_str());
  rmdir(directory);
}

TEST_CASE("login and register failures give their exit statuses") {
  TestServer server;
  LineClient bob(server.port());
  REQUIRE(bob.register_user("bob", "bob-secret"));
  const std::string where = loopback(server.port());

  SUBCASE("wrong secret: LOGIN_FAILED, exit 4") {
    const ClientRun run =
        run_client(client_args(server.port(), {"-u", "bob", "-s", "wrong"}));
    CHECK(run.status.value_or(-1) == 4);
    CHECK(contains(run.err, "login as bob failed on " + where));
    CHECK(contains(run.err, "wrong secret"));  // the server's info
    CHECK(run.out.empty());
  }
  SUBCASE("unknown user: LOGIN_FAILED, exit 4") {
    const ClientRun run =
        run_client(client_args(server.port(), {"-u", "nobody", "-s", "x"}));
    CHECK(run.status.value_or(-1) == 4);
    CHECK(contains(run.err, "not registered"));
  }
  SUBCASE("username taken: REGISTER_FAILED, exit 5") {
    const ClientRun run =
        run_client(client_args(server.port(), {"-u", "bob"}));
    CHECK(run.status.value_or(-1) == 5);
    CHECK(contains(run.err, "registration of bob failed on " + where));
    CHECK(server.server().stored_secret("bob") ==
          std::optional<std::string>("bob-secret"));
  }
}

TEST_CASE("invalid input lines are reported and skipped; the session goes on") {
  TestServer server;
  LineClient watcher(server.port());
  REQUIRE(watcher.login());
  ClientProcess client(client_args(server.port()));
  CAPTURE(client.stderr_text());
  REQUIRE(wait_until([&] { return load_of(server) == 2; }));

  client.write_stdin(
      "not json\n"
      "[1,2]\n"
      "\n"
      "   \r\n"
      "{\"ok\":1}, \"command\":\"LOGOUT\"}\n"
      "{\"ok\":1}\r\n");
  const std::optional<std::string> seen = read_activity_with(watcher, "ok");
  REQUIRE(seen);
  CHECK(*seen == R"({"ok":1,"authenticated_user":"anonymous"})");
  CHECK(client.wait_stderr("input line 1 not sent: JSON parse error"));
  CHECK(client.wait_stderr(
      "input line 2 not sent: an activity must be a JSON object"));
  CHECK(client.wait_stderr("input line 5 not sent"));
  CHECK(!contains(client.stderr_text(), "input line 3"));
  CHECK(!contains(client.stderr_text(), "input line 4"));
  CHECK(!contains(client.stderr_text(), "input line 6"));

  // Still connected and logged in: the next line goes through too.
  CHECK(client.running());
  client.write_stdin("{\"ok\":2}\n");
  const std::optional<std::string> next = read_activity_with(watcher, "\"ok\":2");
  REQUIRE(next);
  client.close_stdin();
  CHECK(client.wait_exit().value_or(-1) == 0);
}

TEST_CASE("the server closing the connection ends a client waiting on stdin") {
  auto server = std::make_unique<TestServer>();
  const std::uint16_t port = server->port();
  std::vector<std::string> args = client_args(port);
  args.insert(args.end(), {"--reconnect-for", "0"});
  ClientProcess client(args);
  CAPTURE(client.stderr_text());
  // The client's own word that it is logged in: the server counts the
  // login before the client has read LOGIN_SUCCESS.
  REQUIRE(client.wait_stderr("logged in as anonymous"));

  server.reset();  // stops the server; standard input stays open
  CHECK(client.wait_exit().value_or(-1) == 3);
  CHECK(contains(client.stderr_text(),
                 "connection to " + loopback(port) + " lost"));
}

TEST_CASE("a lost server: the client reconnects, logs in again, and goes on") {
  // The server it was on stops and another takes its port: the client logs
  // in there (never registering again) and keeps sending and receiving.
  auto server = std::make_unique<TestServer>();
  const std::uint16_t port = server->port();
  LineClient bob_maker(port);
  REQUIRE(bob_maker.register_user("bob", "bob-secret"));
  bob_maker.close();
  std::vector<std::string> args = client_args(port);
  args.insert(args.end(), {"-u", "bob", "-s", "bob-secret"});
  ClientProcess client(args);
  CAPTURE(client.stderr_text());
  REQUIRE(client.wait_stderr("logged in as bob"));
  server.reset();
  REQUIRE(client.wait_stderr("reconnecting for up to"));

  ServerOptions options = test_server_options();
  options.local_port = port;
  TestServer again(options);
  // A restarted server here keeps no users (durable users are another
  // matter): bob registers on it out of band.
  LineClient maker(port);
  REQUIRE(maker.register_user("bob", "bob-secret"));
  maker.close();
  REQUIRE(client.wait_stderr("logged in as bob on " + loopback(port), 10000ms));
  LineClient watcher(port);
  REQUIRE(watcher.login());
  client.write_stdin("{\"after\":\"reconnect\"}\n");
  CHECK(read_activity_with(watcher, "reconnect"));
  CHECK(count_of(client.stderr_text(), "registered bob") == 0);
  client.close_stdin();
  CHECK(client.wait_exit().value_or(-1) == 0);
}

TEST_CASE("a lost server and nowhere to go: the client gives up after --reconnect-for") {
  auto server = std::make_unique<TestServer>();
  std::vector<std::string> args = client_args(server->port());
  args.insert(args.end(), {"--reconnect-for", "300"});
  ClientProcess client(args);
  CAPTURE(client.stderr_text());
  REQUIRE(client.wait_stderr("logged in as anonymous"));
  server.reset();
  CHECK(client.wait_exit().value_or(-1) == 3);
  CHECK(contains(client.stderr_text(), "could not reconnect within 300 ms"));
}

TEST_CASE("a refused connection exits 3 naming the server") {
  std::uint16_t port = 0;
  {
    const TestServer gone;  // its port is free again once it has stopped
    port = gone.port();
  }
  const ClientRun run = run_client(client_args(port));
  CHECK(run.status.value_or(-1) == 3);
  CHECK(contains(run.err, "cannot connect to " + loopback(port)));
}

TEST_CASE("a redirect across a three-server tree is followed without "
          "registering again") {
  // 0 - 1 - 2; clients enter at 0. One logged-in client makes 0 the most
  // loaded server: the client logging in makes its load 2, and the idle
  // servers' 0 is at least 2 lower. (A second LineClient at 0 would itself
  // be redirected for the same reason.)
  auto servers = start_tree(3, [](std::size_t i) { return i - 1; });
  TestServer& entry = *servers[0];
  LineClient resident(entry.port());
  REQUIRE(resident.login());
  REQUIRE(wait_until([&] { return load_of(entry) == 1; }));

  ClientProcess client(client_args(entry.port(), {"-u", "carol"}));
  CAPTURE(client.stderr_text());
  const std::optional<std::string> secret_line = client.read_line();
  REQUIRE(secret_line);
  REQUIRE(json_string(*secret_line, "generated_secret"));

  // It ends up logged in on one of the two idle servers.
  REQUIRE(wait_until([&] {
    return load_of(*servers[1]) + load_of(*servers[2]) == 1;
  }));
  CHECK(wait_until([&] { return load_of(entry) == 1; }));
  const std::size_t landed = load_of(*servers[1]) == 1 ? 1 : 2;
  CHECK(client.wait_stderr("logged in as carol on " +
                           loopback(servers[landed]->port())));
  CHECK(contains(client.stderr_text(),
                 "redirected by " + loopback(entry.port())));
  CHECK(count_of(client.stderr_text(), "registered carol") == 1);

  // An activity sent on another server reaches it...
  resident.send_raw(encode_activity_message("anonymous", std::nullopt,
                                            R"({"via":"entry"})"));
  CHECK(client.read_line() ==
        std::optional<std::string>(R"({"via":"entry","authenticated_user":"anonymous"})"));
  // ...and its own activities reach the other servers.
  client.write_stdin("{\"via\":\"client\"}\n");
  const std::optional<std::string> seen =
      read_activity_with(resident, "client");
  REQUIRE(seen);
  CHECK(*seen == R"({"via":"client","authenticated_user":"carol"})");
  client.close_stdin();
  CHECK(client.wait_exit().value_or(-1) == 0);

  // With no redirect allowed, the same situation is an error (exit 8).
  const ClientRun bounded =
      run_client(client_args(entry.port(), {"--max-redirects", "0"}));
  CHECK(bounded.status.value_or(-1) == 8);
  CHECK(contains(bounded.err, "too many redirects"));
}

}  // namespace activity::test
