#include "rpc/framing.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace agentd::rpc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr size_t kMax = 1 << 20;

// Every outcome until the parser needs more bytes: "F:<body>" for a frame,
// "E:<message>" for a framing error.
std::vector<std::string> drain(FrameParser& parser) {
  std::vector<std::string> out;
  for (int guard = 0; guard < 100000; ++guard) {
    ParseOutcome outcome = parser.next();
    if (std::holds_alternative<NeedMoreBytes>(outcome)) return out;
    if (auto* frame = std::get_if<Frame>(&outcome)) out.push_back("F:" + frame->body);
    if (auto* error = std::get_if<FrameError>(&outcome)) out.push_back("E:" + error->message);
  }
  ADD_FAILURE() << "the parser never asked for more bytes";
  return out;
}

std::vector<std::string> parse_at_once(std::string_view stream, size_t max = kMax) {
  FrameParser parser(max);
  parser.feed(stream);
  return drain(parser);
}

std::string cl(std::string_view body) { return frame_message(Framing::kContentLength, body); }

const std::string kA = R"({"jsonrpc":"2.0","id":1,"method":"a"})";
const std::string kB = R"({"jsonrpc":"2.0","id":"two","method":"b","params":{"x":"\u00e9"}})";
const std::string kC = R"([{"jsonrpc":"2.0","method":"c"}])";

// --- framing detection ---

TEST(FrameDetection, OpeningBraceOrBracketMeansLines) {
  FrameParser objects(kMax);
  objects.feed(kA + "\n");
  drain(objects);
  EXPECT_EQ(objects.framing(), Framing::kLine);

  FrameParser arrays(kMax);
  arrays.feed(kC + "\n");
  drain(arrays);
  EXPECT_EQ(arrays.framing(), Framing::kLine);
}

TEST(FrameDetection, HeaderMeansContentLengthInAnyCase) {
  for (std::string first : {"Content-Length: 2\r\n\r\n{}", "content-length: 2\r\n\r\n{}"}) {
    FrameParser parser(kMax);
    parser.feed(first);
    EXPECT_THAT(drain(parser), ElementsAre("F:{}"));
    EXPECT_EQ(parser.framing(), Framing::kContentLength);
  }
}

TEST(FrameDetection, SkipsLeadingWhitespaceAndStaysUndecidedOnWhitespaceOnly) {
  FrameParser parser(kMax);
  parser.feed(" \r\n\t\n");
  EXPECT_TRUE(drain(parser).empty());
  EXPECT_EQ(parser.framing(), Framing::kUndecided);
  parser.feed("  " + kA + "\n");
  EXPECT_THAT(drain(parser), ElementsAre("F:" + kA));
  EXPECT_EQ(parser.framing(), Framing::kLine);

  FrameParser headers(kMax);
  headers.feed("\r\n  ");
  drain(headers);
  EXPECT_EQ(headers.framing(), Framing::kUndecided);
  headers.feed(cl(kA));
  EXPECT_THAT(drain(headers), ElementsAre("F:" + kA));
  EXPECT_EQ(headers.framing(), Framing::kContentLength);
}

TEST(FrameDetection, TheChoiceIsKeptForTheSession) {
  // Once in line mode, a header block is just a (bad) line, not a new framing.
  FrameParser parser(kMax);
  parser.feed(kA + "\n" + "Content-Length: 2\n");
  auto out = drain(parser);
  EXPECT_THAT(out, ElementsAre("F:" + kA, "F:Content-Length: 2"));
  EXPECT_EQ(parser.framing(), Framing::kLine);
}

// --- splitting and merging ---

// Feeds `stream` in two parts split at every byte position, and byte by byte,
// and checks the outcomes are always those of parsing it at once.
void expect_split_invariant(const std::string& stream, const std::vector<std::string>& expected) {
  ASSERT_EQ(parse_at_once(stream), expected);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameParser parser(kMax);
    parser.feed(stream.substr(0, cut));
    auto out = drain(parser);
    parser.feed(stream.substr(cut));
    auto rest = drain(parser);
    out.insert(out.end(), rest.begin(), rest.end());
    EXPECT_EQ(out, expected) << "split at byte " << cut;
    EXPECT_EQ(parser.buffered(), 0u);
  }
  FrameParser bytewise(kMax);
  std::vector<std::string> out;
  for (char c : stream) {
    bytewise.feed(std::string_view(&c, 1));
    auto part = drain(bytewise);
    out.insert(out.end(), part.begin(), part.end());
  }
  EXPECT_EQ(out, expected) << "byte by byte";
}

TEST(FrameSplitting, LinesSplitAtEveryPositionAndMerged) {
  expect_split_invariant(kA + "\n" + kB + "\r\n" + kC + "\n", {"F:" + kA, "F:" + kB, "F:" + kC});
}

TEST(FrameSplitting, ContentLengthSplitAtEveryPositionAndMerged) {
  std::string stream = cl(kA) + "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" +
                       "content-length: " + std::to_string(kB.size()) + "\r\n\r\n" + kB + cl(kC);
  expect_split_invariant(stream, {"F:" + kA, "F:" + kB, "F:" + kC});
}

