// Command-line parsing for activity-bench: see bench_options.h.
#include "bench_options.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <string_view>
#include <type_traits>

#include "activity_payload.h"

namespace bench {
namespace {

bool parse_int(std::string_view text, std::int64_t min, std::int64_t max, std::int64_t& out) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return false;
  }
  out = value;
  return true;
}

bool parse_double(std::string_view text, double min, double max, double& out) {
  const std::string copy(text);
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || !std::isfinite(value) || value < min ||
      value > max) {
    return false;
  }
  out = value;
  return true;
}

}  // namespace

std::int64_t BenchOptions::effective_window() const {
  if (window > 0) return window;
  if (rate <= 0) return kDefaultMaxThroughputWindow;
  return std::max<std::int64_t>(100, static_cast<std::int64_t>(rate * kRateWindowSeconds));
}

const char* system_name(System system) {
  return system == System::kNats ? "nats" : "activity";
}

const char* scenario_name(ScenarioKind scenario) {
  switch (scenario) {
    case ScenarioKind::kRegister: return "register";
    case ScenarioKind::kIdle: return "idle";
    case ScenarioKind::kStream: break;
  }
  return "stream";
}

JsonWriter result_json(const BenchOptions& options) {
  JsonWriter json;
  json.field("tool", "activity-bench")
      .field("scenario", scenario_name(options.scenario))
      .field("system", system_name(options.system))
      .field("label", options.label);
  return json;
}

std::string usage_text() {
  return R"(usage: activity-bench [options]

Load generator for the activity-stream server (and, for comparison, NATS).
Progress goes to stderr once a second, then a human-readable summary with a
latency distribution; stdout gets exactly one JSON line with the result.

General:
  --system activity|nats   protocol to speak (default activity)
  --scenario stream|register|idle
                           what to measure (default stream)
  --servers H:P[,H:P...]   servers for subscribers, idle clients and
                           registrations, used round-robin
                           (default 127.0.0.1:3780, or :4222 for nats)
  --label TEXT             copied into the JSON result
  --ready-file PATH        created when the measurement starts (stream) or
                           when every client is logged in (idle)
  --connect-concurrency N  clients connecting/logging in at once (default 200)
  --redirect follow|stay   on REDIRECT, log in where it points (follow,
                           default) or retry the assigned server after
                           200 ms (stay); both are counted
  --max-redirects N        per client, before giving up (default 100)
  --quiet                  no progress lines
  -h, --help               this text

stream: P publishers and S subscribers; every client receives every
activity (publishers too, their own copy being the acknowledgement).
  -P, --publishers N       (default 1)
  -S, --subscribers N      (default 10)
  --pub-servers H:P[,...]  servers for publishers (default: --servers)
  --size BYTES             activity object size, 64..1000000 (default 200)
  --rate N                 messages/s per publisher; 0 = maximum throughput
                           (default 0)
  --window N               unacknowledged messages per publisher (default 64
                           at maximum throughput; 5 s worth at a fixed rate,
                           where a full window skips the send and counts it)
  --warmup SECONDS         sending but not measuring (default 1)
  --duration SECONDS       measurement (default 5)
  --drain SECONDS          wait at most this long for messages in flight
                           after the measurement (default 10)
  --subject NAME           NATS subject (default bench.activity)

register: REGISTER round-trip time (activity system only).
  --count N                registrations, each with a unique name (default 100)
  --concurrency N          registrations in flight at once (default 1)

idle: log in N anonymous clients and hold them.
  --clients N              (default 1000)
  --duration SECONDS       how long to hold them once all are logged in

Exit status: 0 success; 1 the run failed (connection refused or lost, login
failed, registration failed); 2 bad command line; 3 messages were lost,
duplicated or reordered.
)";
}

