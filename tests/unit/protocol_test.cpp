// The protocol module: every message type's valid shape, every
// INVALID_MESSAGE case of PROTOCOL.md section 1 and of each command's
// fields, activity processing (authenticated_user overwritten, everything
// else kept), and the exact bytes of every encoder.
#include <doctest/doctest.h>

#include <string>

#include "protocol.h"

using namespace activity;

namespace {

ParseResult parse(const std::string& line, std::size_t max_depth = 64,
                  bool keep = true) {
  Parser parser(ParserOptions{1024 * 1024, max_depth, keep});
  return parser.parse(line);
}

// The error text for `line`, or "<ok>" if it parsed.
std::string error_of(const std::string& line) {
  ParseResult result = parse(line);
  return result.ok() ? "<ok>" : result.error;
}

Message ok(const std::string& line) {
  ParseResult result = parse(line);
  INFO(line, " -> ", result.error);
  REQUIRE(result.ok());
  return *result.message;
}

std::string nested_arrays(int levels) {
  return std::string(static_cast<std::size_t>(levels), '[') +
         std::string(static_cast<std::size_t>(levels), ']');
}

}  // namespace

TEST_CASE("lines that are not a JSON object with a string command") {
  CHECK(error_of("nonsense").rfind("JSON parse error", 0) == 0);
  CHECK(error_of("{\"command\":\"LOGOUT\"").rfind("JSON parse error", 0) == 0);
  CHECK(error_of("{\"command\":\"LOGOUT\"} {}").rfind("JSON parse error", 0) == 0);
  CHECK(error_of("{\"command\":\"LOGOUT\",}").rfind("JSON parse error", 0) == 0);
  CHECK(error_of("[1,2]") == "message must be a JSON object");
  CHECK(error_of("\"LOGOUT\"") == "message must be a JSON object");
  CHECK(error_of("42") == "message must be a JSON object");
  CHECK(error_of("null") == "message must be a JSON object");
  CHECK(error_of("{}") == "message has no 'command' field");
  CHECK(error_of("{\"Command\":\"LOGOUT\"}") == "message has no 'command' field");
  CHECK(error_of("{\"command\":7}") == "field 'command' must be a string");
  CHECK(error_of("{\"command\":null}") == "field 'command' must be a string");
  CHECK(error_of("{\"command\":\"FOO\"}") == "unknown command 'FOO'");
  CHECK(error_of("{\"command\":\"logout\"}") == "unknown command 'logout'");
  CHECK(error_of("{\"command\":\"\"}") == "unknown command ''");
}

TEST_CASE("invalid UTF-8 is refused, valid Unicode of every plane accepted") {
  CHECK(error_of("{\"command\":\"LOGOUT\",\"x\":\"\xff\"}") ==
        "line is not valid UTF-8");
  CHECK(error_of("{\"command\":\"LOGOUT\",\"x\":\"\xc3\"}") ==
        "line is not valid UTF-8");
  CHECK(error_of("{\"command\":\"LOGOUT\",\"x\":\"\xed\xa0\x80\"}") ==
        "line is not valid UTF-8");  // an encoded surrogate
  CHECK(error_of("{\"command\":\"LOGOUT\",\"x\":\"h\xc3\xa9 \xe2\x82\xac "
                 "\xf0\x9f\x98\x80\"}") == "<ok>");
}

TEST_CASE("an unknown command's sample in the reply is short and printable") {
  const std::string error =
      error_of("{\"command\":\"\\u0001" + std::string(200, 'A') + "\"}");
  CHECK(error.size() <= 64);
  CHECK(error.find('\x01') == std::string::npos);
  CHECK(error.rfind("unknown command '?AAA", 0) == 0);
}

TEST_CASE("lines over the size limit are refused") {
  Parser parser(ParserOptions{64, 64, false});
  const std::string line = "{\"command\":\"LOGOUT\",\"pad\":\"" +
                           std::string(64, 'x') + "\"}";
  ParseResult result = parser.parse(line);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error == "line exceeds the limit of 64 bytes");
}

