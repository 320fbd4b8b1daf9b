// Local validation of an activity typed or piped into the client, before
// anything reaches the server: the line must be exactly one JSON object
// (valid UTF-8, within the nesting limit), checked by simdjson's DOM parser,
// which validates the whole document. The line is validated on its own, not
// spliced into an ACTIVITY_MESSAGE first, so that input such as
// `{"a":1},"command":"LOGIN"` cannot smuggle fields into the envelope.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace activity::client {

class ActivityValidator {
 public:
  // `max_depth`: nesting allowed, the activity object itself being level 1
  // (the same count the server applies to `activity`).
  ActivityValidator(std::size_t max_line_bytes, std::size_t max_depth);

  // On success fills `compact` with the object, whitespace outside strings
  // removed and every other byte (numbers included) exactly as typed, and
  // returns nothing; otherwise returns why the line is not an activity.
  std::optional<std::string> check(std::string_view line,
                                   std::string& compact);

 private:
  std::size_t max_depth_;
  simdjson::dom::parser parser_;
};

}  // namespace activity::client
