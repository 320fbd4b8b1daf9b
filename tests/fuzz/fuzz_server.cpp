// libFuzzer target over the real Server: each input is a script run
// against a fresh server with small limits, over four socketpairs that the
// server adopts as accepted connections (the fourth starts as a server
// link), so that framing, parsing, the node, queueing, slow consumers and
// every close path run together on the server's own threads.
//
// Script: a letter picks the action and the slot (0-3) it acts on.
//   a b c d   send the rest of the line, '\n' included, to slot 0..3
//   e f g h   send the rest of the line without its '\n' (a partial line)
//   A B C D   close slot 0..3 and open a fresh connection in its place
//   p q s t   stop reading slot 0..3 (a slow consumer), until it is closed
//   r         read what every slot has been sent so far
// Other bytes are skipped.
//
// Invariants: every line the server sends parses as a valid message, and
// once every slot is closed the server has no connection, no thread of
// one, no load and no link left, within a bounded time.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "log.h"
#include "protocol.h"
#include "server.h"

namespace {

using namespace activity;
using namespace std::chrono_literals;

void require(bool condition) {
  if (!condition) std::abort();
}

constexpr int kSlots = 4;
constexpr char kSecret[] = "fuzz-secret";

ServerOptions fuzz_options() {
  ServerOptions o;
  o.bind_address = "127.0.0.1";
  o.local_port = 0;
  o.local_host = "127.0.0.1";
  o.secret = kSecret;
  o.announce_interval = 20ms;
  o.lock_timeout = 30ms;
  o.server_timeout = 100ms;
  o.handshake_timeout = 200ms;
  o.line_timeout = 200ms;
  o.write_timeout = 100ms;
  o.linger = 20ms;
  o.max_line_bytes = 2048;
  o.max_depth = 8;
  o.client_queue_bytes = 8 * 1024;
  o.server_queue_bytes = 16 * 1024;
  o.long_line_budget = 0;  // 64 KiB reads are more than a line: no budget
  o.fields.username = 32;
  o.fields.secret = 32;
  o.fields.id = 32;
  o.fields.hostname = 32;
  o.node.max_users = 8;
  o.node.max_known_servers = 4;
  o.node.max_pending_registrations = 3;
  o.node.max_registrations_per_connection = 2;
  o.node.registrations_per_second = 1000;
  return o;
}

// The fuzzer's end of one connection.
class Slot {
 public:
  Slot(Server& server, Parser& checker, bool link) : checker_(checker) {
    int pair[2];
    require(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    const int small = 4096;
    setsockopt(pair[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    fcntl(pair[0], F_SETFL, O_NONBLOCK);
    fd_ = pair[0];
    if (!server.adopt(pair[1], "fuzz")) {
      open_ = false;
      return;
    }
    if (link) send(encode_authenticate(kSecret));
  }
  ~Slot() { close(); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

  // Writes what the socket takes now; a server that has stopped reading
  // (it closed this connection, or its reader waits) loses the rest.
  void send(std::string_view bytes) {
    for (int attempts = 0; open_ && !bytes.empty() && attempts < 50; ++attempts) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return;
      drain();
      std::this_thread::sleep_for(100us);  // let the reader thread catch up
    }
  }

  // Reads and checks every complete line the server has sent.
  void drain() {
    if (!open_ || slow_) return;
    char chunk[8192];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
      if (n <= 0) break;
      pending_.append(chunk, static_cast<std::size_t>(n));
    }
    std::size_t start = 0;
    for (std::size_t end; (end = pending_.find('\n', start)) != std::string::npos;
         start = end + 1) {
      const std::string_view line(pending_.data() + start, end - start);
      require(checker_.parse(line).ok());
    }
    pending_.erase(0, start);
  }

  void stop_reading() { slow_ = true; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    open_ = false;
  }

 private:
  Parser& checker_;
  int fd_ = -1;
  bool open_ = true;
  bool slow_ = false;
  std::string pending_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = (set_log_level(LogLevel::kOff), true);
  (void)quiet;
  Parser checker(ParserOptions{1 << 20, 64, true});
  Server server(fuzz_options());
  server.start();
  std::unique_ptr<Slot> slots[kSlots];
  for (int i = 0; i < kSlots; ++i) {
    slots[i] = std::make_unique<Slot>(server, checker, i == kSlots - 1);
  }
  const std::string_view script(reinterpret_cast<const char*>(data), size);
  std::size_t pos = 0;
  while (pos < script.size()) {
    const char op = script[pos++];
    if ((op >= 'a' && op <= 'h')) {
      const int slot = (op - 'a') % kSlots;
      const bool partial = op >= 'e';
      std::size_t end = script.find('\n', pos);
      const bool has_newline = end != std::string_view::npos;
      if (!has_newline) end = script.size();
      std::string_view bytes = script.substr(pos, end - pos + (has_newline && !partial ? 1 : 0));
      slots[slot]->send(bytes);
      pos = has_newline ? end + 1 : end;
    } else if (op >= 'A' && op <= 'D') {
      const int slot = op - 'A';
      slots[slot] = std::make_unique<Slot>(server, checker, false);
    } else if (op == 'p' || op == 'q' || op == 's' || op == 't') {
      slots[op == 'p' ? 0 : op == 'q' ? 1 : op == 's' ? 2 : 3]->stop_reading();
    } else if (op == 'r') {
      for (auto& slot : slots) slot->drain();
    }
  }
  for (auto& slot : slots) slot->drain();
  for (auto& slot : slots) slot->close();
  // Every connection ends on its own once its peer is gone.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server.live_connection_threads() != 0) {
    require(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(200us);
  }
  const NodeStats stats = server.stats();
  require(stats.connections == 0);
  require(stats.load == 0);
  require(stats.server_links == 0);
  require(stats.known_servers == 0);
  require(server.long_line_bytes_in_use() == 0);
  server.stop();
  return 0;
}
