// Parsing and encoding of protocol lines (see protocol.h). Validation follows
// PROTOCOL.md section 1: the whole line is checked by simdjson's DOM parser
// (UTF-8, syntax, depth) before any field is read, and every required field
// is checked for presence and type, so a Message that comes out is safe to
// act on.
#include "protocol.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>

#include "json_text.h"

namespace activity {
namespace {

namespace dom = simdjson::dom;

struct CommandEntry {
  std::string_view name;
  Command command;
};

constexpr std::array<CommandEntry, 20> kCommands{{
    {"AUTHENTICATE", Command::kAuthenticate},
    {"AUTHENTICATION_FAIL", Command::kAuthenticationFail},
    {"INVALID_MESSAGE", Command::kInvalidMessage},
    {"LOGIN", Command::kLogin},
    {"LOGIN_SUCCESS", Command::kLoginSuccess},
    {"LOGIN_FAILED", Command::kLoginFailed},
    {"LOGOUT", Command::kLogout},
    {"REDIRECT", Command::kRedirect},
    {"REGISTER", Command::kRegister},
    {"REGISTER_SUCCESS", Command::kRegisterSuccess},
    {"REGISTER_FAILED", Command::kRegisterFailed},
    {"ACTIVITY_MESSAGE", Command::kActivityMessage},
    {"ACTIVITY_BROADCAST", Command::kActivityBroadcast},
    {"SERVER_ANNOUNCE", Command::kServerAnnounce},
    {"LOCK_REQUEST", Command::kLockRequest},
    {"LOCK_ALLOWED", Command::kLockAllowed},
    {"LOCK_DENIED", Command::kLockDenied},
    {"ROOT_QUERY", Command::kRootQuery},
    {"ROOT_REPLY", Command::kRootReply},
    {"SERVER_GONE", Command::kServerGone},
}};

// More entries than this in `features` and the field is ignored.
constexpr std::size_t kMaxFeatures = 32;

constexpr std::string_view kAnonymous = "anonymous";
constexpr std::size_t kCommandSampleBytes = 40;
// What a parser allocates at first and after giving memory back.
constexpr std::size_t kMinimumCapacity = 512;
// Entries of duplicate-check scratch kept between reads.
constexpr std::size_t kScratchKeep = 64;

// Reads the fields of one message object, remembering the first problem.
class FieldReader {
 public:
  explicit FieldReader(dom::object object) : object_(object) {}

  const std::string& error() const { return error_; }
  bool failed() const { return !error_.empty(); }

  // A required string of at most `max_bytes`; empty strings are refused
  // when `non_empty`.
  bool string(const char* name, std::string& out, std::size_t max_bytes,
              bool non_empty = false) {
    dom::element value;
    if (!find(name, value)) return false;
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      return fail(std::string("field '") + name + "' must be a string");
    }
    if (non_empty && text.empty()) {
      return fail(std::string("field '") + name + "' must not be empty");
    }
    if (!within(name, text, max_bytes)) return false;
    out.assign(text);
    return true;
  }

  // A string that may be absent; a value of another type counts as absent,
  // since the receiver never requires these (info texts, extensions).
  bool optional_string(const char* name, std::string& out,
                       std::size_t max_bytes = SIZE_MAX) {
    std::string_view text;
    if (failed() || object_[name].get_string().get(text) != simdjson::SUCCESS) {
      return false;
    }
    if (!within(name, text, max_bytes)) return false;
    out.assign(text);
    return true;
  }

  // The `features` extension: whether it lists `feature`. Lenient, like
  // every extension field: anything malformed advertises nothing.
  bool advertises(std::string_view feature) {
    dom::array list;
    if (failed() || object_["features"].get_array().get(list) != simdjson::SUCCESS ||
        list.size() > kMaxFeatures) {
      return false;
    }
    for (dom::element entry : list) {
      std::string_view name;
      if (entry.get_string().get(name) == simdjson::SUCCESS && name == feature) {
        return true;
      }
    }
    return false;
  }