TEST_CASE("nesting: the activity may nest to the limit, not beyond") {
  // The activity object is level 1, so 63 more levels fit in a limit of 64.
  const std::string fits = "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":"
                           "\"anonymous\",\"activity\":{\"a\":" +
                           nested_arrays(63) + "}}";
  const std::string deeper = "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":"
                             "\"anonymous\",\"activity\":{\"a\":" +
                             nested_arrays(64) + "}}";
  CHECK(parse(fits).ok());
  ParseResult result = parse(deeper);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error == "JSON nesting exceeds the limit of 64 levels");
  CHECK(error_of(nested_arrays(200)) ==
        "JSON nesting exceeds the limit of 64 levels");
  CHECK(parse("{\"command\":\"LOGOUT\",\"x\":" + nested_arrays(3) + "}", 3)
            .ok());
  CHECK_FALSE(
      parse("{\"command\":\"LOGOUT\",\"x\":" + nested_arrays(4) + "}", 3)
          .ok());
}

TEST_CASE("is_blank") {
  CHECK(is_blank(""));
  CHECK(is_blank(" \t\r "));
  CHECK_FALSE(is_blank(" x "));
}

TEST_CASE("AUTHENTICATE") {
  CHECK(ok("{\"command\":\"AUTHENTICATE\",\"secret\":\"abc\"}").secret == "abc");
  CHECK(error_of("{\"command\":\"AUTHENTICATE\"}") ==
        "AUTHENTICATE: missing field 'secret'");
  CHECK(error_of("{\"command\":\"AUTHENTICATE\",\"secret\":null}") ==
        "AUTHENTICATE: field 'secret' must not be null");
  CHECK(error_of("{\"command\":\"AUTHENTICATE\",\"secret\":5}") ==
        "AUTHENTICATE: field 'secret' must be a string");
}

TEST_CASE("messages carrying only info: info optional, lenient in type") {
  for (const char* name :
       {"AUTHENTICATION_FAIL", "INVALID_MESSAGE", "LOGIN_SUCCESS",
        "LOGIN_FAILED", "REGISTER_SUCCESS", "REGISTER_FAILED"}) {
    CAPTURE(name);
    const std::string prefix = std::string("{\"command\":\"") + name + "\"";
    CHECK(ok(prefix + ",\"info\":\"why\"}").info == "why");
    CHECK(ok(prefix + "}").info.empty());
    CHECK(ok(prefix + ",\"info\":3}").info.empty());
  }
}

TEST_CASE("LOGIN") {
  Message anonymous = ok("{\"command\":\"LOGIN\",\"username\":\"anonymous\"}");
  CHECK(anonymous.command == Command::kLogin);
  CHECK(anonymous.username == "anonymous");
  // A secret given with anonymous is ignored, whatever its type.
  CHECK(ok("{\"command\":\"LOGIN\",\"username\":\"anonymous\",\"secret\":[1]}")
            .command == Command::kLogin);
  Message user = ok("{\"command\":\"LOGIN\",\"username\":\"bob\",\"secret\":\"s\"}");
  CHECK(user.secret == "s");
  CHECK(user.has_secret);
  CHECK(error_of("{\"command\":\"LOGIN\"}") == "LOGIN: missing field 'username'");
  CHECK(error_of("{\"command\":\"LOGIN\",\"username\":1}") ==
        "LOGIN: field 'username' must be a string");
  CHECK(error_of("{\"command\":\"LOGIN\",\"username\":\"bob\"}") ==
        "LOGIN: missing field 'secret'");
  CHECK(error_of("{\"command\":\"LOGIN\",\"username\":\"bob\",\"secret\":null}") ==
        "LOGIN: field 'secret' must not be null");
  CHECK(error_of("{\"command\":\"LOGIN\",\"username\":\"bob\",\"secret\":{}}") ==
        "LOGIN: field 'secret' must be a string");
}

TEST_CASE("LOGOUT and unknown fields") {
  CHECK(ok("{\"command\":\"LOGOUT\"}").command == Command::kLogout);
  CHECK(ok("{\"command\":\"LOGOUT\",\"extra\":{\"x\":[1,2]},\"n\":null}").command ==
        Command::kLogout);
  CHECK(ok("  {\"command\" : \"LOGOUT\"}  ").command == Command::kLogout);
}

