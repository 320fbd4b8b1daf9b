// What one receiver has seen of one publisher's sequence numbers (0, 1, 2,
// ...). Everything up to the highest number seen is either received or in a
// recorded gap, so a number below that is a late arrival (reordered) if it
// fills a gap and a duplicate otherwise; at the end, the gaps plus whatever
// lies between the highest seen and the number sent are the losses. Memory
// is proportional to the number of gaps, which is zero on a correct server.
#pragma once

#include <cstdint>
#include <map>

namespace bench {

class SequenceTracker {
 public:
  enum class Outcome {
    kInOrder,    // the next number expected
    kAhead,      // beyond the next expected: the numbers skipped become a gap
    kReordered,  // fills a gap: it arrived after a later number
    kDuplicate,  // seen before
  };

  Outcome record(std::int64_t sequence);  // sequence >= 0

  // Distinct numbers received so far.
  std::uint64_t unique_received() const { return unique_; }

  // Numbers in [0, sent) not received.
  std::uint64_t missing(std::int64_t sent) const;

 private:
  std::int64_t next_ = 0;                  // one past the highest seen
  std::map<std::int64_t, std::int64_t> gaps_;  // first -> one past last, all below next_
  std::uint64_t gap_total_ = 0;
  std::uint64_t unique_ = 0;
};

}  // namespace bench
