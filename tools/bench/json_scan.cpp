// Minimal JSON scanning and string escaping: see json_scan.h.
#include "json_scan.h"

#include <charconv>
#include <cstring>

namespace bench {
namespace {

constexpr std::size_t kNone = std::string_view::npos;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view text, std::size_t i) {
  while (i < text.size() && is_space(text[i])) ++i;
  return i;
}

// `text[start]` is an opening quote. Returns the index just past the closing
// quote, or kNone. A quote preceded by an odd number of backslashes is
// escaped; memchr keeps long strings (the padding) cheap to skip.
std::size_t skip_string(std::string_view text, std::size_t start) {
  std::size_t from = start + 1;
  while (from < text.size()) {
    const void* hit = std::memchr(text.data() + from, '"', text.size() - from);
    if (hit == nullptr) return kNone;
    const std::size_t quote = static_cast<std::size_t>(static_cast<const char*>(hit) - text.data());
    std::size_t backslashes = 0;
    while (quote - backslashes > start + 1 && text[quote - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return quote + 1;
    from = quote + 1;
  }
  return kNone;
}

// Returns the index just past the value starting at `text[start]`, or kNone.
std::size_t skip_value(std::string_view text, std::size_t start) {
  if (start >= text.size()) return kNone;
  const char first = text[start];
  if (first == '"') return skip_string(text, start);
  if (first == '{' || first == '[') {
    int depth = 0;
    std::size_t i = start;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '"') {
        i = skip_string(text, i);
        if (i == kNone) return kNone;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return kNone;
  }
  std::size_t i = start;
  while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ']' &&
         !is_space(text[i])) {
    ++i;
  }
  return i == start ? kNone : i;
}

void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

bool read_hex4(std::string_view text, std::size_t at, std::uint32_t& out) {
  if (at + 4 > text.size()) return false;
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + 4, value, 16);
  if (ec != std::errc() || end != text.data() + at + 4) return false;
  out = value;
  return true;
}

}  // namespace

bool JsonObjectScanner::next(std::string_view& key, std::string_view& raw_value) {
  if (done_ || failed_) return false;
  pos_ = skip_space(text_, pos_);
  if (!started_) {
    started_ = true;
    if (pos_ >= text_.size() || text_[pos_] != '{') return fail();
    pos_ = skip_space(text_, pos_ + 1);
    if (pos_ < text_.size() && text_[pos_] == '}') {
      done_ = true;
      return false;
    }
  } else {
    if (pos_ >= text_.size()) return fail();
    if (text_[pos_] == '}') {
      done_ = true;
      return false;
    }
    if (text_[pos_] != ',') return fail();
    pos_ = skip_space(text_, pos_ + 1);
  }
  if (pos_ >= text_.size() || text_[pos_] != '"') return fail();
  const std::size_t key_end = skip_string(text_, pos_);
  if (key_end == kNone) return fail();
  key = text_.substr(pos_ + 1, key_end - pos_ - 2);
  pos_ = skip_space(text_, key_end);
  if (pos_ >= text_.size() || text_[pos_] != ':') return fail();
  pos_ = skip_space(text_, pos_ + 1);
  const std::size_t value_end = skip_value(text_, pos_);
  if (value_end == kNone) return fail();
  raw_value = text_.substr(pos_, value_end - pos_);
  pos_ = value_end;
  return true;
}

bool json_to_int(std::string_view raw, std::int64_t& out) {
  if (raw.empty()) return false;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value, 10);
  if (ec != std::errc() || end != raw.data() + raw.size()) return false;
  out = value;
  return true;
}

bool json_to_string(std::string_view raw, std::string& out) {
  out.clear();
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return false;
  const std::string_view body = raw.substr(1, raw.size() - 2);
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= body.size()) return false;
    switch (body[i]) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        std::uint32_t code = 0;
        if (!read_hex4(body, i + 1, code)) return false;
        i += 4;
        if (code >= 0xD800 && code < 0xDC00) {
          std::uint32_t low = 0;
          if (i + 2 >= body.size() || body[i + 1] != '\\' || body[i + 2] != 'u' ||
              !read_hex4(body, i + 3, low) || low < 0xDC00 || low >= 0xE000) {
            return false;
          }
          i += 6;
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
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

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace bench
