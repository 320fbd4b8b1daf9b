// The server's command line (PROTOCOL.md section 8): the original
// skeleton's flags and their long forms, plus a named option for every
// limit in named_limits.h. Parsing is separate from main() so tests can check it.
#pragma once

#include <string>

#include "log.h"
#include "server.h"

namespace activity {

struct ServerCommandLine {
  ServerOptions options;
  LogLevel log_level = LogLevel::kInfo;
  std::size_t log_lines_per_second = kDefaultLogLinesPerSecond;
  bool show_help = false;
  std::string help_text;
  // True when no -s was given: main() generates the secret and prints it.
  bool generate_secret = false;
};

// Throws UsageError (one line, naming the argument) on a bad command line.
ServerCommandLine parse_server_command_line(int argc, const char* const* argv);

}  // namespace activity
