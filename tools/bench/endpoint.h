// Server addresses: parsing "host:port" and comma-separated lists of them
// from the command line, and turning a host name into a socket address.
// Resolution goes through getaddrinfo, which blocks, so results are cached:
// each distinct name (a server from the command line, or the host named by a
// REDIRECT) is looked up once, and IPv4 is preferred so that "localhost"
// means 127.0.0.1 like the rest of the tooling.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;

  std::string to_string() const;
};

// Parses "host:port" (the last colon separates; "[v6]:port" is accepted).
bool parse_endpoint(std::string_view text, Endpoint& out);

// Parses "host:port,host:port,...". Fails on an empty list or a bad item.
bool parse_endpoint_list(std::string_view text, std::vector<Endpoint>& out);

// Joins a list back into the "host:port,..." form, for reports.
std::string endpoint_list_to_string(const std::vector<Endpoint>& list);

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

class Resolver {
 public:
  // Fills `out` with the address of `endpoint`, or returns false and a
  // description of the failure in `error`.
  bool resolve(const Endpoint& endpoint, SocketAddress& out, std::string& error);

 private:
  std::map<std::string, SocketAddress> cache_;
};

}  // namespace bench
