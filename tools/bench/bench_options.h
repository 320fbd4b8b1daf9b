// The command line of activity-bench: every option with its default, the
// parser, and the usage text. Parsing only checks the syntax and ranges of
// values; which options matter depends on the scenario (see usage_text()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "endpoint.h"
#include "json_writer.h"

namespace bench {

enum class System { kActivity, kNats };
enum class ScenarioKind { kStream, kRegister, kIdle };
enum class RedirectPolicy {
  kFollow,  // log in again where the REDIRECT points
  kStay,    // count it, wait a little, and log in again at the home server
};

inline constexpr std::uint16_t kDefaultActivityPort = 3780;
inline constexpr std::uint16_t kDefaultNatsPort = 4222;
inline constexpr std::int64_t kDefaultMaxThroughputWindow = 64;
// In rate mode the window only bounds memory if the server falls behind:
// this many seconds' worth of messages per publisher (at least 100).
inline constexpr double kRateWindowSeconds = 5.0;
inline constexpr std::size_t kMaxActivitySize = 1000 * 1000;

struct BenchOptions {
  System system = System::kActivity;
  ScenarioKind scenario = ScenarioKind::kStream;
  std::vector<Endpoint> servers;      // subscribers, idle clients, registrations
  std::vector<Endpoint> pub_servers;  // publishers (defaults to servers)
  int publishers = 1;
  int subscribers = 10;
  std::size_t activity_size = 200;
  double rate = 0;         // messages/s per publisher; 0 = maximum throughput
  std::int64_t window = 0;  // unacknowledged messages per publisher; 0 = default
  double warmup_s = 1;
  double duration_s = 5;
  double drain_s = 10;
  RedirectPolicy redirect = RedirectPolicy::kFollow;
  int max_redirects = 100;
  int clients = 1000;
  int count = 100;
  int concurrency = 1;
  int connect_concurrency = 200;
  std::string subject = "bench.activity";
  std::string ready_file;
  std::string label;
  bool quiet = false;

  // The window in force: the option, or the default for the mode.
  std::int64_t effective_window() const;
};

struct ParseResult {
  BenchOptions options;
  bool help = false;
  std::string error;  // non-empty: bad command line
};

ParseResult parse_options(int argc, char** argv);
std::string usage_text();

const char* system_name(System system);
const char* scenario_name(ScenarioKind scenario);

// The result line's common fields: tool, scenario, system and label.
JsonWriter result_json(const BenchOptions& options);

}  // namespace bench
