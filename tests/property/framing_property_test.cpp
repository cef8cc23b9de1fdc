// Properties of rpc::FrameParser: whatever the chunking, well-formed frames
// come out whole and in order, recoverable garbage costs exactly one error
// and nothing else, and memory stays bounded.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "rpc/framing.hpp"

namespace agentd::rpc {
namespace {

constexpr size_t kMax = 64;  // small, so that bodies near and over it are common

// One piece of a stream and what the parser must make of it.
struct Piece {
  std::string bytes;
  std::optional<std::string> frame;  // the body it must yield
  bool error = false;                // or one FrameError
};

// A JSON body of 8..kMax bytes with UTF-8 and escapes in it.
rc::Gen<std::string> gen_body() {
  static const std::vector<std::string> kAtoms = {
      "a", "Z", "0", " ", "\\\"", "\\n", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
      "{", "]", ":"};
  return rc::gen::map(rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(kAtoms)),
                      [](const std::vector<std::string>& atoms) {
                        std::string body = "{\"s\":\"";
                        for (const auto& a : atoms) {
                          if (body.size() + a.size() + 2 > kMax) break;
                          body += a;
                        }
                        return body + "\"}";
                      });
}

// Bytes without a newline that are too long for one message.
rc::Gen<std::string> gen_oversized_line() {
  return rc::gen::map(rc::gen::pair(rc::gen::inRange<size_t>(kMax + 2, 4 * kMax),
                                    rc::gen::container<std::string>(rc::gen::arbitrary<char>())),
                      [](const std::pair<size_t, std::string>& p) {
                        std::string line = "{";
                        for (size_t i = 0; line.size() < p.first; ++i) {
                          char c = p.second.empty() ? 'x' : p.second[i % p.second.size()];
                          line += (c == '\n' || c == '\r') ? '.' : c;
                        }
                        return line;
                      });
}

rc::Gen<Piece> gen_line_piece() {
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::pair(gen_body(), rc::gen::arbitrary<bool>()),
                   [](const std::pair<std::string, bool>& p) {
                     return Piece{p.first + (p.second ? "\r\n" : "\n"), p.first, false};
                   }),
      rc::gen::map(rc::gen::elementOf(std::vector<std::string>{"\n", "\r\n", " \t\r\n", "  \n"}),
                   [](const std::string& blank) {
                     return Piece{blank, std::nullopt, false};
                   }),
      rc::gen::map(gen_oversized_line(), [](const std::string& line) {
        return Piece{line + "\n", std::nullopt, true};
      }));
}

std::string header_name() {
  return *rc::gen::elementOf(std::vector<std::string>{"Content-Length", "content-length",
                                                      "CONTENT-LENGTH", "Content-length"});
}

rc::Gen<Piece> gen_header_piece() {
  auto message = rc::gen::exec([] {
    std::string body = *gen_body();
    std::string headers = header_name() + ": " + std::to_string(body.size()) + "\r\n";
    if (*rc::gen::arbitrary<bool>()) {
      headers = "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + headers;
    }
    return Piece{headers + "\r\n" + body, body, false};
  });
  auto oversized = rc::gen::exec([] {
    size_t n = *rc::gen::inRange<size_t>(kMax + 1, 4 * kMax);
    std::string body = *rc::gen::container<std::string>(n, rc::gen::arbitrary<char>());
    return Piece{header_name() + ": " + std::to_string(n) + "\r\n\r\n" + body, std::nullopt, true};
  });
  auto bad_header = rc::gen::map(
      rc::gen::elementOf(std::vector<std::string>{
          "Content-Length: abc\r\n\r\n", "Content-Length: -3\r\n\r\n", "Content-Length:\r\n\r\n",
          "Content-Type: text/plain\r\n\r\n", "no colon here\r\n\r\n"}),
      [](const std::string& h) {
        return Piece{h, std::nullopt, true};
      });
  auto whitespace = rc::gen::map(rc::gen::elementOf(std::vector<std::string>{"\r\n", " ", "\n\n"}),
                                 [](const std::string& w) {
                                   return Piece{w, std::nullopt, false};
                                 });
  return rc::gen::oneOf(message, message, oversized, bad_header, whitespace);
}

