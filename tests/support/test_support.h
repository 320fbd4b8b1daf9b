// Test support shared by the integration tests: an in-process server on
// port 0 that is stopped and joined at teardown, a line-based socket client
// whose every read has a deadline, and polling for a condition with a
// deadline (tests never sleep to synchronise).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol.h"
#include "server.h"

namespace activity::test {

using namespace std::chrono_literals;

inline constexpr Millis kDefaultWait{5000};

// Polls `condition` every few milliseconds until it holds or `timeout`
// passes; returns whether it held.
bool wait_until(const std::function<bool()>& condition,
                Millis timeout = kDefaultWait);

// Options for servers in tests: port 0, fast announces, quiet logs.
ServerOptions test_server_options(const std::string& secret = "test-secret");

// A server started on a free loopback port, stopped on destruction.
class TestServer {
 public:
  explicit TestServer(ServerOptions options = test_server_options());
  ~TestServer();
  // Starts a server that joins `parent`'s network.
  static std::unique_ptr<TestServer> joining(const TestServer& parent,
                                             ServerOptions options);
  std::uint16_t port() const { return server_->port(); }
  Server& server() { return *server_; }
  const Server& server() const { return *server_; }
  const ServerOptions& options() const { return options_; }

 private:
  ServerOptions options_;
  std::unique_ptr<Server> server_;
};

// Builds a tree of `count` servers where server i joins server
// parent_of(i); waits until every server knows every other.
std::vector<std::unique_ptr<TestServer>> start_tree(
    std::size_t count, const std::function<std::size_t(std::size_t)>& parent_of,
    ServerOptions options = test_server_options());

// Waits until every server's table holds every other server with the load
// it really has, so that redirect decisions in a test are predictable.
bool wait_loads_settled(const std::vector<TestServer*>& servers,
                        Millis timeout = kDefaultWait);
bool wait_loads_settled(
    const std::vector<std::unique_ptr<TestServer>>& servers,
    Millis timeout = kDefaultWait);

// A protocol client over a real socket. Every read has a deadline.
class LineClient {
 public:
  explicit LineClient(std::uint16_t port, const std::string& host = "127.0.0.1");
  // Takes over a connected socket (e.g. one a fake server accepted).
  static std::unique_ptr<LineClient> adopt(int connected_fd);
  ~LineClient();
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;

  void send_raw(const std::string& bytes);  // sent exactly as given
  void send_line(const std::string& line);  // '\n' appended
  // The next line, or nothing if the deadline passes or the peer closed.
  std::optional<std::string> read_line(Millis timeout = kDefaultWait);
  // The next line parsed as a message (client-side parser).
  std::optional<Message> read_message(Millis timeout = kDefaultWait);
  // Reads lines until one with `command` arrives (others are discarded).
  std::optional<Message> read_until(Command command,
                                    Millis timeout = kDefaultWait);
  // True once the peer has closed and everything it sent has been read.
  bool wait_closed(Millis timeout = kDefaultWait);
  // Logs in (anonymous when secret is empty); true on LOGIN_SUCCESS.
  bool login(const std::string& username = "anonymous",
             const std::string& secret = "");
  bool register_user(const std::string& username, const std::string& secret,
                     Millis timeout = kDefaultWait);
  void close();
  int fd() const { return fd_; }

 private:
  LineClient();
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
  Parser parser_;
};

}  // namespace activity::test
