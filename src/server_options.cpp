// Server command-line parsing (see server_options.h).
#include "server_options.h"

#include <cxxopts.hpp>

#include "cli.h"

namespace activity {
namespace {

const FlagAliases kAliases = {
    {"-lp", "--local-port"},  {"-lh", "--local-host"},
    {"-rh", "--remote-host"}, {"-rp", "--remote-port"},
};

constexpr std::uint64_t kMaxMillis = 24ULL * 3600 * 1000;

Millis millis_option(const cxxopts::ParseResult& parsed, const char* name,
                     std::uint64_t min) {
  return Millis(parse_number(std::string("--") + name,
                             parsed[name].as<std::string>(), min, kMaxMillis));
}

std::size_t size_option(const cxxopts::ParseResult& parsed, const char* name,
                        std::uint64_t min, std::uint64_t max) {
  return static_cast<std::size_t>(parse_number(
      std::string("--") + name, parsed[name].as<std::string>(), min, max));
}

}  // namespace

ServerCommandLine parse_server_command_line(int argc,
                                            const char* const* argv) {

  cxxopts::Options spec("activity-server",
                        "A server of the multi-server activity-stream network.");
  spec.custom_help("[options]");
  const ServerOptions defaults;
  auto text = [](auto value) { return cxxopts::value<std::string>()->default_value(std::to_string(value)); };
  spec.add_options()
      ("local-port", "port to listen on; -lp (0 picks a free port)", text(kDefaultPort))
      ("local-host", "hostname announced to other servers for redirects; -lh",
       cxxopts::value<std::string>()->default_value(defaults.local_host))
      ("remote-host", "server to join at start-up; -rh", cxxopts::value<std::string>())
      ("remote-port", "port of the server to join; -rp", text(kDefaultPort))
      ("s,secret", "the network's server secret (generated and printed if alone)",
       cxxopts::value<std::string>())
      ("a,announce-interval", "ms between SERVER_ANNOUNCE messages",
       text(kDefaultAnnounceInterval.count()))
      ("bind", "listen on this address only (default: every IPv4 and IPv6 address)",
       cxxopts::value<std::string>())
      ("max-line-bytes", "longest accepted line", text(kDefaultMaxLineBytes))
      ("max-depth", "deepest accepted activity nesting", text(kDefaultMaxDepth))
      ("lock-timeout", "ms a registration waits for every server", text(kDefaultLockTimeout.count()))
      ("server-timeout", "ms of silence after which a server is forgotten",
       text(kDefaultServerTimeout.count()))
      ("handshake-timeout", "ms a new connection has to send its first message",
       text(kDefaultHandshakeTimeout.count()))
      ("line-timeout", "ms a started line has to be completed", text(kDefaultLineTimeout.count()))
      ("write-timeout", "ms a blocked write may take before the peer is dropped",
       text(kDefaultWriteTimeout.count()))
      ("max-connections", "most connections open at once", text(kDefaultMaxConnections))
      ("client-queue-bytes", "most bytes queued for one client", text(kDefaultClientQueueBytes))
      ("server-queue-bytes", "most bytes queued for one server link", text(kDefaultServerQueueBytes))
      ("log-level", "debug, info, warn, error or off", cxxopts::value<std::string>()->default_value("info"))
      ("h,help", "print this help and exit");

  const cxxopts::ParseResult parsed =
      parse_arguments(spec, argc, argv, kAliases);

  ServerCommandLine out;
  if (parsed.count("help") != 0) {
    out.show_help = true;
    out.help_text = spec.help();
    out.help_text +=
        "\nThe original short flags are accepted: -lp -lh -rh -rp -s -a.\n"
        "A server started alone without -s prints a generated secret on\n"
        "standard output; logs go to standard error.\n";
    return out;
  }
  ServerOptions& o = out.options;
  o.local_port = static_cast<std::uint16_t>(
      size_option(parsed, "local-port", 0, 65535));
  o.local_host = parsed["local-host"].as<std::string>();
  if (o.local_host.empty()) throw UsageError("--local-host must not be empty");
  if (parsed.count("remote-host") != 0) {
    o.remote_host = parsed["remote-host"].as<std::string>();
    if (o.remote_host.empty()) {
      throw UsageError("--remote-host must not be empty");
    }
  }
  o.remote_port = static_cast<std::uint16_t>(
      size_option(parsed, "remote-port", 1, 65535));
  if (parsed.count("secret") != 0) {
    o.secret = parsed["secret"].as<std::string>();
    if (o.secret.empty()) throw UsageError("--secret must not be empty");
  }
  if (!o.remote_host.empty() && o.secret.empty()) {
    throw UsageError(
        "--remote-host needs --secret: joining a network needs its secret");
  }
  out.generate_secret = o.secret.empty();
  o.announce_interval = millis_option(parsed, "announce-interval", 1);
  if (parsed.count("bind") != 0) o.bind_address = parsed["bind"].as<std::string>();
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
  const std::string level = parsed["log-level"].as<std::string>();
  const std::optional<LogLevel> parsed_level = parse_log_level(level);
  if (!parsed_level) {
    throw UsageError("invalid value '" + level +
                     "' for --log-level (expected debug, info, warn, error or off)");
  }
  out.log_level = *parsed_level;
  return out;
}

}  // namespace activity
