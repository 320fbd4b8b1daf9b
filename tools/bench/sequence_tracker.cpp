// Per-publisher sequence tracking: see sequence_tracker.h.
#include "sequence_tracker.h"

namespace bench {

SequenceTracker::Outcome SequenceTracker::record(std::int64_t sequence) {
  if (sequence == next_) {
    ++next_;
    ++unique_;
    return Outcome::kInOrder;
  }
  if (sequence > next_) {
    gaps_.emplace(next_, sequence);
    gap_total_ += static_cast<std::uint64_t>(sequence - next_);
    next_ = sequence + 1;
    ++unique_;
    return Outcome::kAhead;
  }
  // Below next_: find the gap that could hold it (the last gap starting at
  // or before it).
  auto it = gaps_.upper_bound(sequence);
  if (it == gaps_.begin()) return Outcome::kDuplicate;
  --it;
  const std::int64_t first = it->first;
  const std::int64_t end = it->second;
  if (sequence >= end) return Outcome::kDuplicate;
  gaps_.erase(it);
  if (first < sequence) gaps_.emplace(first, sequence);
  if (sequence + 1 < end) gaps_.emplace(sequence + 1, end);
  --gap_total_;
  ++unique_;
  return Outcome::kReordered;
}

std::uint64_t SequenceTracker::missing(std::int64_t sent) const {
  if (sent >= next_) return gap_total_ + static_cast<std::uint64_t>(sent - next_);
  // Only when asked about a prefix: count the gaps below `sent`.
  std::uint64_t total = 0;
  for (const auto& [first, end] : gaps_) {
    if (first >= sent) break;
    total += static_cast<std::uint64_t>((end < sent ? end : sent) - first);
  }
  return total;
}

}  // namespace bench
