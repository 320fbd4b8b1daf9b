// Helpers shared by the scenarios: see scenario.h.
#include "scenario.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include "clock.h"

namespace bench {

void touch_ready_file(const std::string& path) {
  if (path.empty()) return;
  std::ofstream file(path, std::ios::trunc);
  file << "ready\n";
}

void print_progress(std::int64_t elapsed_ns, const std::string& text) {
  std::fprintf(stderr, "[%7.1fs] %s\n", static_cast<double>(elapsed_ns) / kNsPerSecond,
               text.c_str());
  std::fflush(stderr);
}

std::string format_thousands(double value) {
  std::string digits = std::to_string(static_cast<long long>(std::llround(value)));
  const std::size_t first = digits[0] == '-' ? 1 : 0;
  for (int i = static_cast<int>(digits.size()) - 3; i > static_cast<int>(first); i -= 3) {
    digits.insert(static_cast<std::size_t>(i), ",");
  }
  return digits;
}

}  // namespace bench
