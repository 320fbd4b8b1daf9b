// Client command-line parsing (see client_options.h). cxxopts only knows
// single-letter short options, so the skeleton's -rh and -rp are rewritten
// to their long forms first (parse_arguments); numbers go through
// parse_number so that every error names the option it is about.
#include "client_options.h"

#include <algorithm>
#include <optional>
#include <string>

#include "cli.h"
#include "exit_status.h"

namespace activity::client {
namespace {

constexpr std::uint64_t kMaxReplyTimeoutMillis = 24ULL * 3600 * 1000;

std::string help_epilogue() {
  return "\nThe original short flags are accepted: -rh -rp -u -s.\n"
         "\n"
         "Standard input: one activity (a JSON object) per line, each sent as\n"
         "ACTIVITY_MESSAGE; a line that is not a JSON object is reported on\n"
         "standard error and skipped. End of input logs out.\n"
         "Standard output: every activity received, one compact JSON object\n"
         "per line. When a secret is generated (a username without --secret)\n"
         "it is printed first as {\"generated_secret\":\"...\",\"username\":"
         "\"...\"},\nor written to --secret-file instead.\n"
         "Standard error: status lines (not with --quiet) and errors.\n"
         "\n"
         "Exit status:\n" +
         exit_status_help();
}

// --servers: host:port entries separated by commas ("[v6]:port" too).
std::vector<Endpoint> parse_servers(const std::string& list) {
  std::vector<Endpoint> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string entry = list.substr(start, comma - start);
    const std::size_t colon = entry.rfind(':');
    if (entry.empty() || colon == std::string::npos || colon == 0) {
      throw UsageError("--servers: expected host:port, got '" + entry + "'");
    }
    std::string host = entry.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    const auto port = static_cast<std::uint16_t>(
        parse_number("--servers", entry.substr(colon + 1), 1, 65535));
    out.push_back(Endpoint{host, port});
    if (out.size() > kMaxOtherServers) {
      throw UsageError("--servers: at most " + std::to_string(kMaxOtherServers) +
                       " servers");
    }
    start = comma + 1;
  }
  return out;
}

std::string non_empty(const ParsedArguments& parsed, const char* name) {
  std::string value = parsed.value(name);
  if (value.empty()) {
    throw UsageError(std::string("--") + name + " must not be empty");
  }
  return value;
}

CommandSpec client_command_spec() {
  const ClientOptions defaults;
  const std::nullopt_t none = std::nullopt;
  return CommandSpec{
      "activity-client",
      "A line-based client of the activity-stream network: activities in on "
      "standard input, out on standard output.",
      {
          {"remote-host", "server to connect to; -rh", true,
           defaults.server.host},
          {"remote-port", "port of that server; -rp", true,
           std::to_string(defaults.server.port)},
          {"u,username", "user to log in as", true, defaults.username},
          {"s,secret",
           "the user's secret (without it, a user other than anonymous is "
           "registered with a generated secret)",
           true, none},
          {"secret-file",
           "write a generated secret to this new file (mode 0600) instead of "
           "standard output",
           true, none},
          {"max-redirects", "most REDIRECTs followed in a row", true,
           std::to_string(kDefaultMaxRedirects)},
          {"reply-timeout", "ms to wait for the answer to REGISTER or LOGIN",
           true, std::to_string(kDefaultReplyTimeout.count())},
          {"reconnect-for",
           "ms to keep reconnecting (and logging in again) when the server is "
           "lost; 0 to exit at once",
           true, std::to_string(kDefaultReconnectFor.count())},
          {"servers",
           "other servers to reconnect to, as host:port,host:port,...", true,
           none},
          {"q,quiet",
           "no status lines on standard error, only warnings and errors",
           false, none},
          {"h,help", "print this help and exit", false, none},
      },
      {
          {"-rh", "--remote-host"},
          {"-rp", "--remote-port"},
      },
  };
}

}  // namespace

ClientCommandLine parse_client_command_line(int argc,
                                            const char* const* argv) {
  const CommandSpec spec = client_command_spec();
  const ParsedArguments parsed = parse_arguments(spec, argc, argv);

  ClientCommandLine out;
  if (parsed.given("help")) {
    out.show_help = true;
    out.help_text = help_text(spec) + help_epilogue();
    return out;
  }
  ClientOptions& o = out.options;
  o.server.host = non_empty(parsed, "remote-host");
  o.server.port = static_cast<std::uint16_t>(parse_number(
      "--remote-port", parsed.value("remote-port"), 1, 65535));
  o.username = non_empty(parsed, "username");
  const bool anonymous = o.username == "anonymous";
  if (parsed.given("secret")) {
    const std::string secret = non_empty(parsed, "secret");
    // The protocol ignores a secret given with anonymous; so do we.
    if (!anonymous) o.secret = secret;
  }
  o.generate_secret = !anonymous && !o.secret;
  if (parsed.given("secret-file")) {
    o.secret_file = non_empty(parsed, "secret-file");
    if (!o.generate_secret) {
      throw UsageError(
          "--secret-file only applies when a secret is generated (a "
          "username other than anonymous, without --secret)");
    }
  }
  o.max_redirects = static_cast<std::size_t>(
      parse_number("--max-redirects", parsed.value("max-redirects"), 0,
                   kMaxRedirectsLimit));
  o.reply_timeout = Millis(parse_number(
      "--reply-timeout", parsed.value("reply-timeout"), 1,
      kMaxReplyTimeoutMillis));
  o.reconnect_for = Millis(parse_number(
      "--reconnect-for", parsed.value("reconnect-for"), 0, kMaxReplyTimeoutMillis));
  if (parsed.given("servers")) o.others = parse_servers(parsed.value("servers"));
  o.quiet = parsed.given("quiet");
  return out;
}

}  // namespace activity::client
