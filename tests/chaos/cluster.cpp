// A network of server processes for the failure tests (see cluster.h).
#include "cluster.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "server_process.h"
#include "tcp.h"

namespace activity::test {

std::string activity_id(const std::string& activity) {
  const std::string marker = "\"id\":\"";
  const std::size_t at = activity.find(marker);
  if (at == std::string::npos) return {};
  const std::size_t start = at + marker.size();
  const std::size_t end = activity.find('"', start);
  return end == std::string::npos ? std::string() : activity.substr(start, end - start);
}

std::string ip_path() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return {};
}

int connect_in_netns(const std::string& netns, const std::string& host,
                     std::uint16_t port) {
  int fd = -1;
  std::thread inside([&] {
    const int ns = ::open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) return;
    const bool entered = setns(ns, CLONE_NEWNET) == 0;
    ::close(ns);
    if (!entered) return;
    std::string error;
    fd = connect_tcp(host, port, 1000ms, error);
  });
  inside.join();
  return fd;
}

Cluster::Cluster(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {}

Cluster::~Cluster() {
  for (ClusterServer& server : servers_) {
    if (server.frozen && server.process) server.process->send_signal(SIGCONT);
    server.listener.reset();
    server.process.reset();  // SIGKILL and reap
  }
}

bool Cluster::start(std::size_t index, std::optional<std::size_t> parent,
                    std::string* why, const std::vector<std::string>& wrapper) {
  if (index == servers_.size()) servers_.emplace_back();
  ClusterServer& server = servers_.at(index);
  std::vector<std::string> args = {
      "-lp", std::to_string(server.port), "--bind", server.host, "-lh", server.host,
      "-a", "100", "-s", kClusterSecret, "--log-level",
      std::getenv("CHAOS_LOG") != nullptr ? std::getenv("CHAOS_LOG") : "info"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  if (parent) {
    const ClusterServer& up = servers_.at(*parent);
    args.insert(args.end(), {"-rh", up.host, "-rp", std::to_string(up.port)});
  }
  std::string program = server_path();
  if (!server.netns.empty() && wrapper.empty()) {
    return start(index, parent, why, {ip_path(), "netns", "exec", server.netns});
  }
  if (!wrapper.empty()) {
    args.insert(args.begin(), program);
    args.insert(args.begin(), wrapper.begin() + 1, wrapper.end());
    program = wrapper.front();
  }
  server.frozen = false;
  server.seen.clear();
  server.process = std::make_unique<ChildProcess>(program, args);
  const bool listening = server.process->wait_stderr("listening on port", 10000ms);
  const std::optional<std::uint16_t> port =
      listening ? logged_port(server.process->stderr_text()) : std::nullopt;
  if (!port) {
    if (why != nullptr) *why = server.process->stderr_text();
    server.process.reset();
    return false;
  }
  server.port = *port;
  return true;
}

void Cluster::add_slot(const std::string& host, const std::string& netns) {
  servers_.emplace_back();
  servers_.back().host = host;
  servers_.back().netns = netns;
}

void Cluster::kill(std::size_t index) {
  ClusterServer& server = servers_.at(index);
  server.listener.reset();
  if (!server.process) return;
  server.process->send_signal(SIGKILL);
  server.process->wait_exit();
  server.process.reset();
  server.frozen = false;
}

void Cluster::freeze(std::size_t index) {
  ClusterServer& server = servers_.at(index);
  server.process->send_signal(SIGSTOP);
  server.frozen = true;
}

void Cluster::thaw(std::size_t index) {
  ClusterServer& server = servers_.at(index);
  server.process->send_signal(SIGCONT);
  server.frozen = false;
}

bool Cluster::listen(std::size_t index, Millis timeout) {
  ClusterServer& server = servers_.at(index);
  return wait_until(
      [&] {
        server.listener.reset();
        if (!server.netns.empty()) {
          const int fd = connect_in_netns(server.netns, server.host, server.port);
          if (fd < 0) return false;
          server.listener = LineClient::adopt(fd);
        } else {
          try {
            server.listener = std::make_unique<LineClient>(server.port, server.host);
          } catch (const std::exception&) {
            return false;
          }
        }
        if (!server.listener->login()) return false;
        // Kept, not redirected: no REDIRECT follows the LOGIN_SUCCESS.
        std::optional<Message> next = server.listener->read_message(50ms);
        if (next && next->command == Command::kRedirect) return false;
        return !server.listener->wait_closed(0ms);
      },
      timeout);
}

std::string Cluster::logs(std::size_t bytes) {
  std::string out;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    ClusterServer& server = servers_[i];
    if (!server.process) continue;
    if (!server.frozen) server.process->wait_stderr("\x01", 100ms);  // collects it
    const std::string& text = server.process->stderr_text();
    out += "--- server " + std::to_string(i) + " (port " + std::to_string(server.port) +
           (server.frozen ? ", frozen" : "") + ")\n" +
           text.substr(text.size() > bytes ? text.size() - bytes : 0);
  }
  return out;
}

std::vector<std::size_t> Cluster::live() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (servers_[i].live()) out.push_back(i);
  }
  return out;
}

