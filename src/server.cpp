// Server lifecycle and threads (see server.h). Every connection goes
// through one close path, in serve(): the node forgets it (under the node
// lock), a final reply is flushed and the sending side shut down, the input
// is drained for a short linger so the peer's unread data does not turn the
// close into a reset that would destroy the reply, then the writer is
// joined and the socket closed. The timer thread joins the reader thread
// afterwards.
#include "server.h"

#include <arpa/inet.h>
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

}  // namespace

Server::Server(ServerOptions options)
    : options_(std::move(options)), id_(generate_secret()) {}

Server::~Server() { stop(); }

void Server::start() {
  bind_listener();
  NodeConfig config;
  config.id = id_;
  config.secret = options_.secret;
  config.hostname = options_.local_host;
  config.port = port_;
  config.lock_timeout = options_.lock_timeout;
  config.server_timeout = options_.server_timeout;
  node_ = std::make_unique<NodeState>(std::move(config));
  started_ = true;
  try {
    if (!options_.remote_host.empty()) connect_to_remote();
  } catch (...) {
    stop();
    throw;
  }
  acceptor_ = std::thread([this] { run_acceptor(); });
  timer_ = std::thread([this] { run_timer(); });
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
    const int fd =
        socket(entry->ai_family, entry->ai_socktype | SOCK_CLOEXEC, 0);
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
  admit(fd, peer, true);
}

void Server::admit(int fd, const std::string& peer, bool outgoing) {
  set_socket_options(fd, options_.write_timeout);
  ConnectionLimits limits;
  limits.client_queue_bytes = options_.client_queue_bytes;
  limits.server_queue_bytes = options_.server_queue_bytes;
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard<std::mutex> lock(conns_mutex_);
    const ConnId id = next_id_++;
    conn = std::make_shared<Connection>(id, fd, peer, limits);
    conns_.emplace(id, conn);
    ++open_connections_;
    if (outgoing) startup_link_ = id;
  }
  conn->start_writer();
  {
    std::lock_guard<std::mutex> lock(node_mutex_);
    if (outgoing) {
      // AUTHENTICATE must be the first line on the link.
      conn->deliver(make_payload(encode_authenticate(options_.secret)));
      node_->add_outgoing_link(conn->id(), conn, Clock::now());
    } else {
      node_->add_connection(conn->id(), conn);
    }
  }
  log(LogLevel::kDebug, "connection ", conn->id(), " from ", peer);
  try {
    // The thread gets a plain pointer: conns_ keeps the connection alive
    // until the thread is joined, and a shared_ptr stored in the
    // connection's own Thread would be a reference cycle.
    Connection* raw = conn.get();
    conn->reader_thread().start(kConnectionThreadStack,
                                [this, raw, outgoing] { serve(*raw, outgoing); });
  } catch (const std::exception& error) {
    log(LogLevel::kError, "cannot start a thread for ", peer, ": ",
        error.what());
    {
      std::lock_guard<std::mutex> lock(node_mutex_);
      node_->remove_connection(conn->id());
    }
    conn->finish();
    std::lock_guard<std::mutex> lock(conns_mutex_);
    conns_.erase(conn->id());
    --open_connections_;
  }
}

