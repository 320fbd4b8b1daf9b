// Builds the one-line JSON result that scripts read from stdout. Keys are
// flat (no nesting) so that a shell script can pick a field with sed or awk
// without a JSON parser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

class JsonWriter {
 public:
  JsonWriter& field(std::string_view key, std::string_view value);
  JsonWriter& field(std::string_view key, const char* value) {
    return field(key, std::string_view(value));
  }
  JsonWriter& field(std::string_view key, std::int64_t value);
  JsonWriter& field(std::string_view key, std::uint64_t value);
  JsonWriter& field(std::string_view key, int value) {
    return field(key, static_cast<std::int64_t>(value));
  }
  JsonWriter& field(std::string_view key, bool value);
  // A number with `decimals` digits after the point.
  JsonWriter& number(std::string_view key, double value, int decimals);

  // The finished object, without a newline.
  std::string str() const { return text_ + "}"; }

 private:
  void key(std::string_view name);
  std::string text_ = "{";
};

}  // namespace bench
