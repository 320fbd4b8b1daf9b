// Command-line helpers (see cli.h).
#include "cli.h"

#include <cerrno>
#include <cstdlib>
#include <memory>

#include <cxxopts.hpp>

namespace activity {
namespace {

// "s,secret" -> "secret"; "secret" -> "secret".
std::string long_name(const std::string& names) {
  const std::size_t comma = names.find(',');
  return comma == std::string::npos ? names : names.substr(comma + 1);
}

cxxopts::Options make_options(const CommandSpec& spec) {
  cxxopts::Options options(spec.program, spec.description);
  options.custom_help("[options]");
  auto adder = options.add_options();
  for (const OptionSpec& option : spec.options) {
    if (!option.takes_value) {
      adder(option.names, option.help);
      continue;
    }
    auto value = cxxopts::value<std::string>();
    if (option.default_value) value->default_value(*option.default_value);
    adder(option.names, option.help, value);
  }
  return options;
}

}  // namespace

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

ParsedArguments parse_arguments(const CommandSpec& spec, int argc,
                                const char* const* argv) {
  const std::vector<std::string> args =
      expand_flag_aliases(argc, argv, spec.aliases);
  std::vector<const char*> pointers;
  for (const std::string& arg : args) pointers.push_back(arg.c_str());
  cxxopts::Options options = make_options(spec);
  ParsedArguments out;
  try {
    const cxxopts::ParseResult parsed =
        options.parse(static_cast<int>(pointers.size()), pointers.data());
    if (!parsed.unmatched().empty()) {
      throw UsageError("unexpected argument '" + parsed.unmatched().front() +
                       "'");
    }
    for (const OptionSpec& option : spec.options) {
      const std::string name = long_name(option.names);
      const bool given = parsed.count(name) != 0;
      if (given) out.given_.insert(name);
      if (option.takes_value && (given || option.default_value)) {
        out.values_[name] = parsed[name].as<std::string>();
      }
    }
  } catch (const cxxopts::exceptions::exception& error) {
    throw UsageError(error.what());
  }
  return out;
}

std::string help_text(const CommandSpec& spec) {
  return make_options(spec).help();
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
