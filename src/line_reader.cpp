// Line framing (see line_reader.h). The buffer starts small and doubles up
// to the line limit; consumed bytes are reclaimed by moving the unfinished
// tail to the front only when room is needed, so a burst of short lines
// costs no copying. A busy peer, whose reads fill all the space offered,
// gets a larger buffer (up to kBusyBytes) so each read hands the node more
// lines at once; it goes back to the small size once the peer is quiet and
// the buffer is empty, so idle connections stay cheap.
#include "line_reader.h"

#include <cstring>

#include "budget.h"
#include "protocol.h"

namespace activity {
namespace {
constexpr std::size_t kInitialBytes = 4096;
constexpr std::size_t kBusyBytes = 64 * 1024;
}

LineReader::LineReader(std::size_t max_line_bytes, ByteBudget* long_lines)
    : max_line_(max_line_bytes), long_lines_(long_lines) {
  capacity_ = kInitialBytes < max_line_ + 2 ? kInitialBytes : max_line_ + 2;
  buffer_ = std::make_unique<char[]>(capacity_ + kParsePadding);
}

LineReader::~LineReader() {
  if (long_lines_ != nullptr) long_lines_->give_back(charged_);
}

void LineReader::trim() {
  const std::size_t small = std::min(kInitialBytes, max_line_ + 2);
  const std::size_t busy = std::min(kBusyBytes, max_line_ + 2);
  if (end_ == start_ && capacity_ > small && last_read_ < capacity_ / 2) {
    resize(small);
  } else if (capacity_ > busy && end_ - start_ <= busy / 2) {
    resize(busy);
  }
}

void LineReader::exempt_from_budget() {
  if (long_lines_ != nullptr) long_lines_->give_back(charged_);
  long_lines_ = nullptr;
  charged_ = 0;
}

LineReader::Span LineReader::prepare() {
  over_budget_ = false;
  const std::size_t small = std::min(kInitialBytes, max_line_ + 2);
  const std::size_t busy = std::min(kBusyBytes, max_line_ + 2);
  if (last_read_ != 0 && last_read_ == offered_ && capacity_ < busy) {
    resize(std::min(capacity_ * 2, busy));
  } else if (end_ == 0 && capacity_ > small &&
             (capacity_ > busy || last_read_ < small / 2)) {
    // Empty, after a long line or with the peer quiet again.
    resize(small);
  }
  if (end_ == capacity_) make_room();
  offered_ = capacity_ - end_;
  return Span{buffer_.get() + end_, offered_};
}

void LineReader::commit(std::size_t count) {
  last_read_ = count;
  end_ += count;
}

bool LineReader::resize(std::size_t capacity) {
  if (long_lines_ != nullptr) {
    // A long line reserves all it may grow to at once: a line that waits
    // for budget then holds none, so waiting lines can never hold each
    // other up.
    const std::size_t charge =
        capacity > kBusyBytes ? max_line_ + 2 - std::min(max_line_ + 2, kBusyBytes) : 0;
    if (charge > charged_) {
      if (!long_lines_->try_take(charge - charged_)) return false;
    } else {
      long_lines_->give_back(charged_ - charge);
    }
    charged_ = charge;
  }
  auto replaced = std::make_unique<char[]>(capacity + kParsePadding);
  std::memcpy(replaced.get(), buffer_.get() + start_, end_ - start_);
  end_ -= start_;
  start_ = 0;
  buffer_ = std::move(replaced);
  capacity_ = capacity;
  return true;
}

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
  if (!resize(grown)) over_budget_ = true;
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