void Cluster::read_listener(ClusterServer& server, Millis timeout,
                            const std::string& probe_prefix,
                            std::map<std::size_t, std::set<std::string>>* heard,
                            std::size_t index) {
  if (!server.listener) return;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<Millis>(
        deadline - std::chrono::steady_clock::now());
    std::optional<Message> message = server.listener->read_message(std::max(left, 0ms));
    if (!message) {
      if (server.listener->wait_closed(0ms)) server.listener.reset();
      return;
    }
    if (message->command != Command::kActivityBroadcast) continue;
    const std::string id = activity_id(message->activity);
    ++received_;
    if (!server.seen.insert(id).second) duplicates_.push_back(id);
    if (heard != nullptr && id.rfind(probe_prefix, 0) == 0) {
      (*heard)[index].insert(id.substr(id.rfind('-') + 1));
    }
    if (left.count() <= 0) timeout = 0ms;
  }
}

void Cluster::drain(Millis period) {
  const auto until = std::chrono::steady_clock::now() + period;
  while (std::chrono::steady_clock::now() < until) {
    bool any = false;
    for (ClusterServer& server : servers_) {
      if (!server.listener) continue;
      any = true;
      read_listener(server, 5ms, {}, nullptr, 0);
    }
    if (!any) return;
  }
}

bool Cluster::one_tree(Millis timeout, std::string* missing) {
  const std::string prefix = "probe-" + std::to_string(++probe_round_) + "-";
  std::map<std::size_t, std::set<std::string>> heard;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t round = 0;
  for (;;) {
    const std::vector<std::size_t> up = live();
    // Every live server has a listener; one lost since is logged in again.
    for (std::size_t i : up) {
      if (!servers_[i].listener) listen(i, 1000ms);
    }
    ++round;
    for (std::size_t i : up) {
      if (!servers_[i].listener) continue;
      servers_[i].listener->send_raw(encode_activity_message(
          "anonymous", std::nullopt,
          "{\"id\":\"" + prefix + std::to_string(round) + "-" + std::to_string(i) + "\"}"));
    }
    const auto round_end = std::chrono::steady_clock::now() + 300ms;
    while (std::chrono::steady_clock::now() < round_end) {
      for (std::size_t i : up) read_listener(servers_[i], 10ms, prefix, &heard, i);
    }
    std::string absent;
    for (std::size_t listener : up) {
      for (std::size_t sender : up) {
        if (heard[listener].count(std::to_string(sender)) == 0) {
          absent += " " + std::to_string(listener) + "<-" + std::to_string(sender);
        }
      }
    }
    if (absent.empty()) return true;
    if (std::chrono::steady_clock::now() >= deadline) {
      if (missing != nullptr) *missing = "not heard (listener<-sender):" + absent;
      return false;
    }
  }
}

}  // namespace activity::test
