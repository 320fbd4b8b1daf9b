// libFuzzer target over the server's whole input path without sockets:
// bytes are framed by LineReader in chunks whose sizes the input picks,
// every line is parsed, and each valid message is applied to a NodeState
// whose connections are fakes. The first byte of a line picks which of four
// connections it arrives on (one starts as an authenticated server link);
// a closed connection is replaced by a fresh one. Invariants checked on
// every step: every line the node emits parses as a valid message, a
// closed connection is never written to again, and the load never exceeds
// the number of connections.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "line_reader.h"
#include "log.h"
#include "node_state.h"
#include "protocol.h"

namespace {

using namespace activity;

void require(bool condition) {
  if (!condition) std::abort();
}

class CheckingParticipant : public Participant {
 public:
  explicit CheckingParticipant(Parser& checker) : checker_(checker) {}
  void deliver(const Payload& line) override {
    require(!closed_);  // the node must forget what it closed
    check(*line);
  }
  void close(const Payload& last_line, std::string_view) override {
    require(!closed_);
    if (last_line) check(*last_line);
    closed_ = true;
  }
  void set_role(Role) override {}
  bool closed() const { return closed_; }

 private:
  void check(const std::string& line) {
    require(!line.empty() && line.back() == '\n');
    ParseResult parsed = checker_.parse(
        std::string_view(line.data(), line.size() - 1));
    require(parsed.ok());
  }

  Parser& checker_;
  bool closed_ = false;
};

constexpr std::size_t kMaxLine = 4096;
constexpr int kSlots = 4;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  static const bool quiet = (set_log_level(LogLevel::kOff), true);
  (void)quiet;
  Parser parser(ParserOptions{kMaxLine, 16, false});
  Parser checker(ParserOptions{kMaxLine * 4, 64, true});
  NodeConfig config;
  config.id = "self";
  config.secret = "secret";
  config.hostname = "self.host";
  config.port = 4000;
  config.lock_timeout = Millis(1000);
  config.server_timeout = Millis(3000);
  NodeState node(std::move(config));
  TimePoint now{};
  ConnId next_id = 1;
  std::shared_ptr<CheckingParticipant> slots[kSlots];
  ConnId ids[kSlots];
  for (int i = 0; i < kSlots; ++i) {
    slots[i] = std::make_shared<CheckingParticipant>(checker);
    ids[i] = next_id++;
    if (i == kSlots - 1) {
      node.add_outgoing_link(ids[i], slots[i], now);
    } else {
      node.add_connection(ids[i], slots[i]);
    }
  }

  auto reader = std::make_unique<LineReader>(kMaxLine);
  std::size_t offset = 0;
  while (offset < size) {
    // The chunk size comes from the data itself: 1 to 64 bytes.
    const std::size_t want = 1 + (data[offset] & 63);
    LineReader::Span space = reader->prepare();
    std::size_t take = std::min({want, size - offset, space.size});
    require(take > 0);
    std::copy(data + offset, data + offset + take, space.data);
    reader->commit(take);
    offset += take;

    std::string_view line;
    LineReader::Status status;
    while ((status = reader->next(line)) == LineReader::Status::kLine) {
      require(line.size() <= kMaxLine);
      if (line.empty()) continue;
      const int slot = static_cast<unsigned char>(line[0]) % kSlots;
      line.remove_prefix(1);
      now += Millis(static_cast<unsigned char>(slot) * 150);
      if (is_blank(line)) {
        node.expire(now);
        node.announce();
      } else {
        ParseResult parsed = parser.parse(line);
        if (parsed.ok()) {
          node.handle(ids[slot], *parsed.message, line, now);
        } else {
          require(!parsed.error.empty());
          node.reject(ids[slot], parsed.error);
        }
      }
      if (slots[slot]->closed()) {
        node.remove_connection(ids[slot]);  // idempotent, as in the server
        slots[slot] = std::make_shared<CheckingParticipant>(checker);
        ids[slot] = next_id++;
        node.add_connection(ids[slot], slots[slot]);
      }
      const NodeStats stats = node.stats();
      require(stats.load <= stats.connections);
      require(stats.server_links <= stats.connections);
    }
    if (status == LineReader::Status::kTooLong) {
      reader = std::make_unique<LineReader>(kMaxLine);  // closed: start afresh
    }
  }
  node.expire(now + Millis(60000));
  require(node.stats().pending_registrations == 0);
  return 0;
}
