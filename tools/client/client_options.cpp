// Client command-line parsing (see client_options.h). cxxopts only knows
// single-letter short options, so the skeleton's -rh and -rp are rewritten
// to their long forms first (parse_arguments); numbers go through
// parse_number so that every error names the option it is about.
#include "client_options.h"

#include <cxxopts.hpp>

#include "cli.h"
#include "exit_status.h"

namespace activity::client {
namespace {

const FlagAliases kAliases = {
    {"-rh", "--remote-host"},
    {"-rp", "--remote-port"},
};

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

std::string non_empty(const cxxopts::ParseResult& parsed, const char* name) {
  std::string value = parsed[name].as<std::string>();
  if (value.empty()) {
    throw UsageError(std::string("--") + name + " must not be empty");
  }
  return value;
}

}  // namespace

ClientCommandLine parse_client_command_line(int argc,
                                            const char* const* argv) {

  cxxopts::Options spec("activity-client",
                        "A line-based client of the activity-stream network: "
                        "activities in on standard input, out on standard "
                        "output.");
  spec.custom_help("[options]");
  const ClientOptions defaults;
  auto text = [](const std::string& value) {
    return cxxopts::value<std::string>()->default_value(value);
  };
  spec.add_options()
      ("remote-host", "server to connect to; -rh", text(defaults.server.host))
      ("remote-port", "port of that server; -rp",
       text(std::to_string(defaults.server.port)))
      ("u,username", "user to log in as", text(defaults.username))
      ("s,secret",
       "the user's secret (without it, a user other than anonymous is "
       "registered with a generated secret)",
       cxxopts::value<std::string>())
      ("secret-file",
       "write a generated secret to this new file (mode 0600) instead of "
       "standard output",
       cxxopts::value<std::string>())
      ("max-redirects", "most REDIRECTs followed in a row",
       text(std::to_string(kDefaultMaxRedirects)))
      ("reply-timeout",
       "ms to wait for the answer to REGISTER or LOGIN",
       text(std::to_string(kDefaultReplyTimeout.count())))
      ("q,quiet", "no status lines on standard error, only warnings and errors")
      ("h,help", "print this help and exit");

  const cxxopts::ParseResult parsed =
      parse_arguments(spec, argc, argv, kAliases);

  ClientCommandLine out;
  if (parsed.count("help") != 0) {
    out.show_help = true;
    out.help_text = spec.help() + help_epilogue();
    return out;
  }
  ClientOptions& o = out.options;
  o.server.host = non_empty(parsed, "remote-host");
  o.server.port = static_cast<std::uint16_t>(parse_number(
      "--remote-port", parsed["remote-port"].as<std::string>(), 1, 65535));
  o.username = non_empty(parsed, "username");
  const bool anonymous = o.username == "anonymous";
  if (parsed.count("secret") != 0) {
    const std::string secret = non_empty(parsed, "secret");
    // The protocol ignores a secret given with anonymous; so do we.
    if (!anonymous) o.secret = secret;
  }
  o.generate_secret = !anonymous && !o.secret;
  if (parsed.count("secret-file") != 0) {
    o.secret_file = non_empty(parsed, "secret-file");
    if (!o.generate_secret) {
      throw UsageError(
          "--secret-file only applies when a secret is generated (a "
          "username other than anonymous, without --secret)");
    }
  }
  o.max_redirects = static_cast<std::size_t>(
      parse_number("--max-redirects", parsed["max-redirects"].as<std::string>(),
                   0, kMaxRedirectsLimit));
  o.reply_timeout = Millis(parse_number(
      "--reply-timeout", parsed["reply-timeout"].as<std::string>(), 1,
      kMaxReplyTimeoutMillis));
  o.quiet = parsed.count("quiet") != 0;
  return out;
}

}  // namespace activity::client
