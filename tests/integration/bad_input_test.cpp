// Bad input over real sockets: every rule of PROTOCOL.md section 2 answered
// with the right message, readable before the close, while the other
// connections, stored users, pending registrations, known servers and the
// tree links carry on untouched. Also the server's own limits: line length,
// handshake and line timeouts, connection count, and IPv6.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "test_support.h"

using namespace activity;
using namespace activity::test;

namespace {

struct BadCase {
  std::string name;
  std::vector<std::string> lines;  // sent in order on a fresh connection
  Command reply;
  std::string info;  // exact info of the reply, or "" to skip the check
};

const std::string kLogin = "{\"command\":\"LOGIN\",\"username\":\"anonymous\"}";

std::vector<BadCase> bad_cases(const std::string& secret) {
  const std::string auth = "{\"command\":\"AUTHENTICATE\",\"secret\":\"" + secret + "\"}";
  return {
      {"not JSON", {"hello"}, Command::kInvalidMessage, ""},
      {"truncated JSON", {"{\"command\":\"LOGIN\""}, Command::kInvalidMessage, ""},
      {"not UTF-8", {"{\"command\":\"LOGIN\",\"username\":\"\xc3\x28\"}"},
       Command::kInvalidMessage, "line is not valid UTF-8"},
      {"top level array", {"[]"}, Command::kInvalidMessage,
       "message must be a JSON object"},
      {"no command", {"{\"username\":\"x\"}"}, Command::kInvalidMessage,
       "message has no 'command' field"},
      {"command not a string", {"{\"command\":1}"}, Command::kInvalidMessage,
       "field 'command' must be a string"},
      {"unknown command", {"{\"command\":\"FOO\"}"}, Command::kInvalidMessage,
       "unknown command 'FOO'"},
      {"too deep",
       {"{\"command\":\"LOGOUT\",\"x\":" + std::string(80, '[') +
        std::string(80, ']') + "}"},
       Command::kInvalidMessage, "JSON nesting exceeds the limit of 64 levels"},
      {"LOGIN without username", {"{\"command\":\"LOGIN\"}"},
       Command::kInvalidMessage, "LOGIN: missing field 'username'"},
      {"LOGIN without secret",
       {"{\"command\":\"LOGIN\",\"username\":\"bob\"}"}, Command::kInvalidMessage,
       "LOGIN: missing field 'secret'"},
      {"REGISTER with empty secret",
       {"{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"\"}"},
       Command::kInvalidMessage, "REGISTER: field 'secret' must not be empty"},
      {"server announce unauthenticated",
       {"{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"x\",\"load\":0,\"hostname\":\"h\",\"port\":1}"},
       Command::kInvalidMessage,
       "SERVER_ANNOUNCE on an unauthenticated connection (server-only message)"},
      {"broadcast from a client",
       {kLogin, "{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{\"authenticated_user\":\"a\"}}"},
       Command::kInvalidMessage,
       "ACTIVITY_BROADCAST on a client connection (server-only message)"},
      {"lock request unauthenticated",
       {"{\"command\":\"LOCK_REQUEST\",\"username\":\"u\",\"secret\":\"s\"}"},
       Command::kInvalidMessage, ""},
      {"wrong server secret", {"{\"command\":\"AUTHENTICATE\",\"secret\":\"no\"}"},
       Command::kAuthenticationFail, "the supplied server secret is incorrect"},
      {"AUTHENTICATE twice", {auth, auth}, Command::kInvalidMessage,
       "AUTHENTICATE on an already authenticated server link"},
      {"AUTHENTICATE on a client", {kLogin, auth}, Command::kInvalidMessage,
       "AUTHENTICATE on a client connection"},
      {"LOGIN on a server link", {auth, kLogin}, Command::kInvalidMessage,
       "LOGIN on a server link"},
      {"LOGOUT on a server link", {auth, "{\"command\":\"LOGOUT\"}"},
       Command::kInvalidMessage, "LOGOUT on a server link"},
      {"bad announce load on a link",
       {auth, "{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"x\",\"load\":-1,\"hostname\":\"h\",\"port\":1}"},
       Command::kInvalidMessage,
       "SERVER_ANNOUNCE: field 'load' must be a non-negative integer"},
      {"broadcast without authenticated_user on a link",
       {auth, "{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{}}"},
       Command::kInvalidMessage,
       "ACTIVITY_BROADCAST: activity must have a string 'authenticated_user'"},
      {"LOGIN twice", {kLogin, kLogin}, Command::kInvalidMessage,
       "LOGIN while already logged in"},
      {"REGISTER after login",
       {kLogin, "{\"command\":\"REGISTER\",\"username\":\"zed\",\"secret\":\"s\"}"},
       Command::kInvalidMessage, "REGISTER after login on this connection"},
      {"activity before login",
       {"{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\",\"activity\":{}}"},
       Command::kAuthenticationFail, "ACTIVITY_MESSAGE before logging in"},
      {"activity as someone else",
       {kLogin, "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"keeper\",\"secret\":\"k\",\"activity\":{}}"},
       Command::kAuthenticationFail, "username does not match the logged-in user"},
      {"activity not an object",
       {kLogin, "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\",\"activity\":5}"},
       Command::kInvalidMessage, "ACTIVITY_MESSAGE: field 'activity' must be an object"},
      {"login unknown user",
       {"{\"command\":\"LOGIN\",\"username\":\"nobody\",\"secret\":\"s\"}"},
       Command::kLoginFailed, "user nobody is not registered"},
      {"register anonymous",
       {"{\"command\":\"REGISTER\",\"username\":\"anonymous\",\"secret\":\"s\"}"},
       Command::kRegisterFailed, "anonymous cannot be registered"},
      {"register a taken name",
       {"{\"command\":\"REGISTER\",\"username\":\"keeper\",\"secret\":\"other\"}"},
       Command::kRegisterFailed, "keeper is already registered with the system"},
      {"a reply sent to the server",
       {"{\"command\":\"LOGIN_SUCCESS\",\"info\":\"x\"}"}, Command::kInvalidMessage,
       "unexpected command 'LOGIN_SUCCESS' on an unauthenticated connection"},
  };
}

}  // namespace