TEST_CASE("REDIRECT") {
  Message m = ok("{\"command\":\"REDIRECT\",\"hostname\":\"h\",\"port\":3781}");
  CHECK(m.hostname == "h");
  CHECK(m.port == 3781);
  CHECK(error_of("{\"command\":\"REDIRECT\",\"port\":1}") ==
        "REDIRECT: missing field 'hostname'");
  CHECK(error_of("{\"command\":\"REDIRECT\",\"hostname\":\"h\",\"port\":0}") ==
        "REDIRECT: field 'port' must be an integer from 1 to 65535");
  CHECK(error_of("{\"command\":\"REDIRECT\",\"hostname\":\"h\",\"port\":\"80\"}") ==
        "REDIRECT: field 'port' must be an integer from 1 to 65535");
}

TEST_CASE("REGISTER") {
  Message m = ok("{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"s\"}");
  CHECK(m.username == "bob");
  CHECK(m.secret == "s");
  CHECK(error_of("{\"command\":\"REGISTER\",\"secret\":\"s\"}") ==
        "REGISTER: missing field 'username'");
  CHECK(error_of("{\"command\":\"REGISTER\",\"username\":\"bob\"}") ==
        "REGISTER: missing field 'secret'");
  CHECK(error_of("{\"command\":\"REGISTER\",\"username\":\"\",\"secret\":\"s\"}") ==
        "REGISTER: field 'username' must not be empty");
  CHECK(error_of("{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"\"}") ==
        "REGISTER: field 'secret' must not be empty");
  CHECK(error_of("{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":1}") ==
        "REGISTER: field 'secret' must be a string");
}

TEST_CASE("ACTIVITY_MESSAGE shapes") {
  Message anon = ok("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
                    "\"activity\":{\"a\":1}}");
  CHECK(anon.activity == "\"a\":1");
  CHECK_FALSE(anon.has_secret);
  Message user = ok("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"bob\","
                    "\"secret\":\"s\",\"activity\":{}}");
  CHECK(user.secret == "s");
  CHECK(user.activity.empty());
  CHECK(error_of("{\"command\":\"ACTIVITY_MESSAGE\",\"activity\":{}}") ==
        "ACTIVITY_MESSAGE: missing field 'username'");
  CHECK(error_of("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"bob\","
                 "\"activity\":{}}") == "ACTIVITY_MESSAGE: missing field 'secret'");
  CHECK(error_of("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\"}") ==
        "ACTIVITY_MESSAGE: missing field 'activity'");
  CHECK(error_of("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
                 "\"activity\":null}") ==
        "ACTIVITY_MESSAGE: field 'activity' must not be null");
  CHECK(error_of("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
                 "\"activity\":\"text\"}") ==
        "ACTIVITY_MESSAGE: field 'activity' must be an object");
  CHECK(error_of("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
                 "\"activity\":[{}]}") ==
        "ACTIVITY_MESSAGE: field 'activity' must be an object");
}

TEST_CASE("activity processing keeps everything but authenticated_user") {
  const std::string activity =
      "{\"authenticated_user\":\"mallory\",\"text\":\"h\xc3\xa9llo \xf0\x9f\x98\x80\","
      "\"esc\":\"quote\\\" backslash\\\\ nl\\n tab\\t ctl\\u0001\","
      "\"nested\":{\"list\":[1,-2,true,false,null,{\"deep\":[[\"x\"]]}]},"
      "\"nothing\":null,\"max\":18446744073709551615,"
      "\"min\":-9223372036854775808,\"big\":9223372036854775807,"
      "\"k\\u00e9y \\\"q\\\"\":1,\"empty\":{},\"list\":[]}";
  Message m = ok("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"bob\","
                 "\"secret\":\"s\",\"activity\":" + activity + "}");
  const std::string broadcast = encode_activity_broadcast(m.activity, "bob");
  CHECK(broadcast ==
        "{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{"
        "\"text\":\"h\xc3\xa9llo \xf0\x9f\x98\x80\","
        "\"esc\":\"quote\\\" backslash\\\\ nl\\n tab\\t ctl\\u0001\","
        "\"nested\":{\"list\":[1,-2,true,false,null,{\"deep\":[[\"x\"]]}]},"
        "\"nothing\":null,\"max\":18446744073709551615,"
        "\"min\":-9223372036854775808,\"big\":9223372036854775807,"
        "\"k\\u00e9y \\\"q\\\"\":1,\"empty\":{},\"list\":[],"
        "\"authenticated_user\":\"bob\"}}\n");
  // The processed broadcast is itself a valid ACTIVITY_BROADCAST.
  Message echoed = ok(broadcast.substr(0, broadcast.size() - 1));
  CHECK(echoed.command == Command::kActivityBroadcast);
  CHECK(echoed.username == "bob");
}

