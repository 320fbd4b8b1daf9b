// JSON as text (see json_text.h). The walkers rely on the text being valid
// JSON, so a string ends at the first unescaped quote and a scalar at the
// first delimiter; they still stop at the end of the view whatever it holds.
#include "json_text.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace activity {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::size_t skip_space(std::string_view text, std::size_t pos) {
  while (pos < text.size() && is_space(text[pos])) ++pos;
  return pos;
}

// `pos` is at an opening quote; returns the position after the closing one.
std::size_t skip_string(std::string_view text, std::size_t pos) {
  ++pos;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '"') return pos + 1;
    pos += c == '\\' ? 2 : 1;
  }
  return text.size();
}

// `pos` is at the first byte of a value; returns the position after it.
std::size_t skip_value(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return pos;
  const char first = text[pos];
  if (first == '"') return skip_string(text, pos);
  if (first == '{' || first == '[') {
    std::size_t depth = 0;
    while (pos < text.size()) {
      const char c = text[pos];
      if (c == '"') {
        pos = skip_string(text, pos);
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return pos + 1;
      }
      ++pos;
    }
    return pos;
  }
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == ',' || c == '}' || c == ']' || is_space(c)) break;
    ++pos;
  }
  return pos;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool read_hex4(std::string_view text, std::size_t pos, unsigned& out) {
  if (pos + 4 > text.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const int digit = hex_value(text[pos + i]);
    if (digit < 0) return false;
    out = out * 16 + static_cast<unsigned>(digit);
  }
  return true;
}

void append_utf8(std::string& out, unsigned code) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// True if all of `token` is one JSON number (RFC 8259 grammar). Sets
// `integer` when it has neither a fraction nor an exponent.
bool valid_number(std::string_view token, bool& integer) {
  std::size_t pos = 0;
  const std::size_t n = token.size();
  if (pos < n && token[pos] == '-') ++pos;
  if (pos >= n) return false;
  if (token[pos] == '0') {
    ++pos;
  } else if (token[pos] >= '1' && token[pos] <= '9') {
    while (pos < n && is_digit(token[pos])) ++pos;
  } else {
    return false;
  }
  integer = true;
  if (pos < n && token[pos] == '.') {
    integer = false;
    ++pos;
    if (pos >= n || !is_digit(token[pos])) return false;
    while (pos < n && is_digit(token[pos])) ++pos;
  }
  if (pos < n && (token[pos] == 'e' || token[pos] == 'E')) {
    integer = false;
    ++pos;
    if (pos < n && (token[pos] == '+' || token[pos] == '-')) ++pos;
    if (pos >= n || !is_digit(token[pos])) return false;
    while (pos < n && is_digit(token[pos])) ++pos;
  }
  return pos == n;
}

// Whether simdjson represents the valid JSON number `token`: integers in
// [-2^63, 2^64 - 1], floats that do not overflow a double.
bool representable(std::string_view token, bool integer) {
  if (integer) {
    const bool negative = token.front() == '-';
    const std::string_view digits = negative ? token.substr(1) : token;
    const std::string_view limit =
        negative ? "9223372036854775808" : "18446744073709551615";
    if (digits.size() != limit.size()) return digits.size() < limit.size();
    return digits <= limit;
  }
  const std::string copy(token);  // strtod needs a terminator
  return std::isfinite(std::strtod(copy.c_str(), nullptr));
}

bool is_high_surrogate(unsigned code) { return code >= 0xD800 && code <= 0xDBFF; }
bool is_low_surrogate(unsigned code) { return code >= 0xDC00 && code <= 0xDFFF; }

// Copies one string literal, replacing \u escapes of lone surrogates by
// \ufffd (same length). Returns how many it replaced.
std::size_t copy_masking_surrogates(std::string_view literal, std::string& out) {
  std::size_t replaced = 0;
  std::size_t pos = 0;
  bool pending_high = false;  // the escape just copied was a high surrogate
  std::size_t high_at = 0;    // where in `out` it starts
  while (pos < literal.size()) {
    if (literal[pos] != '\\' || pos + 1 >= literal.size()) {
      if (pending_high) {
        out.replace(high_at, 6, "\\ufffd");
        ++replaced;
        pending_high = false;
      }
      out.push_back(literal[pos++]);
      continue;
    }
    unsigned code = 0;
    if (literal[pos + 1] == 'u' && read_hex4(literal, pos + 2, code)) {
      if (is_low_surrogate(code) && pending_high) {
        pending_high = false;  // a proper pair
        out.append(literal.data() + pos, 6);
      } else {
        if (pending_high) {
          out.replace(high_at, 6, "\\ufffd");
          ++replaced;
          pending_high = false;
        }
        if (is_low_surrogate(code)) {
          out += "\\ufffd";
          ++replaced;
        } else {
          if (is_high_surrogate(code)) {
            pending_high = true;
            high_at = out.size();
          }
          out.append(literal.data() + pos, 6);
        }
      }
      pos += 6;
      continue;
    }
    if (pending_high) {
      out.replace(high_at, 6, "\\ufffd");
      ++replaced;
      pending_high = false;
    }
    out.append(literal.data() + pos, 2);  // another escape, kept as it is
    pos += 2;
  }
  return replaced;
}

}  // namespace

