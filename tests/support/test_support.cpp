// Test support (see test_support.h).
#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <thread>

#include "log.h"
#include "tcp.h"

namespace activity::test {

bool wait_until(const std::function<bool()>& condition, Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);  // polling interval, not a sync point
  }
}

ServerOptions test_server_options(const std::string& secret) {
  ServerOptions options;
  options.bind_address = "127.0.0.1";
  options.local_port = 0;
  options.local_host = "127.0.0.1";
  options.secret = secret;
  options.announce_interval = 100ms;
  options.lock_timeout = 5000ms;
  options.server_timeout = 5000ms;
  options.linger = 300ms;
  return options;
}

TestServer::TestServer(ServerOptions options)
    : options_(std::move(options)),
      server_(std::make_unique<Server>(options_)) {
  if (log_level() == LogLevel::kInfo) set_log_level(LogLevel::kWarn);
  server_->start();
}

TestServer::~TestServer() { server_->stop(); }

std::unique_ptr<TestServer> TestServer::joining(const TestServer& parent,
                                                ServerOptions options) {
  options.remote_host = "127.0.0.1";
  options.remote_port = parent.port();
  options.secret = parent.options().secret;
  return std::make_unique<TestServer>(std::move(options));
}

std::vector<std::unique_ptr<TestServer>> start_tree(
    std::size_t count,
    const std::function<std::size_t(std::size_t)>& parent_of,
    ServerOptions options) {
  std::vector<std::unique_ptr<TestServer>> servers;
  servers.push_back(std::make_unique<TestServer>(options));
  for (std::size_t i = 1; i < count; ++i) {
    servers.push_back(TestServer::joining(*servers.at(parent_of(i)), options));
  }
  const bool complete = wait_until(
      [&] {
        for (const auto& server : servers) {
          if (server->server().stats().known_servers != count - 1) return false;
        }
        return true;
      },
      10000ms);
  if (!complete) throw std::runtime_error("tree did not converge");
  return servers;
}

bool wait_loads_settled(const std::vector<TestServer*>& servers,
                        Millis timeout) {
  return wait_until(
      [&] {
        for (TestServer* viewer : servers) {
          const auto table = viewer->server().known_servers();
          for (TestServer* other : servers) {
            if (other == viewer) continue;
            auto entry = table.find(other->server().id());
            if (entry == table.end() ||
                entry->second.load != other->server().stats().load) {
              return false;
            }
          }
        }
        return true;
      },
      timeout);
}

bool wait_loads_settled(
    const std::vector<std::unique_ptr<TestServer>>& servers, Millis timeout) {
  std::vector<TestServer*> raw;
  for (const auto& server : servers) raw.push_back(server.get());
  return wait_loads_settled(raw, timeout);
}

LineClient::LineClient()
    : parser_(ParserOptions{kDefaultMaxLineBytes, kDefaultMaxDepth, true}) {}

std::unique_ptr<LineClient> LineClient::adopt(int connected_fd) {
  std::unique_ptr<LineClient> client(new LineClient());
  client->fd_ = connected_fd;
  return client;
}

LineClient::LineClient(std::uint16_t port, const std::string& host)
    : LineClient() {
  sockaddr_storage address{};
  socklen_t length = 0;
  int family = AF_INET;
  if (host.find(':') != std::string::npos) {
    family = AF_INET6;
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr);
    length = sizeof *v6;
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &v4->sin_addr);
    length = sizeof *v4;
  }
  fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 ||
      connect(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    const int error = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("connect failed: " + std::to_string(error));
  }
}

LineClient::~LineClient() { close(); }

void LineClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void LineClient::send_raw(const std::string& bytes) {
  send_all(fd_, bytes);  // a failure means the peer closed; the test reads why
}

void LineClient::send_line(const std::string& line) { send_raw(line + "\n"); }

bool LineClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_ || fd_ < 0) return false;
  const int wait = poll_millis_until(deadline);
  if (wait == 0) return false;
  pollfd waiting{fd_, POLLIN, 0};
  if (poll(&waiting, 1, wait) <= 0) return false;
  char chunk[65536];
  const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::string> LineClient::read_line(Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::size_t end = buffer_.find('\n');
    if (end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 1);
      return line;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<Message> LineClient::read_message(Millis timeout) {
  std::optional<std::string> line = read_line(timeout);
  if (!line) return std::nullopt;
  ParseResult parsed = parser_.parse(*line);
  if (!parsed.ok()) {
    throw std::runtime_error("server sent a bad line: " +
                             printable_sample(*line, 200) + " (" + parsed.error + ")");
  }
  return parsed.message;
}

std::optional<Message> LineClient::read_until(Command command, Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<Millis>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::optional<Message> message = read_message(left);
    if (!message) return std::nullopt;
    if (message->command == command) return message;
  }
}

bool LineClient::wait_closed(Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    if (!fill(deadline) && !eof_) return false;
  }
  return true;
}

bool LineClient::login(const std::string& username, const std::string& secret) {
  send_raw(encode_login(username, secret.empty()
                                      ? std::optional<std::string_view>()
                                      : std::optional<std::string_view>(secret)));
  std::optional<Message> reply = read_message();
  return reply && reply->command == Command::kLoginSuccess;
}

bool LineClient::register_user(const std::string& username,
                               const std::string& secret, Millis timeout) {
  send_raw(encode_register(username, secret));
  std::optional<Message> reply = read_message(timeout);
  return reply && reply->command == Command::kRegisterSuccess;
}

}  // namespace activity::test
