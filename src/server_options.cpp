// Server command-line parsing (see server_options.h).
#include "server_options.h"

#include <algorithm>
#include <optional>
#include <string>

#include "cli.h"
#include "secret.h"

namespace activity {
namespace {

constexpr std::uint64_t kMaxMillis = 24ULL * 3600 * 1000;

Millis millis_option(const ParsedArguments& parsed, const char* name,
                     std::uint64_t min) {
  return Millis(parse_number(std::string("--") + name, parsed.value(name), min,
                             kMaxMillis));
}

std::size_t size_option(const ParsedArguments& parsed, const char* name,
                        std::uint64_t min, std::uint64_t max) {
  return static_cast<std::size_t>(
      parse_number(std::string("--") + name, parsed.value(name), min, max));
}

CommandSpec server_command_spec() {
  const ServerOptions defaults;
  auto number = [](auto value) {
    return std::optional<std::string>(std::to_string(value));
  };
  const std::nullopt_t none = std::nullopt;
  return CommandSpec{
      "activity-server",
      "A server of the multi-server activity-stream network.",
      {
          {"local-port", "port to listen on; -lp (0 picks a free port)", true,
           number(kDefaultPort)},
          {"local-host", "hostname announced to other servers for redirects; -lh",
           true, defaults.local_host},
          {"remote-host", "server to join at start-up; -rh", true, none},
          {"remote-port", "port of the server to join; -rp", true,
           number(kDefaultPort)},
          {"s,secret",
           "the network's server secret (generated and printed if alone)", true,
           none},
          {"a,announce-interval", "ms between SERVER_ANNOUNCE messages", true,
           number(kDefaultAnnounceInterval.count())},
          {"bind",
           "listen on this address only (default: every IPv4 and IPv6 address)",
           true, none},
          {"max-line-bytes", "longest accepted line", true,
           number(kDefaultMaxLineBytes)},
          {"max-depth", "deepest accepted activity nesting", true,
           number(kDefaultMaxDepth)},
          {"lock-timeout", "ms a registration waits for every server", true,
           number(kDefaultLockTimeout.count())},
          {"server-timeout", "ms of silence after which a server is forgotten",
           true, number(kDefaultServerTimeout.count())},
          {"handshake-timeout",
           "ms a new connection has to send its first message", true,
           number(kDefaultHandshakeTimeout.count())},
          {"line-timeout", "ms a started line has to be completed", true,
           number(kDefaultLineTimeout.count())},
          {"write-timeout",
           "ms a blocked write may take before the peer is dropped", true,
           number(kDefaultWriteTimeout.count())},
          {"max-connections", "most connections open at once", true,
           number(kDefaultMaxConnections)},
          {"client-queue-bytes", "most bytes queued for one client", true,
           number(kDefaultClientQueueBytes)},
          {"server-queue-bytes", "most bytes queued for one server link", true,
           number(kDefaultServerQueueBytes)},
          {"long-line-budget",
           "read-buffer bytes all connections together may use for lines "
           "over 64 KiB",
           true, number(kDefaultLongLineBudgetBytes)},
          {"max-username-bytes", "longest accepted username", true,
           number(kDefaultMaxUsernameBytes)},
          {"max-secret-bytes", "longest accepted secret", true,
           number(kDefaultMaxSecretBytes)},
          {"max-id-bytes", "longest accepted server id", true,
           number(kDefaultMaxIdBytes)},
          {"max-hostname-bytes", "longest accepted hostname", true,
           number(kDefaultMaxHostnameBytes)},
          {"max-users", "most users stored", true, number(kDefaultMaxUsers)},
          {"max-known-servers", "most other servers known", true,
           number(kDefaultMaxKnownServers)},
          {"max-pending-registrations",
           "most registrations this server waits on at once", true,
           number(kDefaultMaxPendingRegistrations)},
          {"max-registrations-per-connection",
           "REGISTERs accepted on one connection", true,
           number(kDefaultMaxRegistrationsPerConnection)},
          {"max-registrations-per-second",
           "REGISTERs accepted per second from all clients", true,
           number(kDefaultRegistrationsPerSecond)},
          {"link-timeout",
           "ms of silence after which a link to one of our servers is closed "
           "(default: 3 announce intervals, at least 500)",
           true, none},
          {"reconnect-min", "first ms between attempts to rejoin the network",
           true, number(kDefaultReconnectMin.count())},
          {"reconnect-max", "most ms between attempts to rejoin the network",
           true, number(kDefaultReconnectMax.count())},
          {"no-extensions",
           "send exactly the original protocol's messages: no healing, no "
           "extra fields",
           false, none},
          {"log-level", "debug, info, warn, error or off", true,
           std::string("info")},
          {"log-lines-per-second",
           "most log lines written per second (the rest are counted)", true,
           number(kDefaultLogLinesPerSecond)},
          {"h,help", "print this help and exit", false, none},
      },
      {
          {"-lp", "--local-port"},
          {"-lh", "--local-host"},
          {"-rh", "--remote-host"},
          {"-rp", "--remote-port"},
      },
  };
}

}  // namespace

ServerCommandLine parse_server_command_line(int argc,
                                            const char* const* argv) {
  const CommandSpec spec = server_command_spec();
  const ParsedArguments parsed = parse_arguments(spec, argc, argv);

  ServerCommandLine out;
  if (parsed.given("help")) {
    out.show_help = true;
    out.help_text = help_text(spec);
    out.help_text +=
        "\nThe original short flags are accepted: -lp -lh -rh -rp -s -a.\n"
        "A server started alone without -s prints a generated secret on\n"
        "standard output; logs go to standard error.\n";
    return out;
  }
  ServerOptions& o = out.options;
  o.local_port = static_cast<std::uint16_t>(
      size_option(parsed, "local-port", 0, 65535));
  o.local_host = parsed.value("local-host");
  if (o.local_host.empty()) throw UsageError("--local-host must not be empty");
  if (parsed.given("remote-host")) {
    o.remote_host = parsed.value("remote-host");
    if (o.remote_host.empty()) {
      throw UsageError("--remote-host must not be empty");
    }
  }
  o.remote_port = static_cast<std::uint16_t>(
      size_option(parsed, "remote-port", 1, 65535));
  if (parsed.given("secret")) {
    o.secret = parsed.value("secret");
    if (o.secret.empty()) throw UsageError("--secret must not be empty");
  }
  if (!o.remote_host.empty() && o.secret.empty()) {
    throw UsageError(
        "--remote-host needs --secret: joining a network needs its secret");
  }
  out.generate_secret = o.secret.empty();
  o.announce_interval = millis_option(parsed, "announce-interval", 1);
  if (parsed.given("bind")) o.bind_address = parsed.value("bind");
  o.max_line_bytes = size_option(parsed, "max-line-bytes", 256, 1ULL << 30);
  o.max_depth = size_option(parsed, "max-depth", 1, 1024);
  o.lock_timeout = millis_option(parsed, "lock-timeout", 1);
  o.server_timeout = millis_option(parsed, "server-timeout", 1);
  o.handshake_timeout = millis_option(parsed, "handshake-timeout", 1);
  o.line_timeout = millis_option(parsed, "line-timeout", 1);
  o.write_timeout = millis_option(parsed, "write-timeout", 1);
  o.max_connections = size_option(parsed, "max-connections", 1, 1000000);
  o.client_queue_bytes = size_option(parsed, "client-queue-bytes", 1024, 1ULL << 40);
  o.server_queue_bytes = size_option(parsed, "server-queue-bytes", 1024, 1ULL << 40);
  o.long_line_budget = size_option(parsed, "long-line-budget", 0, 1ULL << 40);
  constexpr std::uint64_t kMaxField = 1ULL << 20;
  o.fields.username = size_option(parsed, "max-username-bytes", 1, kMaxField);
  o.fields.secret = size_option(parsed, "max-secret-bytes", 1, kMaxField);
  o.fields.id = size_option(parsed, "max-id-bytes", 1, kMaxField);
  o.fields.hostname = size_option(parsed, "max-hostname-bytes", 1, kMaxField);
  if (o.fields.username < 9) {
    throw UsageError("--max-username-bytes must be at least 9 (anonymous)");
  }
  if (o.fields.id < kGeneratedSecretBytes) {
    throw UsageError("--max-id-bytes must be at least " +
                     std::to_string(kGeneratedSecretBytes) + " (this server's own id)");
  }
  if (o.fields.hostname < o.local_host.size()) {
    throw UsageError("--max-hostname-bytes is shorter than --local-host");
  }
  o.extensions = !parsed.given("no-extensions");
  o.link_timeout = std::max(kMinLinkTimeout, 3 * o.announce_interval);
  if (parsed.given("link-timeout")) {
    o.link_timeout = millis_option(parsed, "link-timeout",
                                   static_cast<std::uint64_t>(kMinLinkTimeout.count()));
  }
  o.reconnect_min = millis_option(parsed, "reconnect-min", 1);
  o.reconnect_max = millis_option(parsed, "reconnect-max", 1);
  if (o.reconnect_max < o.reconnect_min) {
    throw UsageError("--reconnect-max must not be below --reconnect-min");
  }
  constexpr std::uint64_t kMaxCount = 100000000;
  o.node.max_users = size_option(parsed, "max-users", 1, kMaxCount);
  o.node.max_known_servers = size_option(parsed, "max-known-servers", 1, kMaxCount);
  o.node.max_pending_registrations =
      size_option(parsed, "max-pending-registrations", 1, kMaxCount);
  o.node.max_registrations_per_connection =
      size_option(parsed, "max-registrations-per-connection", 1, kMaxCount);
  o.node.registrations_per_second =
      size_option(parsed, "max-registrations-per-second", 1, kMaxCount);
  out.log_lines_per_second =
      size_option(parsed, "log-lines-per-second", 1, kMaxCount);
  const std::string level = parsed.value("log-level");
  const std::optional<LogLevel> parsed_level = parse_log_level(level);
  if (!parsed_level) {
    throw UsageError("invalid value '" + level +
                     "' for --log-level (expected debug, info, warn, error or off)");
  }
  out.log_level = *parsed_level;
  return out;
}

}  // namespace activity
