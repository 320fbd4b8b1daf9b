// One-line JSON result builder: see json_writer.h.
#include "json_writer.h"

#include <cmath>
#include <cstdio>

#include "json_scan.h"

namespace bench {

void JsonWriter::key(std::string_view name) {
  if (text_.size() > 1) text_ += ',';
  append_json_string(text_, name);
  text_ += ':';
}

JsonWriter& JsonWriter::field(std::string_view name, std::string_view value) {
  key(name);
  append_json_string(text_, value);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, std::int64_t value) {
  key(name);
  text_ += std::to_string(value);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, std::uint64_t value) {
  key(name);
  text_ += std::to_string(value);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, bool value) {
  key(name);
  text_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::number(std::string_view name, double value, int decimals) {
  key(name);
  if (!std::isfinite(value)) {
    text_ += "null";
    return *this;
  }
  char digits[64];
  std::snprintf(digits, sizeof digits, "%.*f", decimals, value);
  text_ += digits;
  return *this;
}

}  // namespace bench
