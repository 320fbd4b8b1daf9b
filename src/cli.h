// Command-line parsing shared by the server and the client: a declarative
// table of options, the original skeleton's multi-letter short flags (-lp,
// -rh, ...) mapped to their long forms, and number parsing with one-line
// errors that name the argument. cxxopts does the parsing; it is confined to
// cli.cpp, since its header is by far the costliest one to compile.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace activity {

// A bad command line; what() is one line naming the argument.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using FlagAliases = std::vector<std::pair<std::string, std::string>>;

struct OptionSpec {
  // "long-name", or "x,long-name" to accept the one-letter form -x too.
  std::string names;
  std::string help;
  // Options that take a value take it as text; a flag takes none.
  bool takes_value = true;
  std::optional<std::string> default_value;
};

struct CommandSpec {
  std::string program;
  std::string description;
  std::vector<OptionSpec> options;
  // Multi-letter short flags ("-lp") and the long forms they stand for.
  FlagAliases aliases;
};

// A parsed command line, by long option name.
class ParsedArguments {
 public:
  // True when the option was given (a default does not count).
  bool given(const std::string& name) const { return given_.count(name) != 0; }
  // The option's value, or its default; throws std::out_of_range for an
  // option that has neither (check given() first).
  const std::string& value(const std::string& name) const {
    return values_.at(name);
  }

 private:
  friend ParsedArguments parse_arguments(const CommandSpec&, int,
                                         const char* const*);
  std::set<std::string> given_;
  std::map<std::string, std::string> values_;
};

// Copies argv, replacing each alias ("-lp" or "-lp=VALUE") by its long
// form ("--local-port", "--local-port=VALUE").
std::vector<std::string> expand_flag_aliases(int argc, const char* const* argv,
                                             const FlagAliases& aliases);

// Expands the aliases in argv and parses it. Throws UsageError for an
// unknown option, a missing value and an unexpected positional argument.
ParsedArguments parse_arguments(const CommandSpec& spec, int argc,
                                const char* const* argv);

// The --help text: usage line and one line per option.
std::string help_text(const CommandSpec& spec);

// Parses a whole decimal number within [min, max]; throws UsageError.
std::uint64_t parse_number(const std::string& option, const std::string& text,
                           std::uint64_t min, std::uint64_t max);

}  // namespace activity
