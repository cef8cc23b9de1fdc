#include "rpc/framing.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace agentd::rpc {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Parses one header block (without the blank line). Returns the
// Content-Length or an error text.
std::variant<size_t, std::string> parse_headers(std::string_view block) {
  std::optional<size_t> length;
  while (!block.empty()) {
    size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return "malformed header line (expected `Name: value`): " + std::string(line.substr(0, 80));
    }
    if (lower(trim(line.substr(0, colon))) != "content-length") continue;  // ignore others
    std::string_view value = trim(line.substr(colon + 1));
    size_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
      return "Content-Length is not a non-negative integer: " + std::string(value.substr(0, 40));
    }
    length = n;
  }
  if (!length) return std::string("header block has no Content-Length");
  return *length;
}

std::string too_large(size_t size, size_t limit) {
  return "message of " + std::to_string(size) + " bytes exceeds the limit of " +
         std::to_string(limit) + " bytes (raise it with --max-message-bytes)";
}

}  // namespace

const char* framing_name(Framing framing) {
  switch (framing) {
    case Framing::kContentLength:
      return "content-length";
    case Framing::kLine:
      return "line";
    default:
      return "undecided";
  }
}

void FrameParser::compact() {
  if (pos_ > 0 && (pos_ >= buffer_.size() || pos_ > 65536)) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
}

ParseOutcome FrameParser::next() {
  compact();
  if (framing_ == Framing::kUndecided) {
    while (pos_ < buffer_.size() && is_space(buffer_[pos_])) ++pos_;
    if (pos_ == buffer_.size()) return NeedMoreBytes{};
    char first = buffer_[pos_];
    framing_ = (first == '{' || first == '[') ? Framing::kLine : Framing::kContentLength;
  }
  return framing_ == Framing::kLine ? next_line() : next_content_length();
}

ParseOutcome FrameParser::next_line() {
  while (true) {
    size_t nl = buffer_.find('\n', pos_);
    if (discarding_line_) {
      if (nl == std::string::npos) {
        pos_ = buffer_.size();
        return NeedMoreBytes{};
      }
      pos_ = nl + 1;
      discarding_line_ = false;
      continue;
    }
    if (nl == std::string::npos) {
      // One byte of slack for the '\r' of a CRLF ending, which is not part of
      // the message: otherwise a message of exactly the limit would be refused
      // or not depending on whether a read ended between '\r' and '\n'.
      if (buffered() > max_message_bytes_ + 1) {
        size_t seen = buffered();
        pos_ = buffer_.size();
        discarding_line_ = true;
        return FrameError{too_large(seen, max_message_bytes_) + "; the rest of the line is skipped"};
      }
      return NeedMoreBytes{};
    }
    std::string_view line(buffer_.data() + pos_, nl - pos_);
    pos_ = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;  // blank lines between messages are fine
    if (line.size() > max_message_bytes_) return FrameError{too_large(line.size(), max_message_bytes_)};
    return Frame{std::string(line)};
  }
}

ParseOutcome FrameParser::skip_oversized_body() {
  size_t take = std::min(discard_remaining_, buffered());
  pos_ += take;
  discard_remaining_ -= take;
  return NeedMoreBytes{};
}

ParseOutcome FrameParser::next_content_length() {
  while (true) {
    if (discard_remaining_ > 0) {
      skip_oversized_body();
      if (discard_remaining_ > 0) return NeedMoreBytes{};
    }
    if (body_length_) {
      if (buffered() < *body_length_) return NeedMoreBytes{};
      Frame frame{buffer_.substr(pos_, *body_length_)};
      pos_ += *body_length_;
      body_length_.reset();
      return frame;
    }
    // Whitespace between messages is tolerated.
    while (pos_ < buffer_.size() && is_space(buffer_[pos_])) ++pos_;
    size_t end = buffer_.find("\r\n\r\n", pos_);
    if (end == std::string::npos) {
      if (buffered() > kMaxHeaderBytes) {
        pos_ = buffer_.size();
        return FrameError{"header block longer than " + std::to_string(kMaxHeaderBytes) +
                          " bytes without a blank line; skipped"};
      }
      return NeedMoreBytes{};
    }
    std::string_view block(buffer_.data() + pos_, end - pos_);
    pos_ = end + 4;
    auto parsed = parse_headers(block);
    if (auto* err = std::get_if<std::string>(&parsed)) return FrameError{*err};
    size_t length = std::get<size_t>(parsed);
    if (length > max_message_bytes_) {
      discard_remaining_ = length;
      skip_oversized_body();
      return FrameError{too_large(length, max_message_bytes_) + "; its body is skipped"};
    }
    body_length_ = length;
  }
}

std::string frame_message(Framing framing, std::string_view body) {
  if (framing == Framing::kLine) {
    std::string out(body);
    out += '\n';
    return out;
  }
  std::string out = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out.append(body);
  return out;
}

}  // namespace agentd::rpc
