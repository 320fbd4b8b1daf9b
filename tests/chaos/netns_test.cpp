// Failures over network namespaces: each server in its own namespace with
// its own address, all joined by veth pairs to a bridge in a hub
// namespace. A link is cut with `ip link set ... down` (a partition, no
// process dies) and brought back; the tree must heal each way. Needs root
// and iproute2; skips with a message otherwise. Every namespace is the
// test's own (named after its pid) and is deleted at the end.
#include <doctest/doctest.h>

#include <unistd.h>

#include "cluster.h"

namespace activity::test {
namespace {

constexpr std::size_t kServers = 4;

// Runs `ip ARGS...`; true if it exited 0.
bool ip(const std::vector<std::string>& args, std::string* error = nullptr) {
  ChildProcess command(ip_path(), args);
  command.close_stdin();
  const std::optional<int> status = command.wait_exit(10000ms);
  if (error != nullptr) *error = command.stderr_text();
  return status && *status == 0;
}

// The hub namespace with a bridge, and one namespace per server with
// address 10.77.0.(i+1)/24 on a veth whose other end is on the bridge.
class Namespaces {
 public:
  Namespaces() : prefix_("ast" + std::to_string(::getpid() % 100000)) {}
  ~Namespaces() {
    for (const std::string& name : created_) ip({"netns", "del", name});
  }
  std::string hub() const { return prefix_ + "h"; }
  std::string server(std::size_t i) const { return prefix_ + "s" + std::to_string(i); }
  std::string address(std::size_t i) const { return "10.77.0." + std::to_string(i + 1); }
  std::string hub_end(std::size_t i) const { return "b" + std::to_string(i); }

  // Empty on success, else why not.
  std::string build() {
    std::string error;
    if (!add(hub(), error)) return error;
    const std::string h = hub();
    if (!ip({"-n", h, "link", "add", "name", "br0", "type", "bridge"}, &error) ||
        !ip({"-n", h, "link", "set", "br0", "up"}, &error)) {
      return error;
    }
    for (std::size_t i = 0; i < kServers; ++i) {
      const std::string ns = server(i);
      if (!add(ns, error) ||
          !ip({"-n", h, "link", "add", "name", hub_end(i), "type", "veth", "peer", "name", "v0",
               "netns", ns}, &error) ||
          !ip({"-n", h, "link", "set", hub_end(i), "master", "br0"}, &error) ||
          !ip({"-n", h, "link", "set", hub_end(i), "up"}, &error) ||
          !ip({"-n", ns, "addr", "add", address(i) + "/24", "dev", "v0"}, &error) ||
          !ip({"-n", ns, "link", "set", "v0", "up"}, &error)) {
        return error;
      }
    }
    return {};
  }
  bool set_link(std::size_t i, bool up) {
    return ip({"-n", hub(), "link", "set", hub_end(i), up ? "up" : "down"});
  }

 private:
  bool add(const std::string& name, std::string& error) {
    if (!ip({"netns", "add", name}, &error)) return false;
    created_.push_back(name);
    return ip({"-n", name, "link", "set", "lo", "up"}, &error);
  }

  std::string prefix_;
  std::vector<std::string> created_;
};

}  // namespace

TEST_CASE("network namespaces: a partitioned server's side heals, then the whole") {
  if (::geteuid() != 0 || ip_path().empty()) {
    MESSAGE("skipped: network namespaces need root and iproute2's ip");
    return;
  }
  Namespaces namespaces;
  const std::string problem = namespaces.build();
  if (!problem.empty()) {
    MESSAGE("skipped: cannot build network namespaces here: ", problem);
    return;
  }
  // 0 root; 1 and 3 under it; 2 under 1.
  Cluster cluster;
  const std::optional<std::size_t> parents[] = {std::nullopt, 0, 1, 0};
  for (std::size_t i = 0; i < kServers; ++i) {
    std::string why;
    cluster.add_slot(namespaces.address(i), namespaces.server(i));
    REQUIRE_MESSAGE(cluster.start(i, parents[i], &why), why);
  }
  for (std::size_t i = 0; i < kServers; ++i) REQUIRE(cluster.listen(i));
  std::string missing;
  REQUIRE_MESSAGE(cluster.one_tree(10000ms, &missing), missing);
  cluster.drain(2100ms);  // past the start-up grace

  SUBCASE("a server in the middle is cut off, then brought back") {
    REQUIRE(namespaces.set_link(1, false));
    cluster.at(1).cut = true;
    // 2 was below 1: it rejoins through its grandparent 0.
    CHECK_MESSAGE(cluster.one_tree(15000ms, &missing), missing);
    REQUIRE(namespaces.set_link(1, true));
    cluster.at(1).cut = false;
    CHECK_MESSAGE(cluster.one_tree(15000ms, &missing), missing);
  }
  SUBCASE("the root is cut off: its children agree, then take it back") {
    REQUIRE(namespaces.set_link(0, false));
    cluster.at(0).cut = true;
    CHECK_MESSAGE(cluster.one_tree(15000ms, &missing), missing);
    REQUIRE(namespaces.set_link(0, true));
    cluster.at(0).cut = false;
    CHECK_MESSAGE(cluster.one_tree(15000ms, &missing), missing);
  }
  CHECK(cluster.duplicates().empty());
  if (!missing.empty()) MESSAGE(cluster.logs());
}

}  // namespace activity::test
