// Splits the client's standard input into lines. Unlike the server's
// LineReader, a line over the limit is not fatal here: the user gets told
// and the reader skips to the next '\n', because one bad line in a piped
// file should not end the session. A trailing '\r' is dropped (CRLF input),
// and an unterminated last line at end of input still counts as a line.
#pragma once

#include <cstddef>
#include <string>

namespace activity::client {

class InputReader {
 public:
  enum class Status {
    kLine,      // `line` holds the next line
    kTooLong,   // a line over the limit was (or is being) skipped
    kNeedMore,  // call fill() when the descriptor is readable
    kEnd,       // end of input and every line handed out
  };

  InputReader(int fd, std::size_t max_line_bytes);

  // Reads what is available (one read() call; call it when poll() says the
  // descriptor is readable). At end of input or on a read error, marks the
  // input ended; `error` then holds the reason for a read error.
  void fill(std::string& error);

  Status next(std::string& line);

 private:
  int fd_;
  std::size_t max_line_;
  std::string buffer_;
  std::size_t scanned_ = 0;  // bytes at the front known to hold no '\n'
  bool skipping_ = false;    // dropping the rest of an over-long line
  bool ended_ = false;
};

}  // namespace activity::client