  // A required array of 1 to `max_entries` non-empty strings of at most
  // `max_bytes` each.
  bool string_list(const char* name, std::vector<std::string>& out,
                   std::size_t max_entries, std::size_t max_bytes) {
    dom::element value;
    if (!find(name, value)) return false;
    dom::array list;
    if (value.get_array().get(list) != simdjson::SUCCESS) {
      return fail(std::string("field '") + name + "' must be an array");
    }
    if (list.size() == 0 || list.size() > max_entries) {
      return fail(std::string("field '") + name + "' must have 1 to " +
                  std::to_string(max_entries) + " entries");
    }
    out.clear();
    for (dom::element entry : list) {
      std::string_view text;
      if (entry.get_string().get(text) != simdjson::SUCCESS || text.empty()) {
        return fail(std::string("field '") + name +
                    "' must hold non-empty strings");
      }
      if (!within(name, text, max_bytes)) return false;
      out.emplace_back(text);
    }
    return true;
  }

  bool boolean(const char* name, bool& out) {
    dom::element value;
    if (!find(name, value)) return false;
    if (value.get_bool().get(out) != simdjson::SUCCESS) {
      return fail(std::string("field '") + name + "' must be true or false");
    }
    return true;
  }

  bool non_negative_integer(const char* name, std::uint64_t& out) {
    dom::element value;
    if (!find(name, value)) return false;
    std::int64_t signed_value = 0;
    if (value.type() == dom::element_type::UINT64) {
      out = value.get_uint64().value_unsafe();
      return true;
    }
    if (value.get_int64().get(signed_value) == simdjson::SUCCESS &&
        signed_value >= 0) {
      out = static_cast<std::uint64_t>(signed_value);
      return true;
    }
    return fail(std::string("field '") + name +
                "' must be a non-negative integer");
  }

  bool port(const char* name, std::uint16_t& out) {
    dom::element value;
    if (!find(name, value)) return false;
    std::int64_t number = 0;
    if (value.get_int64().get(number) != simdjson::SUCCESS || number < 1 ||
        number > 65535) {
      return fail(std::string("field '") + name +
                  "' must be an integer from 1 to 65535");
    }
    out = static_cast<std::uint16_t>(number);
    return true;
  }

  bool object(const char* name, dom::object& out) {
    dom::element value;
    if (!find(name, value)) return false;
    if (value.get_object().get(out) != simdjson::SUCCESS) {
      return fail(std::string("field '") + name + "' must be an object");
    }
    return true;
  }

  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

 private:
  bool find(const char* name, dom::element& out) {
    if (failed()) return false;
    if (object_[name].get(out) != simdjson::SUCCESS) {
      return fail(std::string("missing field '") + name + "'");
    }
    if (out.is_null()) {
      return fail(std::string("field '") + name + "' must not be null");
    }
    return true;
  }

  bool within(const char* name, std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) return true;
    return fail(std::string("field '") + name + "' exceeds the limit of " +
                std::to_string(max_bytes) + " bytes");
  }

  dom::object object_;
  std::string error_;
};

// ACTIVITY_MESSAGE processing: every member of the activity as sent (only
// whitespace dropped) but authenticated_user, comma-separated.
void collect_activity_members(std::string_view activity, std::string& out) {
  out.clear();
  out.reserve(activity.size());
  JsonMembers members(activity);
  JsonMember member;
  while (members.next(member)) {
    if (key_equals(member.key, "authenticated_user")) continue;
    if (!out.empty()) out.push_back(',');
    out.append(member.key);
    out.push_back(':');
    append_minified(out, member.value);
  }
}

bool needs_secret(const std::string& username) {
  return username != kAnonymous;
}

