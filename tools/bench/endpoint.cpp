// Endpoint parsing and cached name resolution: see endpoint.h.
#include "endpoint.h"

#include <netdb.h>

#include <charconv>
#include <cstring>

namespace bench {

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

bool parse_endpoint(std::string_view text, Endpoint& out) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535 || host.empty()) {
    return false;
  }
  out.host = std::string(host);
  out.port = static_cast<std::uint16_t>(port);
  return true;
}

bool parse_endpoint_list(std::string_view text, std::vector<Endpoint>& out) {
  out.clear();
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    Endpoint endpoint;
    if (!parse_endpoint(item, endpoint)) return false;
    out.push_back(endpoint);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return !out.empty();
}

std::string endpoint_list_to_string(const std::vector<Endpoint>& list) {
  std::string text;
  for (const Endpoint& endpoint : list) {
    if (!text.empty()) text += ',';
    text += endpoint.to_string();
  }
  return text;
}

bool Resolver::resolve(const Endpoint& endpoint, SocketAddress& out, std::string& error) {
  const std::string key = endpoint.to_string();
  if (const auto it = cache_.find(key); it != cache_.end()) {
    out = it->second;
    return true;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  const std::string port = std::to_string(endpoint.port);
  const int rc = getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &results);
  if (rc != 0) {
    error = "cannot resolve " + key + ": " + gai_strerror(rc);
    return false;
  }
  const addrinfo* chosen = results;
  for (const addrinfo* ai = results; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      chosen = ai;
      break;
    }
  }
  SocketAddress address;
  std::memcpy(&address.storage, chosen->ai_addr, chosen->ai_addrlen);
  address.length = chosen->ai_addrlen;
  freeaddrinfo(results);
  cache_[key] = address;
  out = address;
  return true;
}

}  // namespace bench
