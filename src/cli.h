// Command-line helpers shared by the server and the client: the original
// skeleton's multi-letter short flags (-lp, -rh, ...) mapped to their long
// forms for cxxopts, and number parsing with one-line errors that name the
// argument.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <cxxopts.hpp>

namespace activity {

// A bad command line; what() is one line naming the argument.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using FlagAliases = std::vector<std::pair<std::string, std::string>>;

// Copies argv, replacing each alias ("-lp" or "-lp=VALUE") by its long
// form ("--local-port", "--local-port=VALUE").
std::vector<std::string> expand_flag_aliases(int argc, const char* const* argv,
                                             const FlagAliases& aliases);

// Expands `aliases` in argv and parses it with `spec`. Throws UsageError
// for anything cxxopts refuses and for unexpected positional arguments.
cxxopts::ParseResult parse_arguments(cxxopts::Options& spec, int argc,
                                     const char* const* argv,
                                     const FlagAliases& aliases);

// Parses a whole decimal number within [min, max]; throws UsageError.
std::uint64_t parse_number(const std::string& option, const std::string& text,
                           std::uint64_t min, std::uint64_t max);

}  // namespace activity