// Validates the fields of `command`; fills `message` or reports in `fields`.
// `line` is the line as received, from which activity content is taken.
void read_fields(Command command, FieldReader& fields, Message& message,
                 const ParserOptions& options, std::string_view line) {
  const FieldLimits& limits = options.fields;
  switch (command) {
    case Command::kAuthenticate:
      fields.string("secret", message.secret, limits.secret);
      message.heal = fields.advertises(kHealFeature);
      message.gone = fields.advertises(kGoneFeature);
      break;
    case Command::kAuthenticationFail:
    case Command::kInvalidMessage:
    case Command::kLoginSuccess:
    case Command::kLoginFailed:
    case Command::kRegisterSuccess:
    case Command::kRegisterFailed:
      fields.optional_string("info", message.info);
      break;
    case Command::kLogin:
      if (fields.string("username", message.username, limits.username) &&
          needs_secret(message.username)) {
        message.has_secret =
            fields.string("secret", message.secret, limits.secret);
      }
      break;
    case Command::kLogout:
      break;
    case Command::kRedirect:
      fields.string("hostname", message.hostname, limits.hostname) &&
          fields.port("port", message.port);
      break;
    case Command::kRegister:
      fields.string("username", message.username, limits.username, true) &&
          fields.string("secret", message.secret, limits.secret, true);
      break;
    case Command::kActivityMessage: {
      dom::object activity;
      if (!fields.string("username", message.username, limits.username)) break;
      if (needs_secret(message.username)) {
        message.has_secret =
            fields.string("secret", message.secret, limits.secret);
        if (!message.has_secret) break;
      }
      if (fields.object("activity", activity)) {
        collect_activity_members(find_member(line, "activity"),
                                 message.activity);
      }
      break;
    }
    case Command::kActivityBroadcast: {
      dom::object activity;
      if (!fields.object("activity", activity)) break;
      std::string_view user;
      if (activity["authenticated_user"].get_string().get(user) !=
          simdjson::SUCCESS) {
        fields.fail("activity must have a string 'authenticated_user'");
        break;
      }
      message.username.assign(user);
      if (options.keep_broadcast_activity) {
        message.activity.clear();
        append_minified(message.activity, find_member(line, "activity"));
      }
      break;
    }
    case Command::kServerAnnounce:
      fields.string("id", message.id, limits.id) &&
          fields.non_negative_integer("load", message.load) &&
          fields.string("hostname", message.hostname, limits.hostname) &&
          fields.port("port", message.port);
      message.heal = fields.advertises(kHealFeature);
      message.gone = fields.advertises(kGoneFeature);
      message.has_parent =
          fields.optional_string("parent", message.parent, limits.id);
      break;
    case Command::kRootQuery:
      fields.string("query", message.query, kMaxQueryBytes, true) &&
          fields.non_negative_integer("hops", message.hops);
      break;
    case Command::kRootReply:
      fields.string("query", message.query, kMaxQueryBytes, true) &&
          fields.string("root", message.root, limits.id) &&
          fields.boolean("orphan", message.orphan) &&
          fields.boolean("busy", message.busy);
      break;
    case Command::kServerGone:
      fields.string_list("ids", message.ids, kMaxGoneIds, limits.id);
      break;
    case Command::kLockRequest:
    case Command::kLockAllowed:
    case Command::kLockDenied:
      if (fields.string("username", message.username, limits.username) &&
          fields.string("secret", message.secret, limits.secret)) {
        message.has_server =
            fields.optional_string("server", message.server, limits.id);
      }
      break;
  }
}

// Objects up to this size are checked for duplicate names pairwise.
constexpr std::size_t kPairwiseKeys = 16;

bool has_duplicate(std::vector<std::string_view>& keys,
                   std::string_view& duplicate) {
  if (keys.size() <= kPairwiseKeys) {
    for (std::size_t i = 1; i < keys.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (keys[i] == keys[j]) {
          duplicate = keys[i];
          return true;
        }
      }
    }
    return false;
  }
  std::sort(keys.begin(), keys.end());
  const auto found = std::adjacent_find(keys.begin(), keys.end());
  if (found == keys.end()) return false;
  duplicate = *found;
  return true;
}