TEST_CASE("every bad input gets its answer and harms nothing else") {
  // Long lock and server timeouts keep the deliberately stuck round below
  // pending, and its silent server known, for the whole test.
  ServerOptions options = test_server_options();
  options.lock_timeout = 120000ms;
  options.server_timeout = 120000ms;
  TestServer parent(options);
  auto child = TestServer::joining(parent, test_server_options());
  REQUIRE(wait_until([&] { return parent.server().stats().known_servers == 1; }));
  Server& server = parent.server();

  LineClient keeper(parent.port());
  REQUIRE(keeper.register_user("keeper", "k"));
  REQUIRE(keeper.login("keeper", "k"));
  LineClient watcher(child->port());
  REQUIRE(watcher.login());
  // A registration left pending: its lock round waits on a known server
  // that never answers (a fake link announcing a server id).
  LineClient fake_link(parent.port());
  fake_link.send_line("{\"command\":\"AUTHENTICATE\",\"secret\":\"test-secret\"}");
  fake_link.send_line("{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"silent\",\"load\":"
                      "9,\"hostname\":\"127.0.0.1\",\"port\":1}");
  REQUIRE(wait_until([&] { return server.stats().known_servers == 2; }));
  LineClient waiting(parent.port());
  waiting.send_raw(encode_register("pending-user", "p"));
  REQUIRE(wait_until([&] { return server.stats().pending_registrations == 1; }));
  std::vector<TestServer*> pair{&parent, child.get()};
  REQUIRE(wait_loads_settled(pair));
  const NodeStats before = server.stats();

  int tried = 0;
  for (const BadCase& bad : bad_cases("test-secret")) {
    CAPTURE(bad.name);
    LineClient offender(parent.port());
    for (const std::string& line : bad.lines) offender.send_line(line);
    std::optional<Message> reply = offender.read_until(bad.reply);
    REQUIRE(reply);
    if (!bad.info.empty()) CHECK(reply->info == bad.info);
    CHECK(offender.wait_closed());
    ++tried;

    // Everything else is as it was, and still works.
    CHECK(wait_until([&] { return server.stats().connections == before.connections; }));
    const NodeStats after = server.stats();
    CHECK(after.load == before.load);
    CHECK(after.users == before.users);
    CHECK(after.pending_registrations == 1);
    CHECK(after.known_servers == before.known_servers);
    CHECK(after.server_links == before.server_links);
    CHECK(server.stored_secret("keeper") == std::optional<std::string>("k"));
  }
  CHECK(tried == static_cast<int>(bad_cases("").size()));

  keeper.send_raw(encode_activity_message("keeper", std::string_view("k"),
                                          "{\"still\":\"alive\"}"));
  CHECK(keeper.read_until(Command::kActivityBroadcast));
  std::optional<Message> relayed = watcher.read_until(Command::kActivityBroadcast);
  REQUIRE(relayed);
  CHECK(relayed->username == "keeper");
}

