// Encoding and decoding of the stamped activity: see activity_payload.h.
#include "activity_payload.h"

#include <charconv>

#include "json_scan.h"

namespace bench {
namespace {

void append_int(std::string& out, std::int64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

}  // namespace

void append_activity(std::string& out, const ActivityStamp& stamp, std::size_t size) {
  const std::size_t start = out.size();
  out += "{\"p\":";
  append_int(out, stamp.publisher);
  out += ",\"q\":";
  append_int(out, stamp.sequence);
  out += ",\"t\":";
  append_int(out, stamp.sent_ns);
  out += ",\"pad\":\"";
  constexpr std::size_t kClosing = 2;  // the quote and brace after the padding
  const std::size_t used = out.size() - start + kClosing;
  if (size > used) out.append(size - used, 'x');
  out += "\"}";
}

bool parse_activity(std::string_view object_text, ActivityStamp& out) {
  JsonObjectScanner scanner(object_text);
  std::string_view key;
  std::string_view raw;
  bool have_p = false;
  bool have_q = false;
  bool have_t = false;
  while (scanner.next(key, raw)) {
    if (key.size() != 1) continue;
    switch (key[0]) {
      case 'p': have_p = json_to_int(raw, out.publisher); break;
      case 'q': have_q = json_to_int(raw, out.sequence); break;
      case 't': have_t = json_to_int(raw, out.sent_ns); break;
      default: break;
    }
  }
  return !scanner.failed() && have_p && have_q && have_t;
}

}  // namespace bench
