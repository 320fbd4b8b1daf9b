// Overload and churn over real sockets: a client that stops reading is
// disconnected as a slow consumer (queue limit or write deadline) while
// every other client receives every activity in order; thousands of
// connections that vanish mid-line, mid-registration or while being written
// to leave no thread, descriptor or memory behind; and user secrets never
// reach the log.
#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "log.h"
#include "test_support.h"

using namespace activity;
using namespace activity::test;

namespace {

// Reads one "Name: value" number from /proc/self/status.
long proc_status(const std::string& name) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(name + ":", 0) == 0) return std::stol(line.substr(name.size() + 1));
  }
  return -1;
}

long open_descriptors() {
  long count = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory stream itself
}

void shrink_receive_buffer(int fd) {
  const int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
}

// Closes with a reset (SO_LINGER 0), as a crashed client would.
void reset_close(LineClient& client) {
  linger hard{1, 0};
  setsockopt(client.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  client.close();
}

std::string padded_activity(int sequence, std::size_t pad) {
  return encode_activity_message(
      "anonymous", std::nullopt,
      "{\"seq\":" + std::to_string(sequence) + ",\"pad\":\"" +
          std::string(pad, 'p') + "\"}");
}

// Reads `count` broadcasts and checks they carry seq 0..count-1 in order;
// `progress` counts the ones read so far.
bool receives_in_order(LineClient& client, int count,
                       std::atomic<int>& progress) {
  for (int expected = 0; expected < count; ++expected) {
    std::optional<Message> got = client.read_until(Command::kActivityBroadcast, 20000ms);
    if (!got) return false;
    const std::string key = "\"seq\":" + std::to_string(expected) + ",";
    if (got->activity.find(key) == std::string::npos) return false;
    progress.store(expected + 1);
  }
  return true;
}

void check_slow_consumer_dropped(ServerOptions options) {
  TestServer server(options);
  LineClient slow(server.port());
  shrink_receive_buffer(slow.fd());
  REQUIRE(slow.login());
  LineClient publisher(server.port());
  REQUIRE(publisher.login());
  std::vector<std::unique_ptr<LineClient>> readers;
  for (int i = 0; i < 3; ++i) {
    readers.push_back(std::make_unique<LineClient>(server.port()));
    REQUIRE(readers.back()->login());
  }
  REQUIRE(server.server().stats().load == 5);

  // 3000 activities of about 2 KiB: 6 MiB, far more than the slow client's
  // socket buffers and its queue limit. The publisher never runs more than
  // kWindow activities ahead of the slowest reading client, so however slow
  // the machine, only the client that does not read can fall behind.
  constexpr int kCount = 3000;
  constexpr int kWindow = 32;
  readers.push_back(nullptr);  // a slot standing for the publisher
  std::vector<std::atomic<int>> progress(readers.size());
  std::thread sender([&] {
    for (int i = 0; i < kCount; ++i) {
      const bool kept_up = wait_until(
          [&] {
            for (const std::atomic<int>& read : progress) {
              if (read.load() < i - kWindow) return false;
            }
            return true;
          },
          20000ms);
      if (!kept_up) return;  // the readers report the failure
      publisher.send_raw(padded_activity(i, 2000));
    }
  });
  // Every receiver reads on its own thread, as independent clients would.
  std::vector<char> in_order(readers.size(), 0);
  std::vector<std::thread> reading;
  for (std::size_t i = 0; i < readers.size(); ++i) {
    LineClient& client = readers[i] ? *readers[i] : publisher;
    reading.emplace_back(
        [&, i] { in_order[i] = receives_in_order(client, kCount, progress[i]); });
  }
  sender.join();
  for (std::thread& thread : reading) thread.join();
  for (std::size_t i = 0; i < in_order.size(); ++i) {
    CAPTURE(i);
    CHECK(in_order[i]);
  }
  CHECK(wait_until([&] { return server.server().stats().load == 4; }, 15000ms));
  CHECK(slow.wait_closed(15000ms));
}

}  // namespace

TEST_CASE("a client over its queue limit is dropped; the others get everything") {
  ServerOptions options = test_server_options();
  options.client_queue_bytes = 256 * 1024;
  check_slow_consumer_dropped(options);
}

TEST_CASE("a client that blocks a write past the deadline is dropped") {
  ServerOptions options = test_server_options();
  options.client_queue_bytes = 1ULL << 30;  // only the deadline can act
  options.write_timeout = 500ms;
  check_slow_consumer_dropped(options);
}

