#include "api/output_encoder.hpp"

#include "base/base64.hpp"

namespace agentd::api {

namespace {

bool put_text(base::Utf8ChunkDecoder::Chunk chunk, nlohmann::json& params) {
  if (chunk.text.empty()) return false;
  params["data"] = std::move(chunk.text);
  if (chunk.replaced) params["replaced"] = true;
  return true;
}
}  // namespace

bool OutputEncoder::encode(std::string_view bytes, nlohmann::json& params) {
  if (!utf8_) {
    params["data"] = base::base64_encode(bytes);
    return true;
  }
  return put_text(decoder_.decode(bytes), params);
}

bool OutputEncoder::finish(nlohmann::json& params) {
  return utf8_ && put_text(decoder_.finish(), params);
}

std::string OutputEncoder::encode_whole(std::string_view bytes, bool& replaced) {
  if (!utf8_) return base::base64_encode(bytes);
  auto body = decoder_.decode(bytes);
  auto tail = decoder_.finish();
  replaced = replaced || body.replaced || tail.replaced;
  return body.text + tail.text;
}

}  // namespace agentd::api
