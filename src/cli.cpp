// Command-line helpers (see cli.h).
#include "cli.h"

#include <cerrno>
#include <cstdlib>

namespace activity {

std::vector<std::string> expand_flag_aliases(int argc, const char* const* argv,
                                             const FlagAliases& aliases) {
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    for (const auto& [alias, long_form] : aliases) {
      if (arg == alias) {
        arg = long_form;
        break;
      }
      if (arg.rfind(alias + "=", 0) == 0) {
        arg = long_form + arg.substr(alias.size());
        break;
      }
    }
    out.push_back(std::move(arg));
  }
  return out;
}

cxxopts::ParseResult parse_arguments(cxxopts::Options& spec, int argc,
                                     const char* const* argv,
                                     const FlagAliases& aliases) {
  const std::vector<std::string> args = expand_flag_aliases(argc, argv, aliases);
  std::vector<const char*> pointers;
  for (const std::string& arg : args) pointers.push_back(arg.c_str());
  cxxopts::ParseResult parsed;
  try {
    parsed = spec.parse(static_cast<int>(pointers.size()), pointers.data());
  } catch (const cxxopts::exceptions::exception& error) {
    throw UsageError(error.what());
  }
  if (!parsed.unmatched().empty()) {
    throw UsageError("unexpected argument '" + parsed.unmatched().front() + "'");
  }
  return parsed;
}

std::uint64_t parse_number(const std::string& option, const std::string& text,
                           std::uint64_t min, std::uint64_t max) {
  const std::string range =
      " (expected a whole number from " + std::to_string(min) + " to " +
      std::to_string(max) + ")";
  if (text.empty() || text[0] < '0' || text[0] > '9') {
    throw UsageError("invalid value '" + text + "' for " + option + range);
  }
  errno = 0;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || value < min || value > max) {
    throw UsageError("invalid value '" + text + "' for " + option + range);
  }
  return value;
}

}  // namespace activity
