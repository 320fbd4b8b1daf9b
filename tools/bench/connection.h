// One non-blocking TCP socket with its input and output buffers, and nothing
// about any protocol. Input is read into a buffer that starts small (idle
// clients by the ten thousand must stay cheap) and doubles while reads keep
// filling it; the protocol code looks at input() and consume()s whole frames.
// Output is appended to a string and written by flush() in as few system
// calls as the kernel allows; what does not fit stays for the next flush.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "endpoint.h"

namespace bench {

class Connection {
 public:
  enum class ReadResult { kData, kWouldBlock, kClosed, kError };

  Connection() = default;
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts a non-blocking connect (TCP_NODELAY set). False, with the reason
  // in `error`, if the socket cannot be created or the connect fails at once.
  bool connect_to(const SocketAddress& address, std::string& error);

  // After the socket became writable while connecting: false, with the
  // reason, if the connect failed.
  bool finish_connect(std::string& error);

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // One read() into the input buffer.
  ReadResult read_once(std::string& error);
  std::string_view input() const {
    return std::string_view(in_.data() + in_begin_, in_end_ - in_begin_);
  }
  void consume(std::size_t bytes);

  // Bytes appended here go out on the next flush().
  std::string& output() { return out_; }
  bool output_pending() const { return out_sent_ < out_.size(); }

  // Writes as much pending output as the socket takes. False on a write
  // error (reason in `error`); a full socket is not an error.
  bool flush(std::string& error);

  // Closes the socket and forgets buffered bytes. The input buffer's memory
  // is kept, so views handed out before stay readable until the next read.
  void close();

 private:
  int fd_ = -1;
  std::vector<char> in_;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  bool last_read_filled_ = false;
  std::string out_;
  std::size_t out_sent_ = 0;
};

}  // namespace bench
