// The wire protocol as a pure module: parsing one line into a typed Message
// (or a precise error for INVALID_MESSAGE's `info`), and encoding every
// message this project originates as one compact line ending in '\n'.
// No sockets, locks or logging here, so every rule of PROTOCOL.md sections 1
// and 5 can be unit-tested directly.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "named_limits.h"

namespace activity {

enum class Command {
  kAuthenticate,
  kAuthenticationFail,
  kInvalidMessage,
  kLogin,
  kLoginSuccess,
  kLoginFailed,
  kLogout,
  kRedirect,
  kRegister,
  kRegisterSuccess,
  kRegisterFailed,
  kActivityMessage,
  kActivityBroadcast,
  kServerAnnounce,
  kLockRequest,
  kLockAllowed,
  kLockDenied,
  // Extensions among our own servers (PROTOCOL.md section 9, docs/features.md):
  // sent only to a neighbour that advertised kHealFeature.
  kRootQuery,
  kRootReply,
  // Sent only to a neighbour that advertised kGoneFeature.
  kServerGone,
};

// The feature this project advertises in the `features` field of its
// AUTHENTICATE and SERVER_ANNOUNCE: the tree heals itself (docs/features.md).
inline constexpr std::string_view kHealFeature = "heal/1";
// ...and servers that are gone are forgotten network-wide at once.
inline constexpr std::string_view kGoneFeature = "gone/1";
// Most ids one SERVER_GONE may carry; a longer list is sent in several.
inline constexpr std::size_t kMaxGoneIds = 64;
// Longest ROOT_QUERY token accepted.
inline constexpr std::size_t kMaxQueryBytes = 64;

// The command's wire name, e.g. "LOCK_REQUEST".
std::string_view command_name(Command command);

// A validated message. Only the fields of its command are meaningful.
struct Message {
  Command command = Command::kInvalidMessage;
  std::string username;
  std::string secret;  // LOGIN/ACTIVITY_MESSAGE: has_secret says if given
  bool has_secret = false;
  std::string hostname;
  std::uint16_t port = 0;
  std::string id;
  std::uint64_t load = 0;
  std::string info;          // empty when the peer sent none
  std::string server;        // optional `server` extension of LOCK_*
  bool has_server = false;
  // ACTIVITY_MESSAGE: the activity's members except `authenticated_user`,
  // compact and comma-separated, without the braces (see
  // encode_activity_broadcast). ACTIVITY_BROADCAST: the whole activity
  // object, compact, when ParserOptions::keep_broadcast_activity is set.
  // Either way the members are cut from the line as sent: numbers, string
  // escapes and key order are kept, only whitespace is dropped.
  std::string activity;

  // Extensions (docs/features.md). AUTHENTICATE and SERVER_ANNOUNCE: the
  // sender advertised kHealFeature in `features` (a missing or malformed
  // field advertises nothing). SERVER_ANNOUNCE: `parent` is the
  // announcer's parent id, empty for a root (has_parent when present).
  bool heal = false;
  bool gone = false;  // ...and kGoneFeature
  std::string parent;
  bool has_parent = false;
  // ROOT_QUERY: `query` token and `hops` so far. ROOT_REPLY: `query`, and
  // the `root` that answered (empty: unknown), whether it is an `orphan`
  // and whether it is `busy` joining.
  std::string query;
  std::uint64_t hops = 0;
  std::string root;
  bool orphan = false;
  bool busy = false;
  // SERVER_GONE: the `ids` of servers that are gone (1 to kMaxGoneIds).
  std::vector<std::string> ids;
};

// Longest accepted value of each bounded string field (PROTOCOL.md
// section 1); a longer one makes the message bad.
struct FieldLimits {
  std::size_t username = kDefaultMaxUsernameBytes;
  std::size_t secret = kDefaultMaxSecretBytes;
  std::size_t id = kDefaultMaxIdBytes;  // SERVER_ANNOUNCE id, LOCK_* server
  std::size_t hostname = kDefaultMaxHostnameBytes;
};

struct ParserOptions {
  std::size_t max_line_bytes;
  // Nesting allowed inside `activity` (the activity object is level 1).
  std::size_t max_depth;
  // Clients print received activities; servers forward the raw line and do
  // not need the re-serialised object.
  bool keep_broadcast_activity = false;
  FieldLimits fields{};
};

// The outcome of parsing one line: a message, or the reason it is bad.
struct ParseResult {
  std::optional<Message> message;
  std::string error;  // INVALID_MESSAGE info when !message

