#include "base/utf8.hpp"

#include <cstdint>

namespace agentd::base {
namespace {
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }
}  // namespace

int utf8_sequence_length(std::string_view s) {
  uint8_t b0 = uint8_t(s[0]);
  if (b0 < 0x80) return 1;
  int len;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    return 0;
  }
  for (int i = 1; i < len; ++i) {
    if (size_t(i) >= s.size()) return -1;
    uint8_t b = uint8_t(s[i]);
    if (i == 1 ? (b < lo || b > hi) : !is_continuation(b)) return 0;
  }
  return len;
}

Utf8ChunkDecoder::Chunk Utf8ChunkDecoder::decode(std::string_view bytes) {
  std::string input = std::move(pending_);
  pending_.clear();
  input.append(bytes);
  Chunk out;
  out.text.reserve(input.size());
  std::string_view rest(input);
  while (!rest.empty()) {
    int len = utf8_sequence_length(rest);
    if (len < 0) {  // incomplete at the end: keep for the next chunk
      pending_.assign(rest);
      break;
    }
    if (len == 0) {
      out.text += kReplacement;
      out.replaced = true;
      rest.remove_prefix(1);
      continue;
    }
    out.text.append(rest.substr(0, size_t(len)));
    rest.remove_prefix(size_t(len));
  }
  return out;
}

Utf8ChunkDecoder::Chunk Utf8ChunkDecoder::finish() {
  Chunk out;
  if (!pending_.empty()) {
    out.text = std::string(kReplacement);
    out.replaced = true;
    pending_.clear();
  }
  return out;
}

}  // namespace agentd::base
