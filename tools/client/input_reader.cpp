// Standard-input line splitting (see input_reader.h). The buffer never holds
// more than one line's limit plus one read, since an over-long line is
// dropped as soon as it passes the limit.
#include "input_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace activity::client {
namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
}

InputReader::InputReader(int fd, std::size_t max_line_bytes)
    : fd_(fd), max_line_(max_line_bytes) {}

void InputReader::fill(std::string& error) {
  if (ended_) return;
  char chunk[kReadChunk];
  for (;;) {
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      error = std::strerror(errno);
      ended_ = true;
      return;
    }
    if (n == 0) {
      ended_ = true;
      return;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return;
  }
}

InputReader::Status InputReader::next(std::string& line) {
  for (;;) {
    const std::size_t newline = buffer_.find('\n', scanned_);
    if (newline == std::string::npos) {
      scanned_ = buffer_.size();
      if (skipping_) {
        buffer_.clear();
        scanned_ = 0;
        if (!ended_) return Status::kNeedMore;
        skipping_ = false;
        return Status::kEnd;
      }
      // Room for a line of exactly the limit followed by "\r".
      if (buffer_.size() > max_line_ + 1) {
        buffer_.clear();
        scanned_ = 0;
        skipping_ = !ended_;
        return Status::kTooLong;
      }
      if (!ended_) return Status::kNeedMore;
      if (buffer_.empty()) return Status::kEnd;
      line.swap(buffer_);  // the last line had no '\n'
      buffer_.clear();
      scanned_ = 0;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.size() > max_line_) return Status::kTooLong;
      return Status::kLine;
    }
    const bool was_skipping = skipping_;
    line.assign(buffer_, 0, newline);
    buffer_.erase(0, newline + 1);
    scanned_ = 0;
    if (was_skipping) {
      // The end of a line already reported as too long.
      skipping_ = false;
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > max_line_) return Status::kTooLong;
    return Status::kLine;
  }
}

}  // namespace activity::client