// The pieces of a session, starting with a message so that the framing is
// decided by a message and not by garbage.
std::vector<Piece> gen_session(Framing framing) {
  auto piece = framing == Framing::kLine ? gen_line_piece() : gen_header_piece();
  std::string first = *gen_body();
  std::vector<Piece> pieces = {Piece{frame_message(framing, first), first, false}};
  auto rest = *rc::gen::container<std::vector<Piece>>(piece);
  pieces.insert(pieces.end(), rest.begin(), rest.end());
  return pieces;
}

// Splits `stream` at random points into chunks (empty ones included).
std::vector<std::string> gen_chunks(const std::string& stream) {
  auto cuts =
      *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(0, stream.size() + 1));
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::string> chunks;
  size_t start = 0;
  for (size_t cut : cuts) {
    chunks.push_back(stream.substr(start, cut - start));
    start = cut;
  }
  chunks.push_back(stream.substr(start));
  return chunks;
}

// Feeds the chunks and drains after each one: "F:<body>" or "E" per outcome.
std::vector<std::string> parse_chunks(const std::vector<std::string>& chunks, Framing* framing) {
  FrameParser parser(kMax);
  std::vector<std::string> out;
  for (const auto& chunk : chunks) {
    parser.feed(chunk);
    while (true) {
      ParseOutcome outcome = parser.next();
      if (std::holds_alternative<NeedMoreBytes>(outcome)) break;
      if (auto* frame = std::get_if<Frame>(&outcome)) out.push_back("F:" + frame->body);
      if (std::holds_alternative<FrameError>(outcome)) out.push_back("E");
      RC_ASSERT(out.size() <= 100000u);
    }
    RC_ASSERT(parser.buffered() <= std::max(kMax + 1, FrameParser::kMaxHeaderBytes));
  }
  *framing = parser.framing();
  return out;
}

void check_session(Framing framing) {
  auto pieces = gen_session(framing);
  std::string stream;
  std::vector<std::string> expected;
  for (const auto& p : pieces) {
    stream += p.bytes;
    if (p.frame) expected.push_back("F:" + *p.frame);
    if (p.error) expected.push_back("E");
  }
  auto chunks = gen_chunks(stream);
  Framing detected = Framing::kUndecided;
  auto got = parse_chunks(chunks, &detected);
  RC_ASSERT(detected == framing);
  RC_ASSERT(got == expected);
}

RC_GTEST_PROP(FrameParserProperty, LineFramesSurviveAnyChunking, ()) {
  check_session(Framing::kLine);
}

RC_GTEST_PROP(FrameParserProperty, ContentLengthFramesSurviveAnyChunking, ()) {
  check_session(Framing::kContentLength);
}

RC_GTEST_PROP(FrameParserProperty, FrameMessageRoundTripsAnyBody, ()) {
  // frame_message output parses back to the body, in either framing (line
  // bodies are JSON text, which never holds a raw newline).
  std::vector<std::string> bodies =
      *rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(gen_body()));
  Framing framing = *rc::gen::element(Framing::kLine, Framing::kContentLength);
  std::string stream;
  std::vector<std::string> expected;
  for (const auto& b : bodies) {
    stream += frame_message(framing, b);
    expected.push_back("F:" + b);
  }
  Framing detected;
  RC_ASSERT(parse_chunks(gen_chunks(stream), &detected) == expected);
  RC_ASSERT(detected == framing);
}

RC_GTEST_PROP(FrameParserProperty, ArbitraryBytesNeverCrashOrGrowWithoutBound,
              (const std::vector<std::string>& chunks)) {
  Framing framing;
  parse_chunks(chunks, &framing);  // asserts the memory bound after each chunk
}

RC_GTEST_PROP(FrameParserProperty, AfterGarbageTheChunkingDoesNotChangeTheFrames,
              (const std::string& garbage)) {
  // Unstructured garbage may cost any number of errors, but what follows a
  // line boundary in line mode is parsed the same whatever the chunking.
  std::string body = *gen_body();
  std::string clean;
  for (char c : garbage) clean += c == '\n' ? ' ' : c;
  std::string stream = body + "\n" + clean + "\n" + body + "\n";
  Framing a, b;
  auto whole = parse_chunks({stream}, &a);
  auto split = parse_chunks(gen_chunks(stream), &b);
  RC_ASSERT(whole == split);
  RC_ASSERT(whole.back() == "F:" + body);
}

}  // namespace
}  // namespace agentd::rpc
