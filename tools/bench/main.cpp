// activity-bench: the load generator for the activity-stream server, which
// can run the same scenarios against nats-server for comparison. main()
// parses the command line, raises the open-files limit as far as allowed
// (the idle scenario holds thousands of sockets), builds the session pool
// and the chosen scenario, runs it on this one thread, and returns the
// scenario's exit status.
#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "bench_options.h"
#include "idle_scenario.h"
#include "register_scenario.h"
#include "scenario.h"
#include "session_pool.h"
#include "stop_signal.h"
#include "stream_scenario.h"

namespace {

void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bench;
  const ParseResult parsed = parse_options(argc, argv);
  if (parsed.help) {
    std::cout << usage_text();
    return kExitOk;
  }
  if (!parsed.error.empty()) {
    std::cerr << "activity-bench: " << parsed.error << "\n(see activity-bench --help)\n";
    return kExitUsage;
  }
  const BenchOptions& options = parsed.options;
  raise_open_files_limit();
  install_stop_signals();

  SessionPool pool(options);
  if (!pool.ok()) {
    std::perror("activity-bench: epoll/timerfd");
    return kExitFailure;
  }
  std::unique_ptr<Scenario> scenario;
  switch (options.scenario) {
    case ScenarioKind::kStream:
      scenario = std::make_unique<StreamScenario>(options, pool);
      break;
    case ScenarioKind::kRegister:
      scenario = std::make_unique<RegisterScenario>(options, pool);
      break;
    case ScenarioKind::kIdle:
      scenario = std::make_unique<IdleScenario>(options, pool);
      break;
  }
  pool.run(*scenario);
  return scenario->report();
}
