#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace agentd::rpc {

enum class Framing { kUndecided, kContentLength, kLine };

const char* framing_name(Framing framing);

// One complete message body taken from the byte stream.
struct Frame {
  std::string body;
};

// A framing problem the peer must hear about. The parser has already skipped
// past the offending bytes, so parsing can go on after reporting it.
struct FrameError {
  std::string message;
};

struct NeedMoreBytes {};

using ParseOutcome = std::variant<Frame, FrameError, NeedMoreBytes>;

// Splits a byte stream into JSON-RPC message bodies. Does no I/O: feed()
// bytes in, call next() until it says NeedMoreBytes. The framing is chosen
// from the first non-whitespace byte ('{' or '[' means one message per line,
// anything else means LSP Content-Length headers) and kept for the session.
class FrameParser {
 public:
  explicit FrameParser(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  void feed(std::string_view bytes) { buffer_.append(bytes); }
  ParseOutcome next();
  Framing framing() const { return framing_; }
  // Bytes held but not yet returned as a frame.
  size_t buffered() const { return buffer_.size() - pos_; }

  static constexpr size_t kMaxHeaderBytes = 8192;

 private:
  ParseOutcome next_line();
  ParseOutcome next_content_length();
  ParseOutcome skip_oversized_body();
  void compact();

  size_t max_message_bytes_;
  Framing framing_ = Framing::kUndecided;
  std::string buffer_;
  size_t pos_ = 0;
  // While > 0 we are discarding the body (or line) of an oversized message.
  size_t discard_remaining_ = 0;
  bool discarding_line_ = false;
  std::optional<size_t> body_length_;  // parsed header, waiting for the body
};

// Frames one outgoing message body in the session's framing.
std::string frame_message(Framing framing, std::string_view body);

}  // namespace agentd::rpc
