// JSON as text: what the protocol needs of a line's bytes beyond what
// simdjson's DOM gives. The DOM validates a line and gives typed fields,
// but it re-encodes what it has parsed (1.0E+2 becomes 100.0, -0 becomes 0)
// and refuses numbers it cannot represent; PROTOCOL.md section 1 asks that
// activity content be kept as sent and that any valid JSON number be
// acceptable. So activity members are cut out of the line itself, and a
// line whose only fault is an unrepresentable number is checked on a copy
// in which such numbers are masked.
//
// The walking functions assume text that has already been validated as
// JSON (by simdjson on the line or on its masked copy); they never read
// past the view they are given.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace activity {

// One member of an object, as text: the key with its quotes, and the
// value exactly as written.
struct JsonMember {
  std::string_view key;    // e.g. "\"name\"", escapes as sent
  std::string_view value;  // e.g. "[1, 2]"
};

// Iterates the members of one validated JSON object given as text.
class JsonMembers {
 public:
  explicit JsonMembers(std::string_view object);
  // The next member, or false after the last one.
  bool next(JsonMember& member);

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// The value of member `key` (unescaped name) of a validated object, or an
// empty view when there is none.
std::string_view find_member(std::string_view object, std::string_view key);

// True if the quoted key `quoted` (escapes as sent) names `key`.
bool key_equals(std::string_view quoted, std::string_view key);

// Decodes the JSON string literal `quoted` (with its quotes) into UTF-8.
// Returns false for a malformed literal.
bool decode_json_string(std::string_view quoted, std::string& out);

// Appends validated JSON `value` without the whitespace outside strings.
void append_minified(std::string& out, std::string_view value);

// The outcome of masking what simdjson refuses in valid JSON.
struct JsonMask {
  std::size_t masked = 0;  // numbers and escapes replaced
  bool malformed = false;  // a number token that is not valid JSON
  std::size_t malformed_at = 0;  // its byte offset
};

// Copies `line` into `out`, masking what is valid JSON (RFC 8259's
// grammar) but refused by simdjson: each number it cannot represent (an
// integer outside the 64-bit ranges, a float beyond the double range)
// becomes `false`, a value of another type, so that a field which must be
// a number or a string is still refused and nesting is unchanged; and each
// \u escape of a lone surrogate becomes \ufffd. Only number tokens and
// escapes are looked at; the copy is for validation only.
JsonMask mask_for_validation(std::string_view line, std::string& out);

}  // namespace activity
