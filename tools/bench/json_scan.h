// A tiny JSON scanner for the handful of messages the bench reads. It walks
// the members of one object and hands out each key with the raw bytes of its
// value; raw values are converted to integers or strings only on request, so
// a 4 KiB padding string is skipped with memchr and never copied. It does not
// validate documents fully (the server under test is trusted to send JSON);
// it must be right on well-formed input and fail, never crash or loop, on
// anything else. Encoding needs nothing but string escaping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

class JsonObjectScanner {
 public:
  explicit JsonObjectScanner(std::string_view object_text) : text_(object_text) {}

  // Moves to the next member of the object. Returns false at the end of the
  // object, or on malformed input, in which case failed() becomes true.
  // `key` is the key's text without quotes (escapes left as they are).
  bool next(std::string_view& key, std::string_view& raw_value);

  bool failed() const { return failed_; }

 private:
  bool fail() {
    failed_ = true;
    return false;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  bool started_ = false;
  bool done_ = false;
  bool failed_ = false;
};

// Converts a raw JSON integer (no fraction or exponent) that fits in 64 bits.
bool json_to_int(std::string_view raw, std::int64_t& out);

// Converts a raw JSON string, decoding escapes (\uXXXX to UTF-8).
bool json_to_string(std::string_view raw, std::string& out);

// Appends `text` as a quoted JSON string.
void append_json_string(std::string& out, std::string_view text);

}  // namespace bench
