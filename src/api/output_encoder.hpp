#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/utf8.hpp"

namespace agentd::api {

// Turns raw output bytes of one stream into the `data` of exec/output:
// base64 (lossless) or UTF-8 text split on character boundaries with invalid
// bytes replaced and flagged.
class OutputEncoder {
 public:
  explicit OutputEncoder(bool utf8) : utf8_(utf8) {}

  const char* encoding() const { return utf8_ ? "utf8" : "base64"; }
  bool is_base64() const { return !utf8_; }
  // Fills params["data"] (and "replaced") and returns false when there is
  // nothing to send yet (only part of a character arrived).
  bool encode(std::string_view bytes, nlohmann::json& params);
  // Whatever an incomplete trailing character left behind, at end of stream.
  bool finish(nlohmann::json& params);
  // A whole stream at once (exec/run); returns the encoded text and sets
  // `replaced` when invalid UTF-8 was replaced.
  std::string encode_whole(std::string_view bytes, bool& replaced);

 private:
  bool utf8_;
  base::Utf8ChunkDecoder decoder_;
};

}  // namespace agentd::api
