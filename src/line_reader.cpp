// Line framing (see line_reader.h). The buffer starts small and doubles up
// to the line limit; consumed bytes are reclaimed by moving the unfinished
// tail to the front only when room is needed, so a burst of short lines
// costs no copying.
#include "line_reader.h"

#include <cstring>

#include "protocol.h"

namespace activity {
namespace {
constexpr std::size_t kInitialBytes = 4096;
}

LineReader::LineReader(std::size_t max_line_bytes)
    : max_line_(max_line_bytes) {
  capacity_ = kInitialBytes < max_line_ + 2 ? kInitialBytes : max_line_ + 2;
  buffer_ = std::make_unique<char[]>(capacity_ + kParsePadding);
}

LineReader::Span LineReader::prepare() {
  if (end_ == capacity_) make_room();
  return Span{buffer_.get() + end_, capacity_ - end_};
}

void LineReader::commit(std::size_t count) { end_ += count; }

void LineReader::make_room() {
  const std::size_t pending = end_ - start_;
  if (start_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + start_, pending);
    start_ = 0;
    end_ = pending;
    if (end_ < capacity_) return;
  }
  // The buffer is full of one unfinished line: grow, but never beyond the
  // limit plus the '\r' and '\n' that may end a line of exactly the limit.
  std::size_t grown = capacity_ * 2;
  if (grown > max_line_ + 2) grown = max_line_ + 2;
  if (grown <= capacity_) return;  // next() reports kTooLong
  auto bigger = std::make_unique<char[]>(grown + kParsePadding);
  std::memcpy(bigger.get(), buffer_.get(), end_);
  buffer_ = std::move(bigger);
  capacity_ = grown;
}

LineReader::Status LineReader::next(std::string_view& line) {
  const char* base = buffer_.get() + start_;
  const std::size_t available = end_ - start_;
  const void* newline =
      std::memchr(base + scanned_, '\n', available - scanned_);
  if (newline == nullptr) {
    scanned_ = available;
    // A line of exactly the limit may still be followed by "\r\n".
    if (available > max_line_ + 1) return Status::kTooLong;
    if (available == max_line_ + 1 && base[max_line_] != '\r') {
      return Status::kTooLong;
    }
    return Status::kNeedMore;
  }
  std::size_t length = static_cast<const char*>(newline) - base;
  const std::size_t consumed = length + 1;
  if (length > 0 && base[length - 1] == '\r') --length;
  start_ += consumed;
  scanned_ = 0;
  if (start_ == end_) start_ = end_ = 0;  // cheap reset; data stays valid
  if (length > max_line_) return Status::kTooLong;
  line = std::string_view(base, length);
  return Status::kLine;
}

}  // namespace activity
