#include "base/utf8.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace agentd::base {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

// Decodes `chunks` one after the other, then finishes.
Utf8ChunkDecoder::Chunk decode_all(const std::vector<std::string>& chunks) {
  Utf8ChunkDecoder decoder;
  Utf8ChunkDecoder::Chunk total;
  for (const auto& c : chunks) {
    auto part = decoder.decode(c);
    total.text += part.text;
    total.replaced = total.replaced || part.replaced;
  }
  auto last = decoder.finish();
  total.text += last.text;
  total.replaced = total.replaced || last.replaced;
  return total;
}

TEST(Utf8Decoder, PassesValidTextUnchanged) {
  const std::string samples[] = {
      "plain ascii",
      "caf\xC3\xA9",                   // U+00E9
      "\xE2\x82\xAC 5",                // U+20AC
      "\xF0\x9F\x98\x80",              // U+1F600
      "\xED\x9F\xBF",                  // U+D7FF, last before the surrogates
      "\xEE\x80\x80",                  // U+E000, first after the surrogates
      "\xF4\x8F\xBF\xBF",              // U+10FFFF, the last code point
      "\xE0\xA0\x80\xF0\x90\x80\x80",  // U+0800 and U+10000, the shortest 3/4-byte forms
      std::string("nul\0inside", 10),
  };
  for (const auto& s : samples) {
    auto out = decode_all({s});
    EXPECT_EQ(out.text, s);
    EXPECT_FALSE(out.replaced) << s;
  }
}

TEST(Utf8Decoder, ReplacesOverlongForms) {
  const std::string overlongs[] = {
      "\xC0\x80",     "\xC1\xBF",         "\xE0\x80\x80",
      "\xE0\x9F\xBF", "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF",
  };
  for (const auto& s : overlongs) {
    auto out = decode_all({"a" + s + "b"});
    EXPECT_TRUE(out.replaced) << testing::PrintToString(s);
    EXPECT_EQ(out.text.find(s), std::string::npos);
    EXPECT_EQ(out.text.front(), 'a');
    EXPECT_EQ(out.text.back(), 'b');
    EXPECT_NE(out.text.find(kFffd), std::string::npos);
  }
}

TEST(Utf8Decoder, ReplacesSurrogates) {
  for (const std::string s : {"\xED\xA0\x80", "\xED\xAF\xBF", "\xED\xB0\x80", "\xED\xBF\xBF"}) {
    auto out = decode_all({s});
    EXPECT_TRUE(out.replaced);
    EXPECT_EQ(out.text.find(s), std::string::npos);
  }
}

TEST(Utf8Decoder, ReplacesCodePointsAboveU10FFFF) {
  for (const std::string s : {"\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xF7\xBF\xBF\xBF",
                              "\xF8\x88\x80\x80\x80", "\xFE", "\xFF"}) {
    auto out = decode_all({s});
    EXPECT_TRUE(out.replaced);
    EXPECT_EQ(out.text.find(s), std::string::npos);
  }
}

TEST(Utf8Decoder, ReplacesEachStrayContinuationByte) {
  auto out = decode_all({"x\x80\xBFy"});
  EXPECT_EQ(out.text, "x" + kFffd + kFffd + "y");
  EXPECT_TRUE(out.replaced);
}

TEST(Utf8Decoder, HoldsBackASequenceSplitAtAChunkEnd) {
  Utf8ChunkDecoder decoder;
  auto first = decoder.decode("a\xE2\x82");
  EXPECT_EQ(first.text, "a");
  EXPECT_FALSE(first.replaced);
  auto second = decoder.decode("\xAC!");
  EXPECT_EQ(second.text, "\xE2\x82\xAC!");
  EXPECT_FALSE(second.replaced);
  EXPECT_EQ(decoder.finish().text, "");
}

TEST(Utf8Decoder, ReassemblesAFourByteCharacterFedByteByByte) {
  Utf8ChunkDecoder decoder;
  std::string out;
  for (char c : std::string("\xF0\x9F\x98\x80")) out += decoder.decode(std::string(1, c)).text;
  EXPECT_EQ(out, "\xF0\x9F\x98\x80");
}

TEST(Utf8Decoder, FinishFlushesATruncatedSequenceAsOneReplacement) {
  Utf8ChunkDecoder decoder;
  EXPECT_EQ(decoder.decode("ok\xF0\x9F\x98").text, "ok");
  auto last = decoder.finish();
  EXPECT_EQ(last.text, kFffd);
  EXPECT_TRUE(last.replaced);
  // The decoder starts afresh after finish().
  auto again = decoder.decode("\x80");
  EXPECT_EQ(again.text, kFffd);
  EXPECT_EQ(decoder.finish().text, "");
}

TEST(Utf8Decoder, FinishWithNothingPendingIsEmpty) {
  Utf8ChunkDecoder decoder;
  decoder.decode("complete \xC3\xA9");
  auto last = decoder.finish();
  EXPECT_EQ(last.text, "");
  EXPECT_FALSE(last.replaced);
}

TEST(Utf8Decoder, AnInvalidContinuationInTheNextChunkIsReplaced) {
  auto out = decode_all({"\xE2", "A"});
  EXPECT_EQ(out.text.substr(0, kFffd.size()), kFffd);
  EXPECT_EQ(out.text.back(), 'A');
  EXPECT_TRUE(out.replaced);
}

TEST(Utf8Decoder, AnOverlongPrefixIsRejectedBeforeItIsComplete) {
  // E0 80 can never become valid: it must not be held back waiting for more.
  Utf8ChunkDecoder decoder;
  auto out = decoder.decode("\xE0\x80");
  EXPECT_TRUE(out.replaced);
  EXPECT_EQ(out.text, kFffd + kFffd);
  EXPECT_EQ(decoder.finish().text, "");
}

TEST(Utf8SequenceLength, ClassifiesLeadBytes) {
  EXPECT_EQ(utf8_sequence_length("A"), 1);
  EXPECT_EQ(utf8_sequence_length("\xC3\xA9"), 2);
  EXPECT_EQ(utf8_sequence_length("\xE2\x82\xAC"), 3);
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x98\x80"), 4);
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F"), -1);
  EXPECT_EQ(utf8_sequence_length("\xC3"), -1);
  EXPECT_EQ(utf8_sequence_length("\x80"), 0);
  EXPECT_EQ(utf8_sequence_length("\xC3("), 0);
  EXPECT_EQ(utf8_sequence_length("\xF4\x90"), 0);
}

}  // namespace
}  // namespace agentd::base