TEST_CASE("activity processing of an empty activity") {
  Message m = ok("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
                 "\"activity\":{\"authenticated_user\":1}}");
  CHECK(encode_activity_broadcast(m.activity, "anonymous") ==
        "{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":"
        "{\"authenticated_user\":\"anonymous\"}}\n");
}

TEST_CASE("activity content is kept as written: numbers, escapes, order") {
  // Whitespace outside strings goes; everything else stays byte for byte.
  Message m = ok("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
                 "\"activity\": { \"f\" : 1.0E+2 , \"z\":-0, \"e\":1e-400,"
                 "\"s\":\" a  b \", \"u\":\"\\u00e9\\/\", \"n\":[ 1 , 2.50 ]}}");
  CHECK(m.activity ==
        "\"f\":1.0E+2,\"z\":-0,\"e\":1e-400,\"s\":\" a  b \","
        "\"u\":\"\\u00e9\\/\",\"n\":[1,2.50]");
}

TEST_CASE("ACTIVITY_BROADCAST") {
  Message m = ok("{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":"
                 "{\"x\":[1, 2],\"authenticated_user\":\"bob\"},\"extra\":1}");
  CHECK(m.username == "bob");
  CHECK(m.activity == "{\"x\":[1,2],\"authenticated_user\":\"bob\"}");
  CHECK(error_of("{\"command\":\"ACTIVITY_BROADCAST\"}") ==
        "ACTIVITY_BROADCAST: missing field 'activity'");
  CHECK(error_of("{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":[]}") ==
        "ACTIVITY_BROADCAST: field 'activity' must be an object");
  CHECK(error_of("{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{}}") ==
        "ACTIVITY_BROADCAST: activity must have a string 'authenticated_user'");
  CHECK(error_of("{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":"
                 "{\"authenticated_user\":null}}") ==
        "ACTIVITY_BROADCAST: activity must have a string 'authenticated_user'");
}

TEST_CASE("SERVER_ANNOUNCE") {
  Message m = ok("{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"i\",\"load\":5,"
                 "\"hostname\":\"h\",\"port\":3780}");
  CHECK(m.id == "i");
  CHECK(m.load == 5);
  CHECK(m.hostname == "h");
  CHECK(m.port == 3780);
  CHECK(ok("{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"i\",\"load\":"
           "18446744073709551615,\"hostname\":\"h\",\"port\":1}")
            .load == 18446744073709551615ULL);
  const std::string head = "{\"command\":\"SERVER_ANNOUNCE\",";
  CHECK(error_of(head + "\"load\":0,\"hostname\":\"h\",\"port\":1}") ==
        "SERVER_ANNOUNCE: missing field 'id'");
  CHECK(error_of(head + "\"id\":\"i\",\"hostname\":\"h\",\"port\":1}") ==
        "SERVER_ANNOUNCE: missing field 'load'");
  for (const char* load : {"-1", "1.5", "1e3", "\"3\"", "null", "true"}) {
    CAPTURE(load);
    const std::string expected =
        std::string(load) == "null"
            ? "SERVER_ANNOUNCE: field 'load' must not be null"
            : "SERVER_ANNOUNCE: field 'load' must be a non-negative integer";
    CHECK(error_of(head + "\"id\":\"i\",\"load\":" + load +
                   ",\"hostname\":\"h\",\"port\":1}") == expected);
  }
  CHECK(error_of(head + "\"id\":\"i\",\"load\":1,\"port\":1}") ==
        "SERVER_ANNOUNCE: missing field 'hostname'");
  CHECK(error_of(head + "\"id\":\"i\",\"load\":1,\"hostname\":\"h\"}") ==
        "SERVER_ANNOUNCE: missing field 'port'");
  for (const char* port : {"0", "65536", "-1", "80.5", "\"80\""}) {
    CAPTURE(port);
    CHECK(error_of(head + "\"id\":\"i\",\"load\":1,\"hostname\":\"h\",\"port\":" +
                   port + "}") ==
          "SERVER_ANNOUNCE: field 'port' must be an integer from 1 to 65535");
  }
  CHECK(error_of(head + "\"id\":7,\"load\":1,\"hostname\":\"h\",\"port\":1}") ==
        "SERVER_ANNOUNCE: field 'id' must be a string");
}