TEST(FrameSplitting, ContentLengthBodyMayContainNewlinesAndHeaderLookalikes) {
  std::string body = "{\"text\":\"a\"}\r\n\r\nContent-Length: 5\r\n\r\n";
  expect_split_invariant(cl(body) + cl(kA), {"F:" + body, "F:" + kA});
}

// --- Content-Length headers ---

TEST(ContentLength, HeaderNameIsCaseInsensitiveAndOtherHeadersAreIgnored) {
  std::string n = std::to_string(kA.size());
  EXPECT_THAT(parse_at_once("CONTENT-LENGTH:" + n + "\r\n\r\n" + kA), ElementsAre("F:" + kA));
  EXPECT_THAT(parse_at_once("cOnTeNt-LeNgTh :  " + n + " \r\n\r\n" + kA), ElementsAre("F:" + kA));
  EXPECT_THAT(parse_at_once("Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
                            "Content-Length: " +
                            n + "\r\nX-Whatever: 1\r\n\r\n" + kA),
              ElementsAre("F:" + kA));
}

TEST(ContentLength, CountsBytesNotCharacters) {
  std::string body = "{\"s\":\"\xE2\x82\xAC\xF0\x9F\x98\x80\"}";  // 3 + 4 bytes of UTF-8
  EXPECT_THAT(parse_at_once("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body),
              ElementsAre("F:" + body));
}

TEST(ContentLength, ZeroLengthGivesAnEmptyFrame) {
  EXPECT_THAT(parse_at_once("Content-Length: 0\r\n\r\n" + cl(kA)), ElementsAre("F:", "F:" + kA));
}

TEST(ContentLength, BadValuesAreReportedAndTheNextMessageIsParsed) {
  for (std::string value :
       {"abc", "-1", "+5", "1x", "", "1 2", "0x10", "99999999999999999999999999"}) {
    auto out = parse_at_once("Content-Length: " + value + "\r\n\r\n" + cl(kA));
    ASSERT_EQ(out.size(), 2u) << value;
    EXPECT_THAT(out[0], StartsWith("E:")) << value;
    EXPECT_THAT(out[0], HasSubstr("Content-Length")) << value;
    EXPECT_EQ(out[1], "F:" + kA) << value;
  }
}

TEST(ContentLength, MissingLengthIsReportedAndTheNextMessageIsParsed) {
  auto out = parse_at_once("Content-Type: application/json\r\n\r\n" + cl(kA));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_THAT(out[0], StartsWith("E:"));
  EXPECT_THAT(out[0], HasSubstr("no Content-Length"));
  EXPECT_EQ(out[1], "F:" + kA);
}

TEST(ContentLength, HeaderLineWithoutColonIsReported) {
  auto out = parse_at_once("Content-Length 2\r\n\r\n" + cl(kA));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_THAT(out[0], HasSubstr("malformed header"));
  EXPECT_EQ(out[1], "F:" + kA);
}

TEST(ContentLength, OverlongHeaderBlockIsReportedThenParsingGoesOn) {
  FrameParser parser(kMax);
  parser.feed("X-Junk: " + std::string(FrameParser::kMaxHeaderBytes, 'j'));
  auto out = drain(parser);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0], StartsWith("E:header block longer than"));
  EXPECT_EQ(parser.buffered(), 0u);
  parser.feed(cl(kA));
  EXPECT_THAT(drain(parser), ElementsAre("F:" + kA));
}

TEST(ContentLength, HeaderBlockUpToTheLimitIsAccepted) {
  std::string padding = "X-Pad: " + std::string(FrameParser::kMaxHeaderBytes - 40, 'p') + "\r\n";
  std::string stream = padding + cl(kA);
  size_t blank_line = stream.find("\r\n\r\n");
  FrameParser parser(kMax);
  parser.feed(stream.substr(0, blank_line));  // the header block without its end
  EXPECT_TRUE(drain(parser).empty());
  parser.feed(stream.substr(blank_line));
  EXPECT_THAT(drain(parser), ElementsAre("F:" + kA));
}

TEST(ContentLength, OversizedMessageIsSkippedWhole) {
  std::string big(100, 'x');  // its body looks like the start of another header
  big.replace(0, 18, "Content-Length: 1\r");
  std::string stream = cl(big) + cl(kA);
  FrameParser parser(/*max_message_bytes=*/kA.size());
  parser.feed(stream);
  auto out = drain(parser);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_THAT(out[0], HasSubstr("message of 100 bytes exceeds the limit"));
  EXPECT_EQ(out[1], "F:" + kA);

  // The same with the oversized body arriving in small pieces.
  FrameParser slow(kA.size());
  std::vector<std::string> all;
  for (size_t i = 0; i < stream.size(); i += 7) {
    slow.feed(stream.substr(i, 7));
    auto part = drain(slow);
    all.insert(all.end(), part.begin(), part.end());
    EXPECT_LE(slow.buffered(), FrameParser::kMaxHeaderBytes);
  }
  ASSERT_EQ(all.size(), 2u);
  EXPECT_THAT(all[0], StartsWith("E:"));
  EXPECT_EQ(all[1], "F:" + kA);
}

