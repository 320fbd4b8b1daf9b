// Small TCP helpers shared by the server, the client and the tests:
// connecting with a deadline over every address getaddrinfo gives (IPv6 and
// IPv4), sending a whole buffer without SIGPIPE, and turning a deadline
// into a poll() timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "named_limits.h"

namespace activity {

// Connects to `host`:`port`, trying each address in turn for at most
// `timeout` each. Returns a connected, blocking, close-on-exec socket, or
// -1 with a one-line reason in `error`.
int connect_tcp(const std::string& host, std::uint16_t port, Millis timeout,
                std::string& error);

// Writes all of `bytes`, retrying on EINTR and short writes, with
// MSG_NOSIGNAL so a closed peer gives an error, not SIGPIPE. Returns false
// once the socket fails.
bool send_all(int fd, std::string_view bytes);

// Milliseconds from now until `deadline` for poll(): 0 once it has passed,
// rounded up so poll does not wake just before it.
int poll_millis_until(std::chrono::steady_clock::time_point deadline);

}  // namespace activity