// Checks what simdjson does not: that no member name appears twice in one
// object at any depth (PROTOCOL.md section 1), and that containers nest no
// deeper than `max_levels` (simdjson also counts a scalar inside the
// deepest container as a level, so it is given one level more and the
// containers are counted here). Returns the INVALID_MESSAGE info, or an
// empty string. Walks with an explicit stack, since the depth option allows
// more levels than a small thread stack should take.
std::string check_structure(dom::element root, std::size_t max_levels,
                            std::size_t max_depth, std::vector<NestedElement>& stack,
                            std::vector<std::string_view>& keys) {
  stack.clear();
  stack.push_back(NestedElement{root, 1});
  while (!stack.empty()) {
    const NestedElement nested = stack.back();
    stack.pop_back();
    if (nested.level > max_levels) {
      return "JSON nesting exceeds the limit of " + std::to_string(max_depth) + " levels";
    }
    dom::object object;
    dom::array array;
    if (nested.element.get_object().get(object) == simdjson::SUCCESS) {
      keys.clear();
      for (dom::key_value_pair member : object) {
        keys.push_back(member.key);
        if (member.value.is_object() || member.value.is_array()) {
          stack.push_back(NestedElement{member.value, nested.level + 1});
        }
      }
      std::string_view duplicate;
      if (has_duplicate(keys, duplicate)) {
        return "member '" + printable_sample(duplicate, kCommandSampleBytes) +
               "' appears twice in one object";
      }
    } else if (nested.element.get_array().get(array) == simdjson::SUCCESS) {
      for (dom::element value : array) {
        if (value.is_object() || value.is_array()) {
          stack.push_back(NestedElement{value, nested.level + 1});
        }
      }
    }
  }
  return {};
}

void append_field_name(std::string& out, std::string_view name) {
  out.push_back(',');
  append_json_string(out, name);
  out.push_back(':');
}

void append_features(std::string& out) {
  append_field_name(out, "features");
  out.push_back('[');
  append_json_string(out, kHealFeature);
  out.push_back(',');
  append_json_string(out, kGoneFeature);
  out.push_back(']');
}

std::string start_message(Command command) {
  std::string out = "{\"command\":";
  append_json_string(out, command_name(command));
  return out;
}

std::string finish_message(std::string out) {
  out += "}\n";
  return out;
}

}  // namespace

std::string_view command_name(Command command) {
  for (const CommandEntry& entry : kCommands) {
    if (entry.command == command) return entry.name;
  }
  return "UNKNOWN";
}

Parser::Parser(ParserOptions options)
    : options_(options), parser_(options.max_line_bytes) {
  shrink();
}

std::size_t Parser::simdjson_depth() const {
  // The envelope is a level above the activity, and simdjson counts a
  // scalar in the deepest container as one more; check_structure counts
  // containers exactly.
  return options_.max_depth + 2;
}

void Parser::shrink() {
  // A new parser frees the old one's buffers.
  parser_ = dom::parser(options_.max_line_bytes);
  const simdjson::error_code error =
      parser_.allocate(kMinimumCapacity, simdjson_depth());
  (void)error;  // an allocation failure surfaces as MEMALLOC on parse
  if (masked_.capacity() > kParserKeepBytes) std::string().swap(masked_);
  if (keys_.capacity() > kScratchKeep) std::vector<std::string_view>().swap(keys_);
  if (stack_.capacity() > kScratchKeep) std::vector<NestedElement>().swap(stack_);
}

