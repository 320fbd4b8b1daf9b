// Parsing and encoding of protocol lines (see protocol.h). Validation follows
// PROTOCOL.md section 1: the whole line is checked by simdjson's DOM parser
// (UTF-8, syntax, depth) before any field is read, and every required field
// is checked for presence and type, so a Message that comes out is safe to
// act on.
#include "protocol.h"

#include <array>
#include <cstdio>

namespace activity {
namespace {

namespace dom = simdjson::dom;

struct CommandEntry {
  std::string_view name;
  Command command;
};

constexpr std::array<CommandEntry, 17> kCommands{{
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
}};

constexpr std::string_view kAnonymous = "anonymous";
constexpr std::size_t kCommandSampleBytes = 40;

// Reads the fields of one message object, remembering the first problem.
class FieldReader {
 public:
  explicit FieldReader(dom::object object) : object_(object) {}

  const std::string& error() const { return error_; }
  bool failed() const { return !error_.empty(); }

  // A required string; empty strings are refused when `non_empty`.
  bool string(const char* name, std::string& out, bool non_empty = false) {
    dom::element value;
    if (!find(name, value)) return false;
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      return fail(std::string("field '") + name + "' must be a string");
    }
    if (non_empty && text.empty()) {
      return fail(std::string("field '") + name + "' must not be empty");
    }
    out.assign(text);
    return true;
  }

  // A string that may be absent; a value of another type counts as absent,
  // since the receiver never requires these (info texts, extensions).
  bool optional_string(const char* name, std::string& out) {
    std::string_view text;
    if (object_[name].get_string().get(text) != simdjson::SUCCESS) {
      return false;
    }
    out.assign(text);
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

  dom::object object_;
  std::string error_;
};

// ACTIVITY_MESSAGE processing: every member but authenticated_user, compact.
void collect_activity_members(dom::object activity, std::string& out) {
  out.clear();
  for (dom::key_value_pair member : activity) {
    if (member.key == "authenticated_user") continue;
    if (!out.empty()) out.push_back(',');
    append_json_string(out, member.key);
    out.push_back(':');
    out += simdjson::minify(member.value);
  }
}

bool needs_secret(const std::string& username) {
  return username != kAnonymous;
}

// Validates the fields of `command`; fills `message` or reports in `fields`.
void read_fields(Command command, FieldReader& fields, Message& message,
                 bool keep_broadcast_activity) {
  switch (command) {
    case Command::kAuthenticate:
      fields.string("secret", message.secret);
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
      if (fields.string("username", message.username) &&
          needs_secret(message.username)) {
        message.has_secret = fields.string("secret", message.secret);
      }
      break;
    case Command::kLogout:
      break;
    case Command::kRedirect:
      fields.string("hostname", message.hostname) &&
          fields.port("port", message.port);
      break;
    case Command::kRegister:
      fields.string("username", message.username, true) &&
          fields.string("secret", message.secret, true);
      break;
    case Command::kActivityMessage: {
      dom::object activity;
      if (!fields.string("username", message.username)) break;
      if (needs_secret(message.username)) {
        message.has_secret = fields.string("secret", message.secret);
        if (!message.has_secret) break;
      }
      if (fields.object("activity", activity)) {
        collect_activity_members(activity, message.activity);
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
      if (keep_broadcast_activity) {
        message.activity = simdjson::minify(activity);
      }
      break;
    }
    case Command::kServerAnnounce:
      fields.string("id", message.id) &&
          fields.non_negative_integer("load", message.load) &&
          fields.string("hostname", message.hostname) &&
          fields.port("port", message.port);
      break;
    case Command::kLockRequest:
    case Command::kLockAllowed:
    case Command::kLockDenied:
      if (fields.string("username", message.username) &&
          fields.string("secret", message.secret)) {
        message.has_server = fields.optional_string("server", message.server);
      }
      break;
  }
}

void append_field_name(std::string& out, std::string_view name) {
  out.push_back(',');
  append_json_string(out, name);
  out.push_back(':');
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
  // The envelope object is one level above the activity; the DOM parser
  // counts the root as a level too.
  const std::size_t document_depth = options_.max_depth + 1;
  // Start small; the parser grows to fit a long line and keeps the depth.
  const simdjson::error_code error = parser_.allocate(4096, document_depth);
  (void)error;  // an allocation failure surfaces as MEMALLOC on parse
}

ParseResult Parser::parse(std::string_view line, bool padded) {
  ParseResult result;
  if (line.size() > options_.max_line_bytes) {
    result.error = "line exceeds the limit of " +
                   std::to_string(options_.max_line_bytes) + " bytes";
    return result;
  }
  dom::element root;
  simdjson::error_code code =
      parser_.parse(line.data(), line.size(), !padded).get(root);
  if (code != simdjson::SUCCESS) {
    result.error = describe_json_error(code, options_.max_depth);
    return result;
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    result.error = "message must be a JSON object";
    return result;
  }
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
  read_fields(entry->command, fields, message,
              options_.keep_broadcast_activity);
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

std::string encode_authenticate(std::string_view secret) {
  std::string out = start_message(Command::kAuthenticate);
  append_field_name(out, "secret");
  append_json_string(out, secret);
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
                                   std::uint16_t port) {
  std::string out = start_message(Command::kServerAnnounce);
  append_field_name(out, "id");
  append_json_string(out, id);
  append_field_name(out, "load");
  out += std::to_string(load);
  append_field_name(out, "hostname");
  append_json_string(out, hostname);
  append_field_name(out, "port");
  out += std::to_string(port);
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
