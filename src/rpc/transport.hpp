#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "rpc/framing.hpp"

namespace agentd::rpc {

// Byte-level stdio channel: reads frames from the input fd, writes framed
// messages to the output fd through one queue. The queue is a single buffer:
// whatever is sent while a write is in flight is appended to it and goes out
// with the next write, so a burst of small notifications costs one write(2),
// not one each, and keeps its order. When the queue holds more than the
// high-water mark the transport reports congestion; producers (exec output
// pumps) wait in when_drained() until it falls below the low-water mark.
class Transport {
 public:
  struct Handlers {
    std::function<void(std::string body)> on_frame;
    std::function<void(std::string message)> on_frame_error;
    std::function<void()> on_eof;
  };

  Transport(boost::asio::io_context& io, int in_fd, int out_fd, size_t max_message_bytes);

  void start(Handlers handlers);
  // Frames `body` in the session's framing and queues it.
  void send(std::string_view body);
  Framing framing() const { return parser_.framing(); }

  bool congested() const { return queued_bytes_ > kHighWater; }
  void when_drained(std::function<void()> callback);
  size_t queued_bytes() const { return queued_bytes_; }

  bool idle() const { return !writing_ && pending_.empty(); }
  void close_input();

  static constexpr size_t kHighWater = 4 << 20;
  static constexpr size_t kLowWater = 1 << 20;
  static constexpr int kPipeBytes = 1 << 20;  // asked for when stdout is a pipe

 private:
  void read_more();
  void drain_parser();
  void write_next();
  void notify_drained();

  boost::asio::posix::stream_descriptor in_;
  boost::asio::posix::stream_descriptor out_;
  FrameParser parser_;
  Handlers handlers_;
  std::array<char, 65536> read_buffer_;
  std::string in_flight_;  // the bytes of the write in progress
  std::string pending_;    // framed messages sent since it started, in order
  size_t queued_bytes_ = 0;  // in_flight_ + pending_
  bool writing_ = false;
  bool reading_paused_ = false;
  bool output_broken_ = false;
  std::vector<std::function<void()>> drain_waiters_;
};

}  // namespace agentd::rpc
