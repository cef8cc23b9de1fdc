#include "api/output_encoder.hpp"

#include <cstdint>
#include <cstring>

namespace agentd::api {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Every 12-bit value as its two base64 characters: three input bytes become
// two lookups instead of four shifts and masks per character.
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

bool put_text(base::Utf8ChunkDecoder::Chunk chunk, nlohmann::json& params) {
  if (chunk.text.empty()) return false;
  params["data"] = std::move(chunk.text);
  if (chunk.replaced) params["replaced"] = true;
  return true;
}
}  // namespace

void OutputEncoder::append_base64(std::string_view bytes, std::string& out) {
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

bool OutputEncoder::encode(std::string_view bytes, nlohmann::json& params) {
  if (!utf8_) {
    std::string data;
    append_base64(bytes, data);
    params["data"] = std::move(data);
    return true;
  }
  return put_text(decoder_.decode(bytes), params);
}

bool OutputEncoder::finish(nlohmann::json& params) {
  return utf8_ && put_text(decoder_.finish(), params);
}

std::string OutputEncoder::encode_whole(std::string_view bytes, bool& replaced) {
  if (!utf8_) {
    std::string out;
    append_base64(bytes, out);
    return out;
  }
  auto body = decoder_.decode(bytes);
  auto tail = decoder_.finish();
  replaced = replaced || body.replaced || tail.replaced;
  return body.text + tail.text;
}

}  // namespace agentd::api
