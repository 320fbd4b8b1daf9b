// A scripted stand-in for a server, for the client's error paths that a
// correct server never takes on its own (INVALID_MESSAGE, a garbage line,
// AUTHENTICATION_FAIL after login, a REDIRECT loop, a REDIRECT after the
// client already sent activities). The test accepts each connection and
// plays the server's side line by line; every wait has a deadline.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "test_support.h"

namespace activity::test {

// One accepted connection, seen from the server's side: a LineClient on
// the accepted socket.
using FakePeer = LineClient;

class FakeServer {
 public:
  FakeServer();  // listens on 127.0.0.1, a free port
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  std::uint16_t port() const { return port_; }
  // The next connection, or nullptr if none arrives in time.
  std::unique_ptr<FakePeer> accept(Millis timeout = kDefaultWait);

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace activity::test
