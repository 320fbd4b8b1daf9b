// Server accept loop and lifecycle (see server.h). A connection's own life
// is in connection.cpp; when it has finished, its reader thread reports so
// (finished()) and the timer thread joins it.
#include "server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "line_reader.h"
#include "log.h"
#include "protocol.h"
#include "secret.h"
#include "tcp.h"

namespace activity {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

std::string peer_name(const sockaddr_storage& address) {
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address),
                  sizeof address, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "unknown";
  }
  std::string name = host;
  if (name.rfind("::ffff:", 0) == 0) name = name.substr(7);
  if (name.find(':') != std::string::npos) name = "[" + name + "]";
  return name + ":" + port;
}

void set_socket_options(int fd, Millis write_timeout) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  timeval timeout{};
  timeout.tv_sec = static_cast<time_t>(write_timeout.count() / 1000);
  timeout.tv_usec =
      static_cast<suseconds_t>((write_timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

// The one line a refused connection gets.
std::string refusal(std::string_view why) {
  return encode_info_message(Command::kInvalidMessage,
                             "server cannot take this connection now: " +
                                 std::string(why));
}

// Sends a refusal on a socket no Connection owns, then closes it.
void refuse_socket(int fd, std::string_view why) {
  const std::string line = refusal(why);
  (void)!send(fd, line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  char sink[4096];
  for (int round = 0; round < 16; ++round) {
    if (recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0) break;
  }
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

}  // namespace

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      id_(generate_secret()),
      long_lines_(options_.long_line_budget) {}

Server::~Server() { stop(); }

void Server::start() {
  bind_listener();
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  NodeConfig config;
  config.id = id_;
  config.secret = options_.secret;
  config.hostname = options_.local_host;
  config.port = port_;
  config.lock_timeout = options_.lock_timeout;
  config.server_timeout = options_.server_timeout;
  config.max_line_bytes = options_.max_line_bytes;
  config.limits = options_.node;
  config.extensions = options_.extensions;
  config.link_timeout = options_.link_timeout;
  config.wake_healer = [this] { wake_healer(); };
  node_ = std::make_unique<GuardedNode>(std::move(config));
  context_.max_line_bytes = options_.max_line_bytes;
  context_.max_depth = options_.max_depth;
  context_.fields = options_.fields;
  context_.client_queue_bytes = options_.client_queue_bytes;
  context_.server_queue_bytes = options_.server_queue_bytes;
  context_.handshake_timeout = options_.handshake_timeout;
  context_.line_timeout = options_.line_timeout;
  context_.write_timeout = options_.write_timeout;
  context_.linger = options_.linger;
  context_.node = node_.get();
  context_.long_lines = &long_lines_;
  context_.long_parses = &long_parses_;
  context_.finished = [this](ConnId id, const std::string& reason) {
    finished(id, reason);
  };
  started_ = true;
  try {
    if (!options_.remote_host.empty()) connect_to_remote();
  } catch (...) {
    stop();
    throw;
  }
  acceptor_ = std::thread([this] { run_acceptor(); });
  timer_ = std::thread([this] { run_timer(); });
  healer_ = std::thread([this] { run_healer(); });
  log(LogLevel::kInfo, "server ", id_, " listening on port ", port_,
      ", announcing ", options_.local_host, ":", port_);
}

void Server::bind_listener() {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  hints.ai_family = options_.bind_address.empty() ? AF_INET6 : AF_UNSPEC;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(options_.local_port);
  const char* node =
      options_.bind_address.empty() ? nullptr : options_.bind_address.c_str();
  int lookup = getaddrinfo(node, service.c_str(), &hints, &found);
  if (lookup != 0 && node == nullptr) {
    hints.ai_family = AF_INET;  // a host without IPv6
    lookup = getaddrinfo(node, service.c_str(), &hints, &found);
  }
  if (lookup != 0) {
    throw std::runtime_error("cannot resolve bind address: " +
                             std::string(gai_strerror(lookup)));
  }
  std::string last_error = "no address";
  for (addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    // Non-blocking: the acceptor polls, so that accept() never waits with
    // the reserve descriptor given up (see refuse_for_descriptors).
    const int fd = socket(entry->ai_family,
                          entry->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last_error = errno_text(errno);
      continue;
    }
    const int one = 1;
    const int zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (entry->ai_family == AF_INET6 && node == nullptr) {
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (bind(fd, entry->ai_addr, entry->ai_addrlen) == 0 &&
        listen(fd, SOMAXCONN) == 0) {
      sockaddr_storage bound{};
      socklen_t length = sizeof bound;
      getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
      port_ = ntohs(bound.ss_family == AF_INET6
                        ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
      listen_fd_ = fd;
      freeaddrinfo(found);
      return;
    }
    last_error = errno_text(errno);
    ::close(fd);
  }
  freeaddrinfo(found);
  throw std::runtime_error("cannot listen on port " + service + ": " +
                           last_error);
}

void Server::connect_to_remote() {
  const std::string peer =
      options_.remote_host + ":" + std::to_string(options_.remote_port);
  std::string error;
  const int fd = connect_tcp(options_.remote_host, options_.remote_port,
                             kConnectTimeout, error);
  if (fd < 0) throw std::runtime_error("cannot connect to " + peer + ": " + error);
  log(LogLevel::kInfo, "connected to ", peer, "; authenticating");
  parent_host_ = options_.remote_host;
  parent_port_ = options_.remote_port;
  if (!admit(fd, peer, Link::kStartup)) {
    throw std::runtime_error("cannot serve the link to " + peer);
  }
}

bool Server::adopt(int fd, const std::string& peer) {
  return admit(fd, peer, Link::kIncoming);
}

bool Server::admit(int fd, const std::string& peer, Link link) {
  const bool outgoing = link != Link::kIncoming;
  set_socket_options(fd, options_.write_timeout);
  std::shared_ptr<Connection> conn;
  bool registered = false;
  try {
    ConnId id = 0;
    {
      std::lock_guard<std::mutex> lock(conns_mutex_);
      id = next_id_++;
    }
    conn = std::make_shared<Connection>(id, fd, peer, context_);
    {
      std::lock_guard<std::mutex> lock(conns_mutex_);
      conns_.emplace(id, conn);
      ++open_connections_;
      if (link == Link::kStartup) startup_link_ = id;
    }
    node_->run([&](NodeState& node) {
      registered = true;
      if (outgoing) {
        // AUTHENTICATE must be the first line on the link.
        conn->deliver(make_payload(
            encode_authenticate(options_.secret, options_.extensions)));
        if (link == Link::kStartup) {
          node.add_outgoing_link(conn->id(), conn, Clock::now());
        } else {
          node.add_joining_link(conn->id(), conn, Clock::now());
        }
      } else {
        node.add_connection(conn->id(), conn);
      }
    });
    conn->start(outgoing);
  } catch (const std::exception& error) {
    // Out of threads (RLIMIT_NPROC, pid_max, a cgroup's pids.max), of
    // descriptors for the eventfd, or of memory: this connection is
    // refused with a reason and every other one goes on.
    const std::string why = error.what();
    log(LogLevel::kWarn, "refusing ", peer, ": ", why);
    if (!conn) {
      refuse_socket(fd, why);
      return false;
    }
    if (registered) {
      node_->run([&](NodeState& node) { node.remove_connection(conn->id()); });
    }
    conn->refuse(refusal(why));
    std::lock_guard<std::mutex> lock(conns_mutex_);
    conns_.erase(conn->id());
    --open_connections_;
    return false;
  }
  log(LogLevel::kDebug, "connection ", conn->id(), " from ", peer);
  return true;
}

void Server::finished(ConnId id, const std::string& reason) {
  std::lock_guard<std::mutex> lock(conns_mutex_);
  if (id == startup_link_ && !startup_link_failure_) {
    startup_link_failure_ = reason;
    startup_link_changed_.notify_all();
  }
  finished_.push_back(conns_.at(id));
  --open_connections_;
  timer_wake_.notify_all();
}

std::optional<std::string> Server::wait_for_startup_link(Millis grace) {
  std::unique_lock<std::mutex> lock(conns_mutex_);
  startup_link_changed_.wait_for(lock, grace,
                                 [this] { return startup_link_failure_.has_value(); });
  return startup_link_failure_;
}

void Server::run_acceptor() {
  for (;;) {
    // Linux's accept() takes a descriptor before it waits for a peer, so it
    // fails at once while descriptors are exhausted: wait for a peer first.
    pollfd waiting{listen_fd_, POLLIN, 0};
    if (poll(&waiting, 1, -1) < 0 && errno != EINTR) {
      log(LogLevel::kError, "poll on the listening socket: ", errno_text(errno));
      return;
    }
    if (stopping_ || !accepting_) return;
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address),
                           &length, SOCK_CLOEXEC);
    if (stopping_ || !accepting_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN ||
          errno == EWOULDBLOCK) {
        continue;
      }
      if (errno == EMFILE || errno == ENFILE) {
        refuse_for_descriptors();
        continue;
      }
      if (errno == ENOBUFS || errno == ENOMEM) {
        log(LogLevel::kError, "accept: ", errno_text(errno),
            "; pausing new connections briefly");
        pollfd pause{listen_fd_, 0, 0};
        poll(&pause, 1, 100);  // back off; not a synchronisation
        continue;
      }
      log(LogLevel::kError, "accept failed: ", errno_text(errno));
      return;
    }
    const std::string peer = peer_name(address);
    std::size_t live = 0;
    {
      std::lock_guard<std::mutex> lock(conns_mutex_);
      live = open_connections_;
    }
    if (live >= options_.max_connections) {
      log(LogLevel::kWarn, "refusing ", peer, ": ", live,
          " connections open (limit ", options_.max_connections, ")");
      const std::string reply = encode_info_message(
          Command::kInvalidMessage, "server is at its connection limit");
      (void)!send(fd, reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
      continue;
    }
    admit(fd, peer, Link::kIncoming);
  }
}

void Server::refuse_for_descriptors() {
  const int error = errno;
  log(LogLevel::kError, "accept: ", errno_text(error),
      "; refusing new connections until descriptors are free");
  if (spare_fd_ >= 0) {
    // The reserve descriptor lets the waiting peer be told why. The
    // listening socket is non-blocking, so this never waits with the
    // reserve given up.
    ::close(spare_fd_);
    spare_fd_ = -1;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) refuse_socket(fd, "the server is out of file descriptors");
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  if (spare_fd_ < 0) {
    pollfd pause{listen_fd_, 0, 0};
    poll(&pause, 1, 100);  // no reserve yet: back off; not a synchronisation
  }
}

void Server::run_timer() {
  TimePoint next_announce = Clock::now() + options_.announce_interval;
  std::unique_lock<std::mutex> lock(conns_mutex_);
  while (!stopping_) {
    const TimePoint tick = Clock::now() + kHousekeepingTick;
    timer_wake_.wait_until(lock, std::min(tick, next_announce), [this] {
      return stopping_.load() || !finished_.empty();
    });
    if (stopping_) break;
    lock.unlock();
    reap_finished();
    const TimePoint now = Clock::now();
    node_->run([&](NodeState& node) {
      if (now >= next_announce) {
        node.announce();
        next_announce = now + options_.announce_interval;
      }
      node.expire(now);
    });
    lock.lock();
  }
}

void Server::reap_finished() {
  std::vector<std::shared_ptr<Connection>> done;
  {
    std::lock_guard<std::mutex> lock(conns_mutex_);
    done.swap(finished_);
  }
  for (const auto& conn : done) conn->join_reader();
  // Only now: live_connection_threads() counts threads not yet joined.
  std::lock_guard<std::mutex> lock(conns_mutex_);
  for (const auto& conn : done) conns_.erase(conn->id());
}

void Server::stop_accepting() {
  accepting_ = false;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  // Closed, not only shut down: a shut-down listener on Linux may still
  // complete handshakes into its backlog.
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
}

void Server::stop() {
  if (!started_ || stopping_.exchange(true)) return;
  stop_accepting();
  {
    std::lock_guard<std::mutex> lock(conns_mutex_);
    timer_wake_.notify_all();
  }
  if (timer_.joinable()) timer_.join();
  wake_healer();
  if (healer_.joinable()) healer_.join();
  std::vector<std::shared_ptr<Connection>> all;
  {
    std::lock_guard<std::mutex> lock(conns_mutex_);
    for (const auto& entry : conns_) all.push_back(entry.second);
  }
  for (const auto& conn : all) conn->abort("server stopping");
  for (const auto& conn : all) conn->join_reader();
  {
    std::lock_guard<std::mutex> lock(conns_mutex_);
    conns_.clear();
    finished_.clear();
    open_connections_ = 0;
  }
  if (spare_fd_ >= 0) {
    ::close(spare_fd_);
    spare_fd_ = -1;
  }
  log(LogLevel::kInfo, "server ", id_, " stopped");
}

NodeStats Server::stats() const {
  if (!node_) return NodeStats{};
  return node_->run([](const NodeState& node) { return node.stats(); });
}

std::vector<std::string> Server::known_server_ids() const {
  if (!node_) return {};
  return node_->run([](const NodeState& node) { return node.known_server_ids(); });
}

std::map<std::string, KnownServer> Server::known_servers() const {
  if (!node_) return {};
  return node_->run([](const NodeState& node) { return node.known_servers(); });
}

std::optional<std::string> Server::stored_secret(const std::string& user) const {
  if (!node_) return std::nullopt;
  return node_->run([&](const NodeState& node) { return node.stored_secret(user); });
}

std::size_t Server::live_connection_threads() const {
  std::lock_guard<std::mutex> lock(conns_mutex_);
  return conns_.size();
}

}  // namespace activity