void Server::serve(Connection& conn, bool outgoing) {
  const ConnId id = conn.id();
  LineReader reader(options_.max_line_bytes);
  Parser parser(ParserOptions{options_.max_line_bytes, options_.max_depth,
                              false});
  const TimePoint accepted = Clock::now();
  bool heard_first = outgoing;
  TimePoint line_started{};
  bool had_partial = false;
  std::string end_reason = "closed by peer";

  auto reject = [&](const std::string& info) {
    std::lock_guard<std::mutex> lock(node_mutex_);
    node_->reject(id, info);
  };

  {
    // Deliveries this thread causes are written when the batch is flushed;
    // it ends (and flushes) before this thread can wait on its own close.
    FlushBatch batch;
    while (!conn.closing()) {
      int timeout = -1;
      if (!heard_first) {
        timeout = poll_millis_until(accepted + options_.handshake_timeout);
      } else if (had_partial) {
        timeout = poll_millis_until(line_started + options_.line_timeout);
      }
      pollfd waiting{conn.fd(), POLLIN, 0};
      const int ready = poll(&waiting, 1, timeout);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {
        reject(!heard_first
                   ? "no message within the handshake timeout of " +
                         std::to_string(options_.handshake_timeout.count()) + " ms"
                   : "line not completed within " +
                         std::to_string(options_.line_timeout.count()) + " ms");
        break;
      }
      const LineReader::Span space = reader.prepare();
      const ssize_t got = recv(conn.fd(), space.data, space.size, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        end_reason = got == 0 ? "closed by peer" : errno_text(errno);
        break;
      }
      reader.commit(static_cast<std::size_t>(got));
      std::string_view line;
      LineReader::Status status = LineReader::Status::kNeedMore;
      while (!conn.closing() &&
             (status = reader.next(line)) == LineReader::Status::kLine) {
        if (is_blank(line)) continue;
        heard_first = true;
        ParseResult parsed = parser.parse(line, true);
        std::lock_guard<std::mutex> lock(node_mutex_);
        if (parsed.ok()) {
          node_->handle(id, *parsed.message, line, Clock::now());
        } else {
          log(LogLevel::kDebug, "connection ", id, " sent a bad line: ",
              printable_sample(line, kLogSampleBytes));
          node_->reject(id, parsed.error);
        }
      }
      if (!conn.closing() && status == LineReader::Status::kTooLong) {
        reject("line exceeds the limit of " +
               std::to_string(options_.max_line_bytes) + " bytes");
      }
      // Written once per read, after the node lock is released.
      batch.flush();
      if (reader.has_partial() && !had_partial) line_started = Clock::now();
      had_partial = reader.has_partial();
    }

    std::lock_guard<std::mutex> lock(node_mutex_);
    node_->remove_connection(id);
  }
  if (conn.closing()) {
    end_reason = conn.close_reason();
    const TimePoint linger_end = Clock::now() + options_.linger;
    if (conn.wait_flushed(Clock::now() + options_.write_timeout)) {
      // Drain what the peer still sends until it closes or the linger ends.
      char sink[4096];
      for (;;) {
        pollfd waiting{conn.fd(), POLLIN, 0};
        if (poll(&waiting, 1, poll_millis_until(linger_end)) <= 0) break;
        const ssize_t got = recv(conn.fd(), sink, sizeof sink, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
      }
    }
  }
  conn.finish();
  log(outgoing ? LogLevel::kInfo : LogLevel::kDebug, "connection ", id, " (",
      conn.peer(), ") closed: ", end_reason);

  std::lock_guard<std::mutex> lock(conns_mutex_);
  if (id == startup_link_ && !startup_link_failure_) {
    startup_link_failure_ = end_reason;
    startup_link_changed_.notify_all();
  }
  finished_.push_back(conns_.at(id));
  --open_connections_;
  timer_wake_.notify_one();
}

std::optional<std::string> Server::wait_for_startup_link(Millis grace) {
  std::unique_lock<std::mutex> lock(conns_mutex_);
  startup_link_changed_.wait_for(lock, grace,
                                 [this] { return startup_link_failure_.has_value(); });
  return startup_link_failure_;
}

void Server::run_acceptor() {
  for (;;) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address),
                           &length, SOCK_CLOEXEC);
    if (stopping_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
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
    admit(fd, peer, false);
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
    {
      std::lock_guard<std::mutex> node_lock(node_mutex_);
      if (now >= next_announce) {
        node_->announce();
        next_announce = now + options_.announce_interval;
      }
      node_->expire(now);
    }
    lock.lock();
  }
}

void Server::reap_finished() {
  std::vector<std::shared_ptr<Connection>> done;
  {
    std::lock_guard<std::mutex> lock(conns_mutex_);
    done.swap(finished_);
  }
  for (const auto& conn : done) conn->reader_thread().join();
  // Only now: live_connection_threads() counts threads not yet joined.
  std::lock_guard<std::mutex> lock(conns_mutex_);
  for (const auto& conn : done) conns_.erase(conn->id());
}

void Server::stop() {
  if (!started_ || stopping_.exchange(true)) return;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(conns_mutex_);
    timer_wake_.notify_all();
  }
  if (timer_.joinable()) timer_.join();
  std::vector<std::shared_ptr<Connection>> all;
  {
    std::lock_guard<std::mutex> lock(conns_mutex_);
    for (const auto& entry : conns_) all.push_back(entry.second);
  }
  for (const auto& conn : all) conn->abort("server stopping");
  for (const auto& conn : all) conn->reader_thread().join();
  {
    std::lock_guard<std::mutex> lock(conns_mutex_);
    conns_.clear();
    finished_.clear();
    open_connections_ = 0;
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  log(LogLevel::kInfo, "server ", id_, " stopped");
}

NodeStats Server::stats() const {
  std::lock_guard<std::mutex> lock(node_mutex_);
  return node_ ? node_->stats() : NodeStats{};
}

std::vector<std::string> Server::known_server_ids() const {
  std::lock_guard<std::mutex> lock(node_mutex_);
  return node_ ? node_->known_server_ids() : std::vector<std::string>{};
}

std::map<std::string, KnownServer> Server::known_servers() const {
  std::lock_guard<std::mutex> lock(node_mutex_);
  return node_ ? node_->known_servers() : std::map<std::string, KnownServer>{};
}

std::optional<std::string> Server::stored_secret(const std::string& user) const {
  std::lock_guard<std::mutex> lock(node_mutex_);
  return node_ ? node_->stored_secret(user) : std::nullopt;
}

std::size_t Server::live_connection_threads() const {
  std::lock_guard<std::mutex> lock(conns_mutex_);
  return conns_.size();
}

}  // namespace activity