ParseResult parse_options(int argc, char** argv) {
  ParseResult result;
  BenchOptions& o = result.options;
  std::string servers_text;
  std::string pub_servers_text;

  using Setter = std::function<bool(std::string_view)>;
  auto int_option = [](auto& field, std::int64_t min, std::int64_t max) -> Setter {
    return [&field, min, max](std::string_view text) {
      std::int64_t value = 0;
      if (!parse_int(text, min, max, value)) return false;
      field = static_cast<std::remove_reference_t<decltype(field)>>(value);
      return true;
    };
  };
  auto seconds_option = [](double& field, double min) -> Setter {
    return [&field, min](std::string_view text) { return parse_double(text, min, 86400, field); };
  };
  auto text_option = [](std::string& field) -> Setter {
    return [&field](std::string_view text) {
      field = std::string(text);
      return !field.empty();
    };
  };

  const std::map<std::string_view, Setter> with_value = {
      {"--system",
       [&](std::string_view v) {
         if (v == "activity") o.system = System::kActivity;
         else if (v == "nats") o.system = System::kNats;
         else return false;
         return true;
       }},
      {"--scenario",
       [&](std::string_view v) {
         if (v == "stream") o.scenario = ScenarioKind::kStream;
         else if (v == "register") o.scenario = ScenarioKind::kRegister;
         else if (v == "idle") o.scenario = ScenarioKind::kIdle;
         else return false;
         return true;
       }},
      {"--redirect",
       [&](std::string_view v) {
         if (v == "follow") o.redirect = RedirectPolicy::kFollow;
         else if (v == "stay") o.redirect = RedirectPolicy::kStay;
         else return false;
         return true;
       }},
      {"--servers", text_option(servers_text)},
      {"--pub-servers", text_option(pub_servers_text)},
      {"--publishers", int_option(o.publishers, 1, 100000)},
      {"-P", int_option(o.publishers, 1, 100000)},
      {"--subscribers", int_option(o.subscribers, 0, 1000000)},
      {"-S", int_option(o.subscribers, 0, 1000000)},
      {"--size", int_option(o.activity_size, static_cast<std::int64_t>(kMinActivitySize),
                                         static_cast<std::int64_t>(kMaxActivitySize))},
      {"--rate", [&](std::string_view v) { return parse_double(v, 0, 1e8, o.rate); }},
      {"--window", int_option(o.window, 1, 100000000)},
      {"--warmup", seconds_option(o.warmup_s, 0)},
      {"--duration", seconds_option(o.duration_s, 0)},
      {"--drain", seconds_option(o.drain_s, 0)},
      {"--max-redirects", int_option(o.max_redirects, 0, 1000000)},
      {"--clients", int_option(o.clients, 1, 10000000)},
      {"--count", int_option(o.count, 1, 100000000)},
      {"--concurrency", int_option(o.concurrency, 1, 100000)},
      {"--connect-concurrency", int_option(o.connect_concurrency, 1, 1000000)},
      {"--subject", text_option(o.subject)},
      {"--ready-file", text_option(o.ready_file)},
      {"--label", [&](std::string_view v) {
         o.label = std::string(v);
         return true;
       }},
  };

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      result.help = true;
      return result;
    }
    if (arg == "--quiet") {
      o.quiet = true;
      continue;
    }
    std::string_view value;
    bool inline_value = false;
    if (const std::size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inline_value = true;
    }
    const auto it = with_value.find(arg);
    if (it == with_value.end()) {
      result.error = "unknown option '" + std::string(arg) + "'";
      return result;
    }
    if (!inline_value) {
      if (i + 1 >= argc) {
        result.error = "option '" + std::string(arg) + "' needs a value";
        return result;
      }
      value = argv[++i];
    }
    if (!it->second(value)) {
      result.error = "bad value '" + std::string(value) + "' for option '" + std::string(arg) + "'";
      return result;
    }
  }

  const std::uint16_t default_port =
      o.system == System::kNats ? kDefaultNatsPort : kDefaultActivityPort;
  if (servers_text.empty()) {
    o.servers = {Endpoint{"127.0.0.1", default_port}};
  } else if (!parse_endpoint_list(servers_text, o.servers)) {
    result.error = "bad --servers list '" + servers_text + "' (expected host:port,...)";
    return result;
  }
  if (pub_servers_text.empty()) {
    o.pub_servers = o.servers;
  } else if (!parse_endpoint_list(pub_servers_text, o.pub_servers)) {
    result.error = "bad --pub-servers list '" + pub_servers_text + "' (expected host:port,...)";
    return result;
  }
  if (o.scenario == ScenarioKind::kRegister && o.system != System::kActivity) {
    result.error = "--scenario register needs --system activity (NATS has no registration)";
  }
  return result;
}

}  // namespace bench