  bool ok() const { return message.has_value(); }
};

// Bytes of readable memory simdjson needs after the end of a line.
inline constexpr std::size_t kParsePadding = simdjson::SIMDJSON_PADDING;

// A container met by the structure check, and its nesting level.
struct NestedElement {
  simdjson::dom::element element;
  std::size_t level;
};

// Parses lines with one reused simdjson DOM parser. Not thread-safe: each
// reader thread owns one.
//
// Memory: the DOM parser needs about 14 bytes per byte of the document. It
// grows (in powers of two) to fit each line; a line longer than
// kLongParseBytes gives it back as soon as it is parsed (a 1 MiB line costs
// its 14 MiB only while it is being parsed), and trim() gives back what is
// beyond kParserKeepBytes between reads.
class Parser {
 public:
  explicit Parser(ParserOptions options);

  // Parses `line` (no '\n'; a trailing '\r' already removed). When
  // `padded` is true the caller guarantees kParsePadding readable bytes
  // after line.end(), and the line is parsed in place; otherwise it is
  // copied into a padded buffer first.
  ParseResult parse(std::string_view line, bool padded = false);

  const ParserOptions& options() const { return options_; }
  // Gives back capacity beyond kParserKeepBytes and the scratch space
  // beyond what small lines need. Call between reads.
  void trim();
  // Bytes of document the parser can hold without growing.
  std::size_t capacity() const { return parser_.capacity(); }

 private:
  // Validates the parsed document and reads the message out of it.
  ParseResult read_document(simdjson::dom::element root, std::string_view line);
  // Replaces the DOM parser by a new, small one.
  void shrink();
  std::size_t simdjson_depth() const;

  ParserOptions options_;
  simdjson::dom::parser parser_;
  std::string masked_;  // copy of a line with unrepresentable numbers masked
  // Scratch for the structure check (duplicate names, nesting).
  std::vector<NestedElement> stack_;
  std::vector<std::string_view> keys_;
};

// What a simdjson parse error means, as INVALID_MESSAGE `info` text.
// `max_depth` is the nesting limit to name for a depth error.
std::string describe_json_error(simdjson::error_code code,
                                std::size_t max_depth);

// True if the line holds only JSON whitespace (such lines are skipped).
bool is_blank(std::string_view line);

// Appends `text` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view text);

// A short, printable sample of untrusted bytes for logs and `info` texts:
// at most `max_bytes` of them, each byte outside printable ASCII shown as
// '?', and "..." when cut.
std::string printable_sample(std::string_view bytes, std::size_t max_bytes);

// A sample of an untrusted line for logs that shows its shape but no value
// that could be a secret: member names and the `command` value are shown
// (as printable samples), every other string value as "?", whatever the
// line holds and whether or not it is valid JSON.
std::string redacted_sample(std::string_view line, std::size_t max_bytes);

// Encoders: each returns one compact line ending in '\n', with exactly the
// fields PROTOCOL.md documents for the message.
// With `advertise`, the message carries `features` (our extensions).
std::string encode_authenticate(std::string_view secret, bool advertise = false);
std::string encode_info_message(Command command, std::string_view info);
std::string encode_login(std::string_view username,
                         std::optional<std::string_view> secret);
std::string encode_logout();
std::string encode_register(std::string_view username,
                            std::string_view secret);
std::string encode_redirect(std::string_view hostname, std::uint16_t port);
std::string encode_activity_message(std::string_view username,
                                    std::optional<std::string_view> secret,
                                    std::string_view activity_object);
// ACTIVITY_BROADCAST built from an ACTIVITY_MESSAGE's processed members:
// `members` as in Message::activity, then authenticated_user = `user`.
std::string encode_activity_broadcast(std::string_view members,
                                      std::string_view user);
// With `parent` (the announcer's parent id, empty for a root) the message
// also advertises our features; without it, it is exactly section 3's.
std::string encode_server_announce(std::string_view id, std::uint64_t load,
                                   std::string_view hostname,
                                   std::uint16_t port,
                                   const std::string* parent = nullptr);
std::string encode_root_query(std::string_view query, std::uint64_t hops);
std::string encode_root_reply(std::string_view query, std::string_view root,
                              bool orphan, bool busy);
// `ids`: 1 to kMaxGoneIds server ids.
std::string encode_server_gone(const std::vector<std::string>& ids);
// LOCK_REQUEST has no `server`; LOCK_ALLOWED/LOCK_DENIED carry the optional
// extension when `server` is non-empty.
std::string encode_lock(Command command, std::string_view username,
                        std::string_view secret, std::string_view server = {});

}  // namespace activity