ParseResult Parser::parse(std::string_view line, bool padded) {
  ParseResult result;
  if (line.size() > options_.max_line_bytes) {
    result.error = "line exceeds the limit of " +
                   std::to_string(options_.max_line_bytes) + " bytes";
    return result;
  }
  if (line.size() > parser_.capacity()) {
    // Powers of two: a peer's lines growing byte by byte cost few
    // reallocations.
    std::size_t capacity = kMinimumCapacity;
    while (capacity < line.size()) capacity *= 2;
    if (capacity > options_.max_line_bytes) capacity = options_.max_line_bytes;
    if (parser_.allocate(capacity, simdjson_depth()) != simdjson::SUCCESS) {
      shrink();
      result.error = "server is out of memory for parsing";
      return result;
    }
  }
  dom::element root;
  simdjson::error_code code =
      parser_.parse(line.data(), line.size(), !padded).get(root);
  if (code == simdjson::NUMBER_ERROR || code == simdjson::STRING_ERROR) {
    // Any valid JSON number is acceptable (PROTOCOL.md section 1), and so is
    // any string escape the grammar allows: check the rest of the line on a
    // copy with what simdjson refuses masked, and take the content from the
    // line itself.
    const JsonMask mask = mask_for_validation(line, masked_);
    if (mask.malformed) {
      result.error =
          "malformed JSON number at byte " + std::to_string(mask.malformed_at);
    } else if (mask.masked > 0) {
      const std::size_t size = masked_.size();
      masked_.resize(size + kParsePadding);
      dom::element masked_root;
      // If the copy fails too, the line had another fault: report the
      // line's own error, not one the masking made up.
      if (parser_.parse(masked_.data(), size, false).get(masked_root) ==
          simdjson::SUCCESS) {
        root = masked_root;
        code = simdjson::SUCCESS;
      }
    }
  }
  if (result.error.empty()) {
    if (code == simdjson::SUCCESS) {
      result = read_document(root, line);
    } else {
      result.error = describe_json_error(code, options_.max_depth);
    }
  }
  if (parser_.capacity() > kLongParseBytes) shrink();
  return result;
}

void Parser::trim() {
  if (parser_.capacity() > kParserKeepBytes) {
    shrink();
    return;
  }
  if (masked_.capacity() > kParserKeepBytes) std::string().swap(masked_);
  if (keys_.capacity() > kScratchKeep) std::vector<std::string_view>().swap(keys_);
  if (stack_.capacity() > kScratchKeep) std::vector<NestedElement>().swap(stack_);
}

ParseResult Parser::read_document(dom::element root, std::string_view line) {
  ParseResult result;
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    result.error = "message must be a JSON object";
    return result;
  }
  // The envelope is level 1, the activity object level 2.
  result.error = check_structure(root, options_.max_depth + 1, options_.max_depth,
                                 stack_, keys_);
  if (!result.error.empty()) return result;
  dom::element command_value;
  if (object["command"].get(command_value) != simdjson::SUCCESS) {
    result.error = "message has no 'command' field";
    return result;
  }
  std::string_view command_text;
  if (command_value.get_string().get(command_text) != simdjson::SUCCESS) {
    result.error = "field 'command' must be a string";
    return result;
  }
  const CommandEntry* entry = nullptr;
  for (const CommandEntry& candidate : kCommands) {
    if (candidate.name == command_text) entry = &candidate;
  }
  if (entry == nullptr) {
    result.error = "unknown command '" +
                   printable_sample(command_text, kCommandSampleBytes) + "'";
    return result;
  }
  Message message;
  message.command = entry->command;
  FieldReader fields(object);
  read_fields(entry->command, fields, message, options_, line);
  if (fields.failed()) {
    result.error = std::string(entry->name) + ": " + fields.error();
    return result;
  }
  result.message = std::move(message);
  return result;
}

std::string describe_json_error(simdjson::error_code code,
                                std::size_t max_depth) {
  switch (code) {
    case simdjson::DEPTH_ERROR:
      return "JSON nesting exceeds the limit of " + std::to_string(max_depth) +
             " levels";
    case simdjson::UTF8_ERROR:
      return "line is not valid UTF-8";
    case simdjson::CAPACITY:
      return "line exceeds the size limit";
    case simdjson::EMPTY:
      return "line holds no JSON value";
    case simdjson::NUMBER_ERROR:
      return "JSON number out of range or malformed";
    default:
      return std::string("JSON parse error: ") + simdjson::error_message(code);
  }
}

