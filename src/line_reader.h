// Splits a byte stream into protocol lines: on '\n', with a trailing '\r'
// dropped, failing once an unfinished line passes the limit. It owns one
// growable buffer; reads go straight into it and lines are handed out as
// views into it, each followed by at least kParsePadding readable bytes so
// simdjson can parse them in place.
//
// Memory: the buffer is 4 KiB, grows to 64 KiB for a busy peer, and beyond
// that only for one long line, which first reserves what it may grow to
// (the line limit less 64 KiB) from a ByteBudget shared by every
// connection; trim() gives it back once the long line is gone.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace activity {

class ByteBudget;

class LineReader {
 public:
  enum class Status { kLine, kNeedMore, kTooLong };

  // Growth past the busy size draws on `long_lines` (none: unbounded).
  explicit LineReader(std::size_t max_line_bytes,
                      ByteBudget* long_lines = nullptr);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  struct Span {
    char* data;
    // At least 1 unless next() said kTooLong or the long-line budget
    // refused the room (over_budget()).
    std::size_t size;
  };
  // Space to read into, made room for first.
  Span prepare();
  // True if the last prepare() could not grow the buffer for a long line
  // because the budget was spent (the next prepare() tries again).
  bool over_budget() const { return over_budget_; }
  // From now on the buffer grows without drawing on the budget (what it
  // has drawn is given back).
  void exempt_from_budget();
  // Gives back buffer space that buffered data no longer needs: beyond the
  // busy size once a long line is handled, and all but the small size once
  // the buffer is empty and the last read did not fill half of it (the
  // peer is not busy). Call when the lines of a read have been handled.
  void trim();
  // Bytes of buffer held (padding excluded).
  std::size_t capacity() const { return capacity_; }
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
  // Returns false, changing nothing, if the budget refuses the growth.
  bool resize(std::size_t capacity);

  std::size_t max_line_;
  ByteBudget* long_lines_;
  std::size_t charged_ = 0;  // taken from long_lines_
  bool over_budget_ = false;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;  // usable bytes, padding excluded
  std::size_t start_ = 0;     // first byte of the unfinished data
  std::size_t scanned_ = 0;   // bytes from start_ known to hold no '\n'
  std::size_t end_ = 0;       // one past the last byte read
  std::size_t offered_ = 0;    // space the last prepare() offered
  std::size_t last_read_ = 0;  // bytes the last commit() recorded
};

}  // namespace activity