TEST_CASE("LOCK_REQUEST, LOCK_ALLOWED, LOCK_DENIED and the server extension") {
  for (const char* name : {"LOCK_REQUEST", "LOCK_ALLOWED", "LOCK_DENIED"}) {
    CAPTURE(name);
    const std::string head = std::string("{\"command\":\"") + name + "\",";
    Message plain = ok(head + "\"username\":\"u\",\"secret\":\"s\"}");
    CHECK(plain.username == "u");
    CHECK(plain.secret == "s");
    CHECK_FALSE(plain.has_server);
    Message named = ok(head + "\"username\":\"u\",\"secret\":\"s\",\"server\":\"id1\"}");
    CHECK(named.has_server);
    CHECK(named.server == "id1");
    // A `server` of another type is ignored, never required.
    CHECK_FALSE(ok(head + "\"username\":\"u\",\"secret\":\"s\",\"server\":1}").has_server);
    CHECK(error_of(head + "\"secret\":\"s\"}") ==
          std::string(name) + ": missing field 'username'");
    CHECK(error_of(head + "\"username\":\"u\"}") ==
          std::string(name) + ": missing field 'secret'");
    CHECK(error_of(head + "\"username\":[],\"secret\":\"s\"}") ==
          std::string(name) + ": field 'username' must be a string");
  }
}

TEST_CASE("encoders produce exactly the documented fields") {
  CHECK(encode_authenticate("x\"y") ==
        "{\"command\":\"AUTHENTICATE\",\"secret\":\"x\\\"y\"}\n");
  CHECK(encode_info_message(Command::kInvalidMessage, "bad\n") ==
        "{\"command\":\"INVALID_MESSAGE\",\"info\":\"bad\\n\"}\n");
  CHECK(encode_login("anonymous", std::nullopt) ==
        "{\"command\":\"LOGIN\",\"username\":\"anonymous\"}\n");
  CHECK(encode_login("bob", std::string_view("s")) ==
        "{\"command\":\"LOGIN\",\"username\":\"bob\",\"secret\":\"s\"}\n");
  CHECK(encode_logout() == "{\"command\":\"LOGOUT\"}\n");
  CHECK(encode_register("bob", "s") ==
        "{\"command\":\"REGISTER\",\"username\":\"bob\",\"secret\":\"s\"}\n");
  CHECK(encode_redirect("10.0.0.1", 3781) ==
        "{\"command\":\"REDIRECT\",\"hostname\":\"10.0.0.1\",\"port\":3781}\n");
  CHECK(encode_activity_message("anonymous", std::nullopt, "{\"a\":1}") ==
        "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
        "\"activity\":{\"a\":1}}\n");
  CHECK(encode_server_announce("id", 3, "h", 3780) ==
        "{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"id\",\"load\":3,"
        "\"hostname\":\"h\",\"port\":3780}\n");
  CHECK(encode_lock(Command::kLockRequest, "u", "s", "ignored") ==
        "{\"command\":\"LOCK_REQUEST\",\"username\":\"u\",\"secret\":\"s\"}\n");
  CHECK(encode_lock(Command::kLockAllowed, "u", "s", "me") ==
        "{\"command\":\"LOCK_ALLOWED\",\"username\":\"u\",\"secret\":\"s\","
        "\"server\":\"me\"}\n");
  CHECK(encode_lock(Command::kLockDenied, "u", "s") ==
        "{\"command\":\"LOCK_DENIED\",\"username\":\"u\",\"secret\":\"s\"}\n");
}

TEST_CASE("every encoded message parses back to the same fields") {
  CHECK(ok(encode_redirect("h", 9).substr(0)).port == 9);
  const std::string announce = encode_server_announce("i\xc3\xa9", 0, "h", 1);
  CHECK(ok(announce.substr(0, announce.size() - 1)).id == "i\xc3\xa9");
  const std::string control = std::string("a\x01\x1f", 3);
  const std::string login = encode_login(control, std::string_view("s"));
  CHECK(ok(login.substr(0, login.size() - 1)).username == control);
}

