// Activity validation (see activity_validator.h).
#include "activity_validator.h"

#include "protocol.h"

namespace activity::client {
namespace {

namespace dom = simdjson::dom;

constexpr std::size_t kInitialCapacity = 4096;

const char* type_name(dom::element_type type) {
  switch (type) {
    case dom::element_type::ARRAY: return "an array";
    case dom::element_type::OBJECT: return "an object";
    case dom::element_type::STRING: return "a string";
    case dom::element_type::BOOL: return "a boolean";
    case dom::element_type::NULL_VALUE: return "null";
    default: return "a number";
  }
}

}  // namespace

ActivityValidator::ActivityValidator(std::size_t max_line_bytes,
                                     std::size_t max_depth)
    : max_depth_(max_depth), parser_(max_line_bytes) {
  // The parser grows to fit a longer line and keeps this depth; a failed
  // allocation surfaces as MEMALLOC from parse().
  const simdjson::error_code error =
      parser_.allocate(kInitialCapacity, max_depth_);
  (void)error;
}

std::optional<std::string> ActivityValidator::check(std::string_view line,
                                                    std::string& compact) {
  dom::element root;
  const simdjson::error_code code =
      parser_.parse(line.data(), line.size(), true).get(root);
  if (code != simdjson::SUCCESS) return describe_json_error(code, max_depth_);
  if (root.type() != dom::element_type::OBJECT) {
    return std::string("an activity must be a JSON object, not ") +
           type_name(root.type());
  }
  // The whole line is now known to be one valid object, so minifying the
  // text only drops whitespace between tokens.
  compact.resize(line.size());
  std::size_t length = 0;
  if (simdjson::minify(line.data(), line.size(), compact.data(), length) !=
      simdjson::SUCCESS) {
    compact.assign(line);  // cannot happen for valid JSON; send as typed
    return std::nullopt;
  }
  compact.resize(length);
  return std::nullopt;
}

}  // namespace activity::client
