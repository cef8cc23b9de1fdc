// Properties of base::Utf8ChunkDecoder: chunking never changes the text,
// the output is always valid UTF-8, and valid input passes unchanged.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "base/utf8.hpp"

namespace agentd::base {
namespace {

// An independent strict validator (Unicode 15, table 3-7), written from the
// definition rather than sharing code with the decoder.
bool is_valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t b = uint8_t(s[i]);
    uint32_t cp;
    size_t len;
    if (b < 0x80) {
      cp = b, len = 1;
    } else if ((b & 0xE0) == 0xC0) {
      cp = b & 0x1F, len = 2;
    } else if ((b & 0xF0) == 0xE0) {
      cp = b & 0x0F, len = 3;
    } else if ((b & 0xF8) == 0xF0) {
      cp = b & 0x07, len = 4;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      uint8_t c = uint8_t(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static const uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len]) return false;       // overlong
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // surrogate
    if (cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

std::string encode(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
  return out;
}

rc::Gen<uint32_t> gen_scalar_value() {
  return rc::gen::oneOf(
      rc::gen::inRange<uint32_t>(0, 0x80), rc::gen::inRange<uint32_t>(0x80, 0x800),
      rc::gen::inRange<uint32_t>(0x800, 0xD800), rc::gen::inRange<uint32_t>(0xE000, 0x10000),
      rc::gen::inRange<uint32_t>(0x10000, 0x110000));
}

// Valid text.
rc::Gen<std::string> gen_text() {
  return rc::gen::map(rc::gen::container<std::vector<uint32_t>>(gen_scalar_value()),
                      [](const std::vector<uint32_t>& cps) {
                        std::string out;
                        for (uint32_t cp : cps) out += encode(cp);
                        return out;
                      });
}

// Mostly-valid text with broken pieces: random bytes, cut sequences, lone
// surrogates and overlongs, so that the interesting cases are common.
rc::Gen<std::string> gen_bytes() {
  auto piece = rc::gen::oneOf(
      rc::gen::map(gen_scalar_value(), encode),
      rc::gen::map(rc::gen::pair(gen_scalar_value(), rc::gen::inRange(1, 4)),
                   [](const std::pair<uint32_t, int>& p) {
                     std::string s = encode(p.first);
                     return s.substr(0, std::min<size_t>(s.size(), size_t(p.second)));
                   }),
      rc::gen::container<std::string>(rc::gen::arbitrary<char>()),
      rc::gen::elementOf(std::vector<std::string>{"\xED\xA0\x80", "\xC0\xAF", "\xE0\x80\xAF",
                                                  "\xF4\x90\x80\x80", "\xF8", "\xFF", "\x80"}));
  return rc::gen::map(rc::gen::container<std::vector<std::string>>(piece),
                      [](const std::vector<std::string>& pieces) {
                        std::string out;
                        for (const auto& p : pieces) out += p;
                        return out;
                      });
}

struct Decoded {
  std::string text;
  bool replaced = false;
};

Decoded decode_in_chunks(const std::string& bytes, const std::vector<size_t>& sizes) {
  Utf8ChunkDecoder decoder;
  Decoded out;
  size_t pos = 0;
  for (size_t size : sizes) {
    if (pos >= bytes.size()) break;
    auto chunk = decoder.decode(std::string_view(bytes).substr(pos, size));
    RC_ASSERT(is_valid_utf8(chunk.text));  // every chunk on its own is valid
    out.text += chunk.text;
    out.replaced = out.replaced || chunk.replaced;
    pos += size;
  }
  if (pos < bytes.size()) {
    auto chunk = decoder.decode(std::string_view(bytes).substr(pos));
    RC_ASSERT(is_valid_utf8(chunk.text));
    out.text += chunk.text;
    out.replaced = out.replaced || chunk.replaced;
  }
  auto last = decoder.finish();
  RC_ASSERT(is_valid_utf8(last.text));
  out.text += last.text;
  out.replaced = out.replaced || last.replaced;
  return out;
}

RC_GTEST_PROP(Utf8Property, ChunkingDoesNotChangeTheText, ()) {
  std::string bytes = *gen_bytes();
  auto sizes = *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(0, 8));
  Decoded whole = decode_in_chunks(bytes, {});
  Decoded chunked = decode_in_chunks(bytes, sizes);
  RC_ASSERT(chunked.text == whole.text);
  RC_ASSERT(chunked.replaced == whole.replaced);
}

RC_GTEST_PROP(Utf8Property, OutputIsValidAndFlagsReplacement, ()) {
  std::string bytes = *gen_bytes();
  Decoded out = decode_in_chunks(bytes, {});
  RC_ASSERT(is_valid_utf8(out.text));
  RC_ASSERT(out.replaced == !is_valid_utf8(bytes));
  if (!out.replaced) RC_ASSERT(out.text == bytes);
}

RC_GTEST_PROP(Utf8Property, ValidTextPassesUnchangedInAnyChunks, ()) {
  std::string text = *gen_text();
  RC_ASSERT(is_valid_utf8(text));  // checks the generator against the validator
  auto sizes = *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(1, 6));
  Decoded out = decode_in_chunks(text, sizes);
  RC_ASSERT(out.text == text);
  RC_ASSERT(!out.replaced);
}

RC_GTEST_PROP(Utf8Property, ArbitraryBytesAreSafe, (const std::string& bytes)) {
  auto sizes = *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(0, 5));
  Decoded out = decode_in_chunks(bytes, sizes);
  RC_ASSERT(is_valid_utf8(out.text));
}

}  // namespace
}  // namespace agentd::base