TEST_CASE("parsing in place with padding gives the same result") {
  const std::string line = "{\"command\":\"LOGIN\",\"username\":\"anonymous\"}";
  std::string padded = line + std::string(kParsePadding, ' ');
  Parser parser(ParserOptions{1024, 64, false});
  ParseResult result =
      parser.parse(std::string_view(padded.data(), line.size()), true);
  REQUIRE(result.ok());
  CHECK(result.message->username == "anonymous");
}

TEST_CASE("a member name twice in one object, at any depth, is a bad message") {
  CHECK(error_of("{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"i\",\"load\":1,"
                 "\"hostname\":\"h\",\"port\":1,\"command\":\"INVALID_MESSAGE\"}") ==
        "member 'command' appears twice in one object");
  CHECK(error_of("{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{"
                 "\"authenticated_user\":\"a\",\"authenticated_user\":\"b\"}}") ==
        "member 'authenticated_user' appears twice in one object");
  // Escapes name the same member; nesting inside arrays is checked too.
  CHECK(error_of("{\"command\":\"LOGOUT\",\"x\":[{\"a\":1,\"\\u0061\":2}]}") ==
        "member 'a' appears twice in one object");
  // Many members take the sorted path; the duplicate is still found.
  std::string wide = "{\"command\":\"LOGOUT\",\"w\":{";
  for (int i = 0; i < 200; ++i) wide += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  CHECK(error_of(wide + "\"k77\":0}}") == "member 'k77' appears twice in one object");
  CHECK(error_of(wide + "\"k200\":0}}") == "<ok>");
  // The same name in different objects is fine.
  CHECK(error_of("{\"command\":\"LOGOUT\",\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}]}") ==
        "<ok>");
}

TEST_CASE("numbers beyond 64 bits or double range: kept in activities") {
  const char* const kNumbers[] = {
      "18446744073709551616", "-9223372036854775809",
      "123456789012345678901234567890", "1e309", "-1e309", "1E400", "1.5e99999"};
  for (const char* number : kNumbers) {
    INFO(number);
    const std::string broadcast =
        std::string("{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{\"n\":") +
        number + ",\"authenticated_user\":\"a\",\"deep\":[[" + number + "]]}}";
    Message b = ok(broadcast);
    CHECK(b.username == "a");
    CHECK(b.activity == std::string("{\"n\":") + number +
                            ",\"authenticated_user\":\"a\",\"deep\":[[" + number + "]]}");
    Message m = ok(std::string("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
                               "\"activity\":{\"n\":") + number + "}}");
    CHECK(m.activity == std::string("\"n\":") + number);
    // An unknown field of any message may hold one too.
    CHECK(error_of(std::string("{\"command\":\"LOGOUT\",\"x\":") + number + "}") == "<ok>");
  }
  // The edges of 64 bits are ordinary numbers.
  CHECK(ok("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
           "\"activity\":{\"a\":18446744073709551615,\"b\":-9223372036854775808}}")
            .activity == "\"a\":18446744073709551615,\"b\":-9223372036854775808");
}

TEST_CASE("an unrepresentable number is still not a number of the right type") {
  CHECK(error_of("{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"i\",\"load\":18446744073709551616,"
                 "\"hostname\":\"h\",\"port\":1}") ==
        "SERVER_ANNOUNCE: field 'load' must be a non-negative integer");
  CHECK(error_of("{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"i\",\"load\":1,"
                 "\"hostname\":\"h\",\"port\":1e999}") ==
        "SERVER_ANNOUNCE: field 'port' must be an integer from 1 to 65535");
  CHECK(error_of("{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{"
                 "\"authenticated_user\":1e999}}") ==
        "ACTIVITY_BROADCAST: activity must have a string 'authenticated_user'");
  CHECK(error_of("{\"command\":\"LOGIN\",\"username\":1e999}") ==
        "LOGIN: field 'username' must be a string");
  // Masking never changes depth: a huge number is as deep as a small one
  // (simdjson counts a scalar inside an array as a level).
  for (int levels : {62, 63}) {
    const std::string start = "{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":"
                              "{\"authenticated_user\":\"a\",\"x\":" +
                              std::string(static_cast<std::size_t>(levels), '[');
    const std::string end = std::string(static_cast<std::size_t>(levels), ']') + "}}";
    CHECK(error_of(start + "1e999" + end) == error_of(start + "1" + end));
  }
}

