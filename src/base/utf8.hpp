#pragma once

#include <string>
#include <string_view>

namespace agentd::base {

// Decodes a byte stream to valid UTF-8 text in chunks, never splitting a
// character across chunks: an incomplete sequence at the end of a chunk is
// held back until the next one (or flushed as U+FFFD at the end).
class Utf8ChunkDecoder {
 public:
  struct Chunk {
    std::string text;
    bool replaced = false;  // some invalid bytes became U+FFFD
  };

  Chunk decode(std::string_view bytes);
  Chunk finish();

 private:
  std::string pending_;
};

// Length of the valid UTF-8 sequence starting at s[0], 0 when invalid, or -1
// when s is a valid but incomplete prefix.
int utf8_sequence_length(std::string_view s);

}  // namespace agentd::base