bool is_blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (byte < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
          out += escaped;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string printable_sample(std::string_view bytes, std::size_t max_bytes) {
  std::string out;
  const std::size_t shown = bytes.size() < max_bytes ? bytes.size() : max_bytes;
  out.reserve(shown + 3);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    out.push_back(byte >= 0x20 && byte < 0x7f ? bytes[i] : '?');
  }
  if (shown < bytes.size()) out += "...";
  return out;
}

std::string redacted_sample(std::string_view line, std::size_t max_bytes) {
  // Shows the shape only: JSON punctuation and white space as they are;
  // member names and the command only when they are the protocol's own
  // words; every other string as "?" and any other run of bytes as one '?'.
  // In a line that is not valid JSON a heuristic could be steered to show a
  // value, so nothing but fixed words is ever copied.
  static constexpr std::string_view kFieldNames[] = {
      "command", "username", "secret", "activity", "id", "load", "hostname",
      "port", "info", "server", "authenticated_user", "features", "parent",
      "query", "hops", "root", "orphan", "busy", "ids"};
  auto known = [](std::string_view text, bool command) {
    if (command) {
      for (const CommandEntry& entry : kCommands) {
        if (entry.name == text) return true;
      }
      return false;
    }
    for (std::string_view name : kFieldNames) {
      if (name == text) return true;
    }
    return false;
  };
  auto structural = [](char c) {
    return c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':' ||
           c == ' ' || c == '\t';
  };
  std::string out;
  char before = '\0';  // the last structural byte outside strings
  bool command_value_next = false;
  std::size_t pos = 0;
  while (pos < line.size() && out.size() < max_bytes) {
    const char c = line[pos];
    if (c != '"') {
      if (structural(c)) {
        out.push_back(c);
        if (c != ' ' && c != '\t') before = c;
        if (c != ':' && c != ' ' && c != '\t') command_value_next = false;
      } else {
        if (out.empty() || out.back() != '?') out.push_back('?');
        before = '?';
        command_value_next = false;
      }
      ++pos;
      continue;
    }
    std::size_t end = pos + 1;
    while (end < line.size() && line[end] != '"') end += line[end] == '\\' ? 2 : 1;
    const bool closed = end < line.size();
    const std::string_view body =
        line.substr(pos + 1, std::min(end, line.size()) - pos - 1);
    pos = closed ? end + 1 : line.size();
    std::size_t next = pos;
    while (next < line.size() && (line[next] == ' ' || line[next] == '\t')) ++next;
    const bool is_key = closed && (before == '{' || before == ',') &&
                        next < line.size() && line[next] == ':';
    const bool shown = closed && (is_key ? known(body, false)
                                         : command_value_next && before == ':' &&
                                               known(body, true));
    out += shown ? '"' + std::string(body) + '"' : std::string("\"?\"");
    command_value_next = is_key && body == "command";
    before = '"';
  }
  if (pos < line.size()) {
    if (out.size() > max_bytes) out.resize(max_bytes);
    out += "...";
  }
  return out;
}

std::string encode_authenticate(std::string_view secret, bool advertise) {
  std::string out = start_message(Command::kAuthenticate);
  append_field_name(out, "secret");
  append_json_string(out, secret);
  if (advertise) append_features(out);
  return finish_message(std::move(out));
}

std::string encode_info_message(Command command, std::string_view info) {
  std::string out = start_message(command);
  append_field_name(out, "info");
  append_json_string(out, info);
  return finish_message(std::move(out));
}

std::string encode_login(std::string_view username,
                         std::optional<std::string_view> secret) {
  std::string out = start_message(Command::kLogin);
  append_field_name(out, "username");
  append_json_string(out, username);
  if (secret) {
    append_field_name(out, "secret");
    append_json_string(out, *secret);
  }
  return finish_message(std::move(out));
}