TEST(ContentLength, MessageExactlyAtTheLimitIsAccepted) {
  EXPECT_THAT(parse_at_once(cl(kA), kA.size()), ElementsAre("F:" + kA));
}

// --- line framing ---

TEST(LineFraming, StripsCrOfCrlfLineEndings) {
  EXPECT_THAT(parse_at_once(kA + "\r\n" + kB + "\r\n"), ElementsAre("F:" + kA, "F:" + kB));
}

TEST(LineFraming, SkipsBlankAndWhitespaceOnlyLines) {
  EXPECT_THAT(parse_at_once(kA + "\n\n\r\n  \t\r\n" + kB + "\n\n"),
              ElementsAre("F:" + kA, "F:" + kB));
}

TEST(LineFraming, WaitsForTheNewline) {
  FrameParser parser(kMax);
  parser.feed(kA);
  EXPECT_TRUE(drain(parser).empty());
  EXPECT_EQ(parser.buffered(), kA.size());
  parser.feed("\n");
  EXPECT_THAT(drain(parser), ElementsAre("F:" + kA));
}

TEST(LineFraming, OversizedLineIsReportedThenTheNextLineIsParsed) {
  std::string big = "{\"data\":\"" + std::string(200, 'x') + "\"}";
  auto out = parse_at_once(big + "\n" + kA + "\n", /*max=*/kA.size());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_THAT(out[0], HasSubstr("exceeds the limit"));
  EXPECT_EQ(out[1], "F:" + kA);
}

TEST(LineFraming, OversizedLineArrivingInPiecesIsReportedOnceAndSkipped) {
  FrameParser parser(/*max_message_bytes=*/64);
  std::vector<std::string> all;
  parser.feed("{\"data\":\"");
  for (int i = 0; i < 50; ++i) {
    parser.feed(std::string(10, 'x'));
    auto part = drain(parser);
    all.insert(all.end(), part.begin(), part.end());
    EXPECT_LE(parser.buffered(), 65u);  // memory stays bounded while skipping
  }
  parser.feed("\"}\n" + kA.substr(0, 10));
  auto part = drain(parser);
  all.insert(all.end(), part.begin(), part.end());
  parser.feed(kA.substr(10) + "\n");
  part = drain(parser);
  all.insert(all.end(), part.begin(), part.end());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_THAT(all[0], StartsWith("E:"));
  EXPECT_EQ(all[1], "F:" + kA);
}

TEST(LineFraming, LineExactlyAtTheLimitIsAcceptedWhateverTheSplit) {
  // The limit is on the message, not on its line ending: a CRLF line whose
  // body is exactly the limit is fine, also when the read ends after the CR.
  std::string stream = kA + "\r\n" + kB + "\n";
  EXPECT_THAT(parse_at_once(stream, kA.size()), ElementsAre("F:" + kA, StartsWith("E:")));
  for (size_t cut = 0; cut <= kA.size() + 2; ++cut) {
    FrameParser parser(kA.size());
    parser.feed(stream.substr(0, cut));
    auto out = drain(parser);
    parser.feed(stream.substr(cut));
    auto rest = drain(parser);
    out.insert(out.end(), rest.begin(), rest.end());
    ASSERT_EQ(out.size(), 2u) << "split at " << cut;
    EXPECT_EQ(out[0], "F:" + kA) << "split at " << cut;
  }
}

TEST(LineFraming, DoesNotValidateJson) {
  // Garbage lines are frames: the dispatcher answers them with a parse error.
  EXPECT_THAT(parse_at_once("{not json\n" + kA + "\n"), ElementsAre("F:{not json", "F:" + kA));
}

// --- frame_message ---

TEST(FrameMessage, LineFramingAppendsOneNewline) {
  EXPECT_EQ(frame_message(Framing::kLine, kA), kA + "\n");
}

TEST(FrameMessage, ContentLengthEmitsExactlyOneHeader) {
  std::string body = "{\"s\":\"\xC3\xA9\"}";
  EXPECT_EQ(frame_message(Framing::kContentLength, body),
            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(frame_message(Framing::kContentLength, ""), "Content-Length: 0\r\n\r\n");
}

TEST(FrameMessage, OutputParsesBackInEitherFraming) {
  for (Framing framing : {Framing::kLine, Framing::kContentLength}) {
    std::string stream = frame_message(framing, kA) + frame_message(framing, kB);
    FrameParser parser(kMax);
    parser.feed(stream);
    EXPECT_THAT(drain(parser), ElementsAre("F:" + kA, "F:" + kB)) << framing_name(framing);
    EXPECT_EQ(parser.framing(), framing);
  }
}

TEST(FrameMessage, FramingNames) {
  EXPECT_STREQ(framing_name(Framing::kLine), "line");
  EXPECT_STREQ(framing_name(Framing::kContentLength), "content-length");
  EXPECT_STREQ(framing_name(Framing::kUndecided), "undecided");
}

}  // namespace
}  // namespace agentd::rpc