TEST_CASE("malformed numbers are refused with their position") {
  CHECK(error_of("{\"command\":\"LOGOUT\",\"x\":01}") == "malformed JSON number at byte 24");
  CHECK(error_of("{\"command\":\"LOGOUT\",\"x\":1e309,\"y\":1.}") ==
        "malformed JSON number at byte 34");
  CHECK(error_of("{\"command\":\"LOGOUT\",\"x\":-}") != "<ok>");
  // A number-like text inside a string is not looked at.
  CHECK(error_of("{\"command\":\"LOGOUT\",\"x\":\"01 1e999\",\"y\":1e999}") == "<ok>");
}

TEST_CASE("bounded string fields: at the limit accepted, one byte over refused") {
  ParserOptions options{1 << 20, 64, false};
  options.fields.username = 8;
  options.fields.secret = 6;
  options.fields.id = 4;
  options.fields.hostname = 5;
  Parser parser(options);
  auto error = [&](const std::string& line) {
    ParseResult result = parser.parse(line);
    return result.ok() ? std::string("<ok>") : result.error;
  };
  CHECK(error("{\"command\":\"REGISTER\",\"username\":\"12345678\",\"secret\":\"123456\"}") == "<ok>");
  CHECK(error("{\"command\":\"REGISTER\",\"username\":\"123456789\",\"secret\":\"s\"}") ==
        "REGISTER: field 'username' exceeds the limit of 8 bytes");
  CHECK(error("{\"command\":\"REGISTER\",\"username\":\"u\",\"secret\":\"1234567\"}") ==
        "REGISTER: field 'secret' exceeds the limit of 6 bytes");
  CHECK(error("{\"command\":\"LOGIN\",\"username\":\"123456789\",\"secret\":\"s\"}") ==
        "LOGIN: field 'username' exceeds the limit of 8 bytes");
  CHECK(error("{\"command\":\"AUTHENTICATE\",\"secret\":\"1234567\"}") ==
        "AUTHENTICATE: field 'secret' exceeds the limit of 6 bytes");
  CHECK(error("{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"u\",\"secret\":\"1234567\","
              "\"activity\":{}}") ==
        "ACTIVITY_MESSAGE: field 'secret' exceeds the limit of 6 bytes");
  CHECK(error("{\"command\":\"LOCK_REQUEST\",\"username\":\"123456789\",\"secret\":\"s\"}") ==
        "LOCK_REQUEST: field 'username' exceeds the limit of 8 bytes");
  CHECK(error("{\"command\":\"LOCK_ALLOWED\",\"username\":\"u\",\"secret\":\"s\",\"server\":\"12345\"}") ==
        "LOCK_ALLOWED: field 'server' exceeds the limit of 4 bytes");
  CHECK(error("{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"12345\",\"load\":0,\"hostname\":\"h\",\"port\":1}") ==
        "SERVER_ANNOUNCE: field 'id' exceeds the limit of 4 bytes");
  CHECK(error("{\"command\":\"SERVER_ANNOUNCE\",\"id\":\"1234\",\"load\":0,\"hostname\":\"123456\",\"port\":1}") ==
        "SERVER_ANNOUNCE: field 'hostname' exceeds the limit of 5 bytes");
  CHECK(error("{\"command\":\"REDIRECT\",\"hostname\":\"123456\",\"port\":1}") ==
        "REDIRECT: field 'hostname' exceeds the limit of 5 bytes");
  // anonymous needs no secret, so one given is not looked at.
  options.fields.username = 9;
  Parser anonymous(options);
  CHECK(anonymous.parse("{\"command\":\"LOGIN\",\"username\":\"anonymous\",\"secret\":\"1234567\"}")
            .ok());
}

TEST_CASE("a long line's parser memory is given back once it is parsed") {
  Parser parser(ParserOptions{2 << 20, 64, false});
  const std::string big = "{\"command\":\"LOGIN\",\"username\":\"anonymous\",\"pad\":\"" +
                          std::string(1 << 20, 'x') + "\"}";
  REQUIRE(parser.parse(big).ok());
  CHECK(parser.capacity() <= kParserKeepBytes);
  // Shorter lines keep the parser until the read is done; trim() then
  // gives back what an idle connection need not hold.
  const std::string mid = "{\"command\":\"LOGOUT\",\"pad\":\"" + std::string(9000, 'y') + "\"}";
  REQUIRE(parser.parse(mid).ok());
  CHECK(parser.capacity() >= mid.size());
  CHECK(parser.capacity() <= kLongParseBytes);
  parser.trim();
  CHECK(parser.capacity() <= kParserKeepBytes);
  REQUIRE(parser.parse(mid).ok());  // and it grows again when needed
}