JsonMembers::JsonMembers(std::string_view object) : text_(object) {
  pos_ = skip_space(text_, 0);
  if (pos_ < text_.size() && text_[pos_] == '{') ++pos_;
}

bool JsonMembers::next(JsonMember& member) {
  pos_ = skip_space(text_, pos_);
  if (pos_ < text_.size() && text_[pos_] == ',') pos_ = skip_space(text_, pos_ + 1);
  if (pos_ >= text_.size() || text_[pos_] != '"') return false;
  const std::size_t key_end = skip_string(text_, pos_);
  member.key = text_.substr(pos_, key_end - pos_);
  pos_ = skip_space(text_, key_end);
  if (pos_ < text_.size() && text_[pos_] == ':') ++pos_;
  pos_ = skip_space(text_, pos_);
  const std::size_t value_end = skip_value(text_, pos_);
  member.value = text_.substr(pos_, value_end - pos_);
  pos_ = value_end;
  return true;
}

std::string_view find_member(std::string_view object, std::string_view key) {
  JsonMembers members(object);
  JsonMember member;
  while (members.next(member)) {
    if (key_equals(member.key, key)) return member.value;
  }
  return {};
}

bool key_equals(std::string_view quoted, std::string_view key) {
  if (quoted.size() < 2) return false;
  const std::string_view inner = quoted.substr(1, quoted.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return inner == key;
  std::string decoded;
  return decode_json_string(quoted, decoded) && decoded == key;
}

bool decode_json_string(std::string_view quoted, std::string& out) {
  out.clear();
  if (quoted.size() < 2 || quoted.front() != '"' || quoted.back() != '"') {
    return false;
  }
  const std::string_view text = quoted.substr(1, quoted.size() - 2);
  for (std::size_t pos = 0; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++pos >= text.size()) return false;
    switch (text[pos]) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        unsigned code = 0;
        if (!read_hex4(text, pos + 1, code)) return false;
        pos += 4;
        if (code >= 0xD800 && code <= 0xDBFF) {
          unsigned low = 0;
          if (pos + 2 >= text.size() || text[pos + 1] != '\\' ||
              text[pos + 2] != 'u' || !read_hex4(text, pos + 3, low) ||
              low < 0xDC00 || low > 0xDFFF) {
            return false;
          }
          pos += 6;
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (code >= 0xDC00 && code <= 0xDFFF) {
          return false;
        }
        append_utf8(out, code);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

void append_minified(std::string& out, std::string_view value) {
  std::size_t pos = 0;
  while (pos < value.size()) {
    const char c = value[pos];
    if (c == '"') {
      const std::size_t end = skip_string(value, pos);
      out.append(value.data() + pos, end - pos);
      pos = end;
      continue;
    }
    // Copy the run up to the next quote or whitespace in one go.
    std::size_t run = pos;
    while (run < value.size() && value[run] != '"' && !is_space(value[run])) ++run;
    out.append(value.data() + pos, run - pos);
    pos = run;
    while (pos < value.size() && is_space(value[pos])) ++pos;
  }
}

JsonMask mask_for_validation(std::string_view line, std::string& out) {
  JsonMask mask;
  out.clear();
  out.reserve(line.size() + 16);
  char last = '\0';  // the last byte outside strings that was not space
  std::size_t pos = 0;
  while (pos < line.size()) {
    const char c = line[pos];
    if (c == '"') {
      const std::size_t end = skip_string(line, pos);
      mask.masked += copy_masking_surrogates(line.substr(pos, end - pos), out);
      pos = end;
      last = '"';
      continue;
    }
    const bool starts_value = last == '\0' || last == ':' || last == ',' || last == '[';
    if (starts_value && (c == '-' || is_digit(c))) {
      std::size_t end = pos;
      while (end < line.size() &&
             (is_digit(line[end]) || line[end] == '-' || line[end] == '+' ||
              line[end] == '.' || line[end] == 'e' || line[end] == 'E')) {
        ++end;
      }
      const std::string_view token = line.substr(pos, end - pos);
      bool integer = false;
      if (!valid_number(token, integer)) {
        if (!mask.malformed) {
          mask.malformed = true;
          mask.malformed_at = pos;
        }
        out.append(token);
      } else if (representable(token, integer)) {
        out.append(token);
      } else {
        out += "false";
        ++mask.masked;
      }
      pos = end;
      last = '0';
      continue;
    }
    out.push_back(c);
    if (!is_space(c)) last = c;
    ++pos;
  }
  return mask;
}

}  // namespace activity