TEST_CASE("churn: vanishing connections leave no thread, descriptor or memory") {
  ServerOptions options = test_server_options();
  options.lock_timeout = 200ms;  // rounds left behind end quickly
  options.server_timeout = 600000ms;  // the fake link announces only once
  TestServer server(options);
  // A fake server link whose announced server never answers, so that
  // registrations stay pending until their clients have vanished.
  LineClient fake_link(server.port());
  fake_link.send_line("{\"command\":\"AUTHENTICATE\",\"secret\":\"test-secret\"}");
  fake_link.send_line("{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"mute\",\"load\":"
                      "100,\"hostname\":\"127.0.0.1\",\"port\":1}");
  REQUIRE(wait_until([&] { return server.server().stats().known_servers == 1; }));
  LineClient publisher(server.port());
  REQUIRE(publisher.login());

  const auto settle = [&] {
    return wait_until([&] { return server.server().live_connection_threads() == 2; },
                      20000ms);
  };
  // Warm up allocator pools and thread caches before the baseline.
  for (int i = 0; i < 200; ++i) {
    LineClient client(server.port());
    client.send_line("{\"command\":\"LOGIN\",\"username\":\"anonymous\"}");
  }
  REQUIRE(settle());
  const long threads_before = proc_status("Threads");
  const long fds_before = open_descriptors();
  const long rss_before = proc_status("VmRSS");

  constexpr int kConnections = 4000;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kConnections; ++i) {
    LineClient client(server.port());
    switch (i % 4) {
      case 0:  // gone before saying anything
        break;
      case 1:  // gone mid-line
        client.send_raw("{\"command\":\"LOGIN\",\"user");
        break;
      case 2:  // gone mid-registration
        client.send_raw(encode_register("churn" + std::to_string(i), "s"));
        break;
      case 3:  // gone, with a reset, while broadcasts are being written to it
        REQUIRE(client.login());
        shrink_receive_buffer(client.fd());
        publisher.send_raw(padded_activity(i, 4000));
        // The publisher's own copy: the broadcast has been queued for the
        // client too. Reading it, and the link's copy, keeps the queues of
        // these two long-lived connections empty, so that their backlog is
        // not mistaken for leaked memory.
        REQUIRE(publisher.read_until(Command::kActivityBroadcast));
        REQUIRE(fake_link.read_until(Command::kActivityBroadcast));
        reset_close(client);
        break;
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(elapsed < 120s);
  REQUIRE(settle());
  CHECK(wait_until([&] { return server.server().stats().pending_registrations == 0; },
                   5000ms));
  const long threads_after = proc_status("Threads");
  const long fds_after = open_descriptors();
  const long rss_after = proc_status("VmRSS");
  MESSAGE("churn of ", kConnections, " connections in ",
          std::chrono::duration_cast<Millis>(elapsed).count(), " ms: threads ",
          threads_before, " -> ", threads_after, ", descriptors ", fds_before,
          " -> ", fds_after, ", RSS ", rss_before, " -> ", rss_after, " KiB");
  CHECK(threads_after == threads_before);
  CHECK(fds_after == fds_before);
  // Freed memory may stay in the allocator's pools; growth must not scale
  // with the number of connections (4000 leaked connections would be tens
  // of MiB). Under the sanitizers RSS measures their runtimes instead:
  // AddressSanitizer keeps freed blocks in its quarantine rather than
  // reusing them, and ThreadSanitizer keeps shadow memory and the state of
  // finished threads (about 10 MiB here whether 4,000 or 12,000 connections
  // came and went). The ASan build checks for leaks with LeakSanitizer.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  CHECK(rss_after - rss_before < 8 * 1024);
#endif
  // The server still works and kept its state.
  const NodeStats stats = server.server().stats();
  CHECK(stats.known_servers == 1);
  CHECK(stats.server_links == 1);
  CHECK(stats.load == 1);
  publisher.send_raw(padded_activity(-1, 1));
  CHECK(publisher.read_until(Command::kActivityBroadcast));
}

TEST_CASE("user secrets never appear in the log, even at debug level") {
  const LogLevel saved = log_level();
  set_log_level(LogLevel::kDebug);
  // Capture standard error for the duration of the test.
  std::fflush(stderr);
  char path[] = "/tmp/activity-log-XXXXXX";
  const int capture = mkstemp(path);
  REQUIRE(capture >= 0);
  const int saved_stderr = dup(STDERR_FILENO);
  dup2(capture, STDERR_FILENO);
  {
    auto servers = start_tree(2, [](std::size_t) { return 0; });
    LineClient client(servers[1]->port());
    REQUIRE(client.register_user("erin", "very-private-secret"));
    REQUIRE(client.login("erin", "very-private-secret"));
    LineClient wrong(servers[0]->port());
    CHECK_FALSE(wrong.login("erin", "another-private-secret"));
    client.send_raw(encode_activity_message(
        "erin", std::string_view("very-private-secret"), "{}"));
    CHECK(client.read_until(Command::kActivityBroadcast));
  }
  std::fflush(stderr);
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  set_log_level(saved);
  std::ifstream file(path);
  const std::string logged((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
  close(capture);
  unlink(path);
  CHECK(logged.find("erin") != std::string::npos);  // the log did run
  CHECK(logged.find("very-private-secret") == std::string::npos);
  CHECK(logged.find("another-private-secret") == std::string::npos);
}
