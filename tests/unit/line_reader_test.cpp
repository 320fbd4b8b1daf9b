// Line framing: split on '\n', drop a trailing '\r', fail once an unfinished
// line passes the limit; checked by feeding whole buffers and one byte at a
// time.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "line_reader.h"

using activity::LineReader;

namespace {

struct Framed {
  std::vector<std::string> lines;
  bool too_long = false;
};

// Feeds `input` in chunks of `chunk` bytes and collects the lines.
Framed frame(const std::string& input, std::size_t max_line,
             std::size_t chunk) {
  LineReader reader(max_line);
  Framed out;
  std::size_t offset = 0;
  while (offset < input.size() && !out.too_long) {
    const LineReader::Span space = reader.prepare();
    const std::size_t n =
        std::min<std::size_t>({chunk, input.size() - offset, space.size});
    REQUIRE(n > 0);
    std::memcpy(space.data, input.data() + offset, n);
    reader.commit(n);
    offset += n;
    std::string_view line;
    for (;;) {
      const LineReader::Status status = reader.next(line);
      if (status == LineReader::Status::kLine) {
        out.lines.emplace_back(line);
      } else {
        out.too_long = status == LineReader::Status::kTooLong;
        break;
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("lines split on newline with CR dropped, whole or byte by byte") {
  const std::string input = "{\"a\":1}\r\n\n  \n{\"b\":2}\nrest";
  for (std::size_t chunk : {1, 2, 3, 7, 64, 4096}) {
    CAPTURE(chunk);
    const Framed framed = frame(input, 100, chunk);
    REQUIRE(framed.lines.size() == 4);
    CHECK(framed.lines[0] == "{\"a\":1}");
    CHECK(framed.lines[1].empty());
    CHECK(framed.lines[2] == "  ");
    CHECK(framed.lines[3] == "{\"b\":2}");
    CHECK_FALSE(framed.too_long);
  }
}

TEST_CASE("only a trailing CR is dropped") {
  const Framed framed = frame("a\rb\r\r\n", 100, 1);
  REQUIRE(framed.lines.size() == 1);
  CHECK(framed.lines[0] == "a\rb\r");
}

TEST_CASE("a line of exactly the limit passes, one byte more fails") {
  const std::size_t limit = 5000;  // larger than the initial buffer
  const std::string exact(limit, 'x');
  for (std::size_t chunk : {1, 1000, 100000}) {
    CAPTURE(chunk);
    Framed ok = frame(exact + "\r\n" + exact + "\n", limit, chunk);
    REQUIRE(ok.lines.size() == 2);
    CHECK(ok.lines[0].size() == limit);
    CHECK_FALSE(ok.too_long);
    Framed bad = frame(exact + "y\n", limit, chunk);
    CHECK(bad.too_long);
    CHECK(bad.lines.empty());
  }
}

TEST_CASE("an unfinished line fails as soon as it passes the limit") {
  LineReader reader(10);
  std::string_view line;
  auto feed = [&](char byte) {
    *reader.prepare().data = byte;
    reader.commit(1);
    return reader.next(line);
  };
  for (int i = 0; i < 10; ++i) CHECK(feed('z') == LineReader::Status::kNeedMore);
  SUBCASE("an eleventh byte that is not CR") {
    CHECK(feed('z') == LineReader::Status::kTooLong);
  }
  SUBCASE("CR LF after exactly the limit") {
    CHECK(feed('\r') == LineReader::Status::kNeedMore);
    REQUIRE(feed('\n') == LineReader::Status::kLine);
    CHECK(line == std::string(10, 'z'));
  }
}

TEST_CASE("many short lines in one read reuse the buffer") {
  std::string input;
  for (int i = 0; i < 2000; ++i) input += "{\"n\":" + std::to_string(i) + "}\n";
  const Framed framed = frame(input, 64, 999);
  REQUIRE(framed.lines.size() == 2000);
  CHECK(framed.lines[1999] == "{\"n\":1999}");
}

TEST_CASE("lines stay whole while a busy reader's buffer grows") {
  // Reads that fill all the space offered make the buffer grow, with an
  // unfinished line at its end each time.
  std::string input;
  for (int i = 0; i < 20000; ++i) {
    input += "{\"n\":" + std::to_string(i) + ",\"pad\":\"" +
             std::string(static_cast<std::size_t>(i % 300), 'p') + "\"}\n";
  }
  const Framed framed = frame(input, 1000, input.size());
  REQUIRE(framed.lines.size() == 20000);
  CHECK(framed.lines[0] == "{\"n\":0,\"pad\":\"\"}");
  CHECK(framed.lines[19999].rfind("{\"n\":19999,", 0) == 0);
  CHECK_FALSE(framed.too_long);
}

TEST_CASE("the buffer grows for a busy peer and shrinks when it is quiet") {
  LineReader reader(1 << 20);
  std::string_view line;
  // Fills whatever space is offered with short lines; returns that size.
  auto fill = [&] {
    const LineReader::Span space = reader.prepare();
    std::memset(space.data, 'x', space.size);
    for (std::size_t i = 99; i < space.size; i += 100) space.data[i] = '\n';
    reader.commit(space.size);
    while (reader.next(line) == LineReader::Status::kLine) {
    }
    return space.size;
  };
  auto quiet_line = [&](const std::string& text) {
    const LineReader::Span space = reader.prepare();
    REQUIRE(space.size >= text.size());
    std::memcpy(space.data, text.data(), text.size());
    reader.commit(text.size());
    REQUIRE(reader.next(line) == LineReader::Status::kLine);
  };
  const std::size_t initial = reader.prepare().size;
  CHECK(initial == 4096);
  std::size_t offered = 0;
  for (int i = 0; i < 20; ++i) offered = fill();
  CHECK(offered > 60 * 1024);  // bounded growth: 64 KiB less the tail
  CHECK(offered <= 64 * 1024);
  // Drain the tail, then a quiet read: back to the initial size.
  quiet_line("\n");
  quiet_line("{\"quiet\":true}\n");
  CHECK(reader.prepare().size == initial);

  // A long line grows the buffer up to the limit; once it is consumed the
  // buffer goes back too, so one long line does not cost memory forever.
  const std::string long_line(300000, 'l');
  std::size_t offset = 0;
  while (offset < long_line.size()) {
    const LineReader::Span space = reader.prepare();
    const std::size_t n = std::min(space.size, long_line.size() - offset);
    std::memcpy(space.data, long_line.data() + offset, n);
    reader.commit(n);
    offset += n;
    REQUIRE(reader.next(line) == LineReader::Status::kNeedMore);
  }
  quiet_line("\n");
  CHECK(line.size() == long_line.size());
  CHECK(reader.prepare().size == initial);
}
