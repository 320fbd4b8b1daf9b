// Log-linear latency histogram: see latency_histogram.h.
#include "latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace bench {
namespace {

constexpr int kSubBucketBits = 8;
constexpr std::uint64_t kSubBuckets = 1u << kSubBucketBits;  // 256 exact values
constexpr std::uint64_t kHalf = kSubBuckets / 2;             // 128 per power of two
// Highest bit of a 64-bit value is 63: shifts go up to 63 - 7 = 56.
constexpr std::size_t kBucketCount = kSubBuckets + (64 - kSubBucketBits) * kHalf;

int highest_bit(std::uint64_t value) { return 63 - __builtin_clzll(value); }

// A bin edge, which is always a round number: "50 us", "2 ms", "1 s".
std::string format_edge(std::int64_t ns) {
  char text[32];
  const double value = static_cast<double>(ns);
  if (ns < 1'000'000) {
    std::snprintf(text, sizeof text, "%g us", value / 1e3);
  } else if (ns < 1'000'000'000) {
    std::snprintf(text, sizeof text, "%g ms", value / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%g s", value / 1e9);
  }
  return text;
}

std::string format_count(std::uint64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
    digits.insert(static_cast<std::size_t>(i), ",");
  }
  return digits;
}

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBucketCount, 0) {}

std::size_t LatencyHistogram::index_of(std::uint64_t value) {
  if (value < kSubBuckets) return static_cast<std::size_t>(value);
  const int shift = highest_bit(value) - (kSubBucketBits - 1);  // >= 1
  return static_cast<std::size_t>(kSubBuckets + static_cast<std::uint64_t>(shift - 1) * kHalf +
                                  ((value >> shift) - kHalf));
}

std::uint64_t LatencyHistogram::lowest_of(std::size_t index) {
  if (index < kSubBuckets) return index;
  const std::uint64_t above = index - kSubBuckets;
  const int shift = static_cast<int>(above / kHalf) + 1;
  return (kHalf + above % kHalf) << shift;
}

std::uint64_t LatencyHistogram::highest_of(std::size_t index) {
  if (index + 1 >= kBucketCount) return std::numeric_limits<std::uint64_t>::max();
  return lowest_of(index + 1) - 1;
}

void LatencyHistogram::record(std::int64_t value_ns) {
  const std::int64_t value = std::max<std::int64_t>(value_ns, 0);
  ++counts_[index_of(static_cast<std::uint64_t>(value))];
  if (count_ == 0 || value < min_) min_ = value;
  if (value > max_) max_ = value;
  ++count_;
  sum_ += value;
}

void LatencyHistogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = 0;
  max_ = 0;
  sum_ = 0;
}

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::int64_t LatencyHistogram::percentile(double percent) const {
  if (count_ == 0) return 0;
  const double wanted = std::ceil(static_cast<double>(count_) * percent / 100.0);
  const std::uint64_t rank = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(wanted), 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return static_cast<std::int64_t>(
          std::min<std::uint64_t>(highest_of(i), static_cast<std::uint64_t>(max_)));
    }
  }
  return max_;
}

std::string format_duration(std::int64_t ns) {
  char text[32];
  const double value = static_cast<double>(ns);
  if (ns < 1000) {
    std::snprintf(text, sizeof text, "%lld ns", static_cast<long long>(ns));
  } else if (ns < 1'000'000) {
    std::snprintf(text, sizeof text, "%.1f us", value / 1e3);
  } else if (ns < 1'000'000'000) {
    std::snprintf(text, sizeof text, "%.2f ms", value / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.2f s", value / 1e9);
  }
  return text;
}

std::string LatencyHistogram::table(const std::string& indent) const {
  std::string out;
  char line[160];
  if (count_ == 0) return indent + "(no samples)\n";
  std::snprintf(line, sizeof line, "%ssamples %s   min %s   mean %s\n", indent.c_str(),
                format_count(count_).c_str(), format_duration(min()).c_str(),
                format_duration(static_cast<std::int64_t>(mean())).c_str());
  out += line;
  static constexpr struct {
    const char* name;
    double percent;
  } kPercentiles[] = {{"p50", 50},   {"p75", 75},     {"p90", 90},       {"p99", 99},
                      {"p99.9", 99.9}, {"p99.99", 99.99}};
  for (const auto& p : kPercentiles) {
    std::snprintf(line, sizeof line, "%s%-7s %12s\n", indent.c_str(), p.name,
                  format_duration(percentile(p.percent)).c_str());
    out += line;
  }
  std::snprintf(line, sizeof line, "%s%-7s %12s\n", indent.c_str(), "max",
                format_duration(max_).c_str());
  out += line;

  // Bins with upper edges 1, 2, 5, 10, 20, 50 ... microseconds; a bucket
  // falls in the bin that holds its lowest value (buckets are < 1% wide).
  std::vector<std::int64_t> edges;
  for (std::int64_t decade = 1000; decade <= 10'000'000'000; decade *= 10) {  // 1 us .. 50 s
    edges.push_back(decade);
    edges.push_back(decade * 2);
    edges.push_back(decade * 5);
  }
  std::vector<std::uint64_t> bins(edges.size() + 1, 0);
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    const auto low = static_cast<std::int64_t>(std::min<std::uint64_t>(
        lowest_of(i), static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
    const std::size_t bin = static_cast<std::size_t>(
        std::upper_bound(edges.begin(), edges.end(), low) - edges.begin());
    bins[bin] += counts_[i];
  }
  std::size_t first = 0;
  while (bins[first] == 0) ++first;
  std::size_t last = bins.size() - 1;
  while (bins[last] == 0) --last;
  const std::uint64_t peak = *std::max_element(bins.begin(), bins.end());
  constexpr int kBarWidth = 40;
  std::uint64_t cumulative = 0;
  out += indent + "distribution:\n";
  for (std::size_t b = first; b <= last; ++b) {
    cumulative += bins[b];
    const std::string label = b < edges.size() ? "< " + format_edge(edges[b])
                                               : ">= " + format_edge(edges.back());
    const int bar = static_cast<int>(static_cast<double>(bins[b]) * kBarWidth /
                                     static_cast<double>(peak) + 0.5);
    std::snprintf(line, sizeof line, "%s  %-9s |%-*s| %12s %6.2f%%  cum %6.2f%%\n",
                  indent.c_str(), label.c_str(), kBarWidth, std::string(static_cast<std::size_t>(bar), '#').c_str(),
                  format_count(bins[b]).c_str(),
                  100.0 * static_cast<double>(bins[b]) / static_cast<double>(count_),
                  100.0 * static_cast<double>(cumulative) / static_cast<double>(count_));
    out += line;
  }
  return out;
}

}  // namespace bench