std::string encode_logout() {
  return finish_message(start_message(Command::kLogout));
}

std::string encode_register(std::string_view username,
                            std::string_view secret) {
  std::string out = start_message(Command::kRegister);
  append_field_name(out, "username");
  append_json_string(out, username);
  append_field_name(out, "secret");
  append_json_string(out, secret);
  return finish_message(std::move(out));
}

std::string encode_redirect(std::string_view hostname, std::uint16_t port) {
  std::string out = start_message(Command::kRedirect);
  append_field_name(out, "hostname");
  append_json_string(out, hostname);
  append_field_name(out, "port");
  out += std::to_string(port);
  return finish_message(std::move(out));
}

std::string encode_activity_message(std::string_view username,
                                    std::optional<std::string_view> secret,
                                    std::string_view activity_object) {
  std::string out = start_message(Command::kActivityMessage);
  append_field_name(out, "username");
  append_json_string(out, username);
  if (secret) {
    append_field_name(out, "secret");
    append_json_string(out, *secret);
  }
  append_field_name(out, "activity");
  out += activity_object;
  return finish_message(std::move(out));
}

std::string encode_activity_broadcast(std::string_view members,
                                      std::string_view user) {
  std::string out;
  out.reserve(members.size() + user.size() + 80);
  out = start_message(Command::kActivityBroadcast);
  append_field_name(out, "activity");
  out.push_back('{');
  out += members;
  if (!members.empty()) out.push_back(',');
  append_json_string(out, "authenticated_user");
  out.push_back(':');
  append_json_string(out, user);
  out.push_back('}');
  return finish_message(std::move(out));
}

std::string encode_server_announce(std::string_view id, std::uint64_t load,
                                   std::string_view hostname,
                                   std::uint16_t port,
                                   const std::string* parent) {
  std::string out = start_message(Command::kServerAnnounce);
  append_field_name(out, "id");
  append_json_string(out, id);
  append_field_name(out, "load");
  out += std::to_string(load);
  append_field_name(out, "hostname");
  append_json_string(out, hostname);
  append_field_name(out, "port");
  out += std::to_string(port);
  if (parent != nullptr) {
    append_features(out);
    append_field_name(out, "parent");
    append_json_string(out, *parent);
  }
  return finish_message(std::move(out));
}

std::string encode_root_query(std::string_view query, std::uint64_t hops) {
  std::string out = start_message(Command::kRootQuery);
  append_field_name(out, "query");
  append_json_string(out, query);
  append_field_name(out, "hops");
  out += std::to_string(hops);
  return finish_message(std::move(out));
}

std::string encode_root_reply(std::string_view query, std::string_view root,
                              bool orphan, bool busy) {
  std::string out = start_message(Command::kRootReply);
  append_field_name(out, "query");
  append_json_string(out, query);
  append_field_name(out, "root");
  append_json_string(out, root);
  append_field_name(out, "orphan");
  out += orphan ? "true" : "false";
  append_field_name(out, "busy");
  out += busy ? "true" : "false";
  return finish_message(std::move(out));
}

std::string encode_server_gone(const std::vector<std::string>& ids) {
  std::string out = start_message(Command::kServerGone);
  append_field_name(out, "ids");
  out.push_back('[');
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) out.push_back(',');
    append_json_string(out, ids[i]);
  }
  out.push_back(']');
  return finish_message(std::move(out));
}

std::string encode_lock(Command command, std::string_view username,
                        std::string_view secret, std::string_view server) {
  std::string out = start_message(command);
  append_field_name(out, "username");
  append_json_string(out, username);
  append_field_name(out, "secret");
  append_json_string(out, secret);
  if (!server.empty() && command != Command::kLockRequest) {
    append_field_name(out, "server");
    append_json_string(out, server);
  }
  return finish_message(std::move(out));
}

}  // namespace activity
