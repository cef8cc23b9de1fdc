#include "base/base64.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace agentd::base {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_decode_table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr auto kDecode = make_decode_table();

// Every 12-bit value as its two base64 characters: three input bytes become
// two lookups instead of four shifts and masks per character (exec output is
// agentd's hottest path).
struct PairTable {
  char pairs[4096][2];
  constexpr PairTable() : pairs{} {
    for (int v = 0; v < 4096; ++v) {
      pairs[v][0] = kAlphabet[v >> 6];
      pairs[v][1] = kAlphabet[v & 63];
    }
  }
};
constexpr PairTable kPairs;

}  // namespace

void base64_append(std::string_view bytes, std::string& out) {
  size_t start = out.size();
  out.resize(start + (bytes.size() + 2) / 3 * 4);
  char* dst = out.data() + start;
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t whole = bytes.size() / 3 * 3;
  for (size_t i = 0; i < whole; i += 3, dst += 4) {
    uint32_t n = (uint32_t(src[i]) << 16) | (uint32_t(src[i + 1]) << 8) | src[i + 2];
    std::memcpy(dst, kPairs.pairs[n >> 12], 2);
    std::memcpy(dst + 2, kPairs.pairs[n & 4095], 2);
  }
  size_t rest = bytes.size() - whole;
  if (rest == 0) return;
  uint32_t n = uint32_t(src[whole]) << 16;
  if (rest == 2) n |= uint32_t(src[whole + 1]) << 8;
  dst[0] = kAlphabet[(n >> 18) & 63];
  dst[1] = kAlphabet[(n >> 12) & 63];
  dst[2] = rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
  dst[3] = '=';
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  base64_append(bytes, out);
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    uint32_t n = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        ++pad;
        n <<= 6;
        continue;
      }
      int8_t v = kDecode[static_cast<uint8_t>(c)];
      if (v < 0 || pad > 0) return std::nullopt;
      n = (n << 6) | uint32_t(v);
    }
    out += char((n >> 16) & 0xff);
    if (pad < 2) out += char((n >> 8) & 0xff);
    if (pad < 1) out += char(n & 0xff);
  }
  return out;
}

}  // namespace agentd::base