TEST_CASE("redacted samples show the shape of a line but no value") {
  CHECK(redacted_sample("{\"command\":\"LOGIN\",\"username\":\"bob\",\"secret\":\"hunter2\"}", 200) ==
        "{\"command\":\"LOGIN\",\"username\":\"?\",\"secret\":\"?\"}");
  // Not JSON, an unterminated string, control bytes: still nothing leaks.
  CHECK(redacted_sample("{\"secret\": \"hunter2", 200) == "{\"secret\": \"?\"");
  CHECK(redacted_sample("{\"secret\":[\"hunter2\"]}\n\x1b[2J", 200) == "{\"secret\":[\"?\"]}?[?");
  // Names and commands show only when they are the protocol's own words.
  CHECK(redacted_sample("{\"command\" : \"X\\\"Y\",\"hunter2\":1}", 200) ==
        "{\"command\" : \"?\",\"?\":?}");
  CHECK(redacted_sample("{\"s\\u0065cret\":\"hunter2\"}", 200) == "{\"?\":\"?\"}");
  // Lines steered to make a value look like a name, or to put text
  // outside strings, or a secret given as a number.
  CHECK(redacted_sample("{\"secret\":\"username\" :\"x\"}", 200) ==
        "{\"secret\":\"?\" :\"?\"}");
  CHECK(redacted_sample("{\"secret\":\"pa\"ss:word-TOPSECRET\"}", 200) ==
        "{\"secret\":\"?\"?:?\"?\"");
  CHECK(redacted_sample("{\"command\":\"LOGIN\",\"secret\":12345}", 200) ==
        "{\"command\":\"LOGIN\",\"secret\":?}");
  CHECK(redacted_sample(std::string(500, 'a'), 80) == "?");
  CHECK(redacted_sample(std::string(100, '['), 80) == std::string(80, '[') + "...");
}

TEST_CASE("nesting counts containers: a scalar in the deepest one is no level") {
  // The activity (level 1) and 63 more levels fit the limit of 64, whether
  // the deepest container is empty or holds a value; 64 more do not.
  const std::string start = "{\"command\":\"ACTIVITY_MESSAGE\",\"username\":\"anonymous\","
                            "\"activity\":{\"a\":";
  for (const char* inner : {"", "1", "\"s\"", "{\"k\":1}"}) {
    CAPTURE(inner);
    const bool object_inside = inner[0] == '{';
    const std::size_t arrays = object_inside ? 62 : 63;
    CHECK(error_of(start + std::string(arrays, '[') + inner + std::string(arrays, ']') + "}}") ==
          "<ok>");
    CHECK(error_of(start + std::string(arrays + 1, '[') + inner + std::string(arrays + 1, ']') +
                   "}}") == "JSON nesting exceeds the limit of 64 levels");
  }
}

TEST_CASE("lone surrogate escapes are valid JSON and kept as written") {
  const std::string line = "{\"command\":\"ACTIVITY_BROADCAST\",\"activity\":{\"s\":\"a\\ud800b\","
                           "\"t\":\"\\udc00\",\"u\":\"\\ud83d\\ude00\",\"authenticated_user\":\"x\"}}";
  Message m = ok(line);
  CHECK(m.username == "x");
  CHECK(m.activity == "{\"s\":\"a\\ud800b\",\"t\":\"\\udc00\",\"u\":\"\\ud83d\\ude00\","
                      "\"authenticated_user\":\"x\"}");
  // An invalid escape stays an error, reported as the line's own.
  CHECK(error_of("{\"command\":\"LOGOUT\",\"x\":\"\\ud800\",\"y\":\"\\q\"}") ==
        "JSON parse error: Problem while parsing a string");
  CHECK(error_of("{\"command\":\"LOGOUT\",\"x\":1e400x}") ==
        "JSON number out of range or malformed");
}
