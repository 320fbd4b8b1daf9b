// Splits a byte stream into protocol lines: on '\n', with a trailing '\r'
// dropped, failing once an unfinished line passes the limit. It owns one
// growable buffer; reads go straight into it and lines are handed out as
// views into it, each followed by at least kParsePadding readable bytes so
// simdjson can parse them in place.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace activity {

class LineReader {
 public:
  enum class Status { kLine, kNeedMore, kTooLong };

  explicit LineReader(std::size_t max_line_bytes);

  struct Span {
    char* data;
    std::size_t size;  // at least 1 while next() has not said kTooLong
  };
  // Space to read into, made room for first.
  Span prepare();
  // Records that `count` bytes were written at prepare().data.
  void commit(std::size_t count);

  // The next complete line (without '\n' and a trailing '\r'), kNeedMore,
  // or kTooLong once the current line exceeds the limit. A view stays valid
  // until the next call to prepare() or commit().
  Status next(std::string_view& line);

  // True while bytes of an unfinished line are buffered.
  bool has_partial() const { return end_ > start_; }

 private:
  void make_room();
  // Moves the unfinished data to the front of a new buffer of `capacity`.
  void resize(std::size_t capacity);

  std::size_t max_line_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;  // usable bytes, padding excluded
  std::size_t start_ = 0;     // first byte of the unfinished data
  std::size_t scanned_ = 0;   // bytes from start_ known to hold no '\n'
  std::size_t end_ = 0;       // one past the last byte read
  std::size_t offered_ = 0;    // space the last prepare() offered
  std::size_t last_read_ = 0;  // bytes the last commit() recorded
};

}  // namespace activity