TEST_CASE("lines are framed by newline, CR LF accepted, blank lines skipped") {
  TestServer server;
  LineClient client(server.port());
  client.send_raw("\r\n   \n\t\r\n{\"command\":\"LOGIN\",");
  client.send_raw("\"username\":\"anonymous\"}\r\n");
  std::optional<Message> reply = client.read_message();
  REQUIRE(reply);
  CHECK(reply->command == Command::kLoginSuccess);
}

TEST_CASE("a line over the limit: INVALID_MESSAGE naming the limit, then close") {
  ServerOptions options = test_server_options();
  options.max_line_bytes = 4096;
  TestServer server(options);
  LineClient bystander(server.port());
  REQUIRE(bystander.login());
  LineClient client(server.port());
  client.send_raw("{\"command\":\"LOGIN\",\"username\":\"" + std::string(5000, 'a'));
  std::optional<Message> reply = client.read_message();
  REQUIRE(reply);
  CHECK(reply->command == Command::kInvalidMessage);
  CHECK(reply->info == "line exceeds the limit of 4096 bytes");
  CHECK(client.wait_closed());
  CHECK(server.server().stats().load == 1);
}

TEST_CASE("handshake and line timeouts close idle and stalled connections") {
  ServerOptions options = test_server_options();
  options.handshake_timeout = 300ms;
  options.line_timeout = 300ms;
  TestServer server(options);
  LineClient silent(server.port());
  std::optional<Message> reply = silent.read_message(3000ms);
  REQUIRE(reply);
  CHECK(reply->command == Command::kInvalidMessage);
  CHECK(reply->info == "no message within the handshake timeout of 300 ms");
  CHECK(silent.wait_closed());

  LineClient loris(server.port());
  REQUIRE(loris.login());
  loris.send_raw("{\"command\":\"ACTIVITY_MESS");
  reply = loris.read_message(3000ms);
  REQUIRE(reply);
  CHECK(reply->info == "line not completed within 300 ms");
  CHECK(loris.wait_closed());

  // A logged-in client that is merely quiet is not a stall.
  LineClient quiet(server.port());
  REQUIRE(quiet.login());
  CHECK_FALSE(quiet.read_line(600ms).has_value());
  CHECK(server.server().stats().load == 1);
}

TEST_CASE("connections over the limit get one line and are closed") {
  ServerOptions options = test_server_options();
  options.max_connections = 3;
  TestServer server(options);
  std::vector<std::unique_ptr<LineClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<LineClient>(server.port()));
    REQUIRE(held.back()->login());
  }
  LineClient extra(server.port());
  std::optional<Message> reply = extra.read_message();
  REQUIRE(reply);
  CHECK(reply->command == Command::kInvalidMessage);
  CHECK(reply->info == "server is at its connection limit");
  CHECK(extra.wait_closed());
  // The others carry on; a freed place can be used again.
  held[0]->send_raw(encode_activity_message("anonymous", std::nullopt, "{}"));
  for (auto& client : held) CHECK(client->read_until(Command::kActivityBroadcast));
  held.pop_back();
  CHECK(wait_until([&] { return server.server().live_connection_threads() == 2; }));
  LineClient again(server.port());
  CHECK(again.login());
}

TEST_CASE("a server started with the wrong secret learns why and fails") {
  TestServer parent;
  ServerOptions options = test_server_options("wrong-secret");
  options.remote_host = "127.0.0.1";
  options.remote_port = parent.port();
  Server joiner(options);
  joiner.start();
  std::optional<std::string> failure = joiner.wait_for_startup_link(2000ms);
  REQUIRE(failure);
  CHECK(failure->find("AUTHENTICATION_FAIL") != std::string::npos);
  joiner.stop();
  CHECK(parent.server().stats().server_links == 0);
}

TEST_CASE("listening on every interface serves IPv4 and IPv6 clients") {
  ServerOptions options = test_server_options();
  options.bind_address.clear();  // every interface, dual stack
  TestServer server(options);
  LineClient v4(server.port(), "127.0.0.1");
  CHECK(v4.login());
  LineClient v6(server.port(), "::1");
  CHECK(v6.login());
  v6.send_raw(encode_activity_message("anonymous", std::nullopt, "{\"v\":6}"));
  CHECK(v4.read_until(Command::kActivityBroadcast));
}

TEST_CASE("stop closes every connection and joins every thread") {
  auto server = std::make_unique<TestServer>();
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<LineClient>(server->port()));
    if (i % 2 == 0) REQUIRE(clients.back()->login());
  }
  clients.back()->send_raw("{\"command\":\"LOG");  // one mid-line
  REQUIRE(wait_until([&] { return server->server().stats().connections == 20; }));
  server->server().stop();
  CHECK(server->server().live_connection_threads() == 0);
  for (auto& client : clients) CHECK(client->wait_closed());
}
