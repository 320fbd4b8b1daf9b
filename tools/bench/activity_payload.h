// The activity object the bench publishes and recognises:
//   {"p":<publisher>,"q":<sequence>,"t":<send time, ns of CLOCK_MONOTONIC>,"pad":"xxx..."}
// The padding makes the whole object exactly the requested number of bytes.
// Sequence -1 marks a probe, sent before the run to prove that every
// subscription is live. The same bytes are the NATS payload, so both systems
// carry identical content. Parsing accepts the fields in any order and with
// any other members around them (the server adds "authenticated_user").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

struct ActivityStamp {
  std::int64_t publisher = 0;
  std::int64_t sequence = 0;
  std::int64_t sent_ns = 0;
};

inline constexpr std::int64_t kProbeSequence = -1;

// Smallest size for which every stamp fits with exact padding (publisher,
// sequence and time at their widest).
inline constexpr std::size_t kMinActivitySize = 64;

// Appends the activity object for `stamp`, padded to `size` bytes (or
// unpadded if the stamp alone is longer).
void append_activity(std::string& out, const ActivityStamp& stamp, std::size_t size);

// Reads the stamp from an activity object. False if "p", "q" or "t" is
// missing or not an integer: the activity is not one of ours.
bool parse_activity(std::string_view object_text, ActivityStamp& out);

}  // namespace bench
