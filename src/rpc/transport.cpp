#include "rpc/transport.hpp"

#include <boost/asio/write.hpp>

#include "base/log.hpp"

namespace agentd::rpc {

namespace asio = boost::asio;

Transport::Transport(asio::io_context& io, int in_fd, int out_fd, size_t max_message_bytes)
    : in_(io, in_fd), out_(io, out_fd), parser_(max_message_bytes) {}

void Transport::start(Handlers handlers) {
  handlers_ = std::move(handlers);
  read_more();
}

void Transport::read_more() {
  // A client that does not read its replies must not make us buffer without
  // bound: stop taking requests while the write queue is congested.
  if (congested()) {
    reading_paused_ = true;
    return;
  }
  in_.async_read_some(asio::buffer(read_buffer_), [this](boost::system::error_code ec, size_t n) {
    if (ec) {
      if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
        base::log_warn("reading stdin failed: " + ec.message());
      }
      if (ec != asio::error::operation_aborted && handlers_.on_eof) handlers_.on_eof();
      return;
    }
    parser_.feed(std::string_view(read_buffer_.data(), n));
    drain_parser();
    read_more();
  });
}

void Transport::drain_parser() {
  while (true) {
    ParseOutcome outcome = parser_.next();
    if (std::holds_alternative<NeedMoreBytes>(outcome)) return;
    if (auto* frame = std::get_if<Frame>(&outcome)) {
      handlers_.on_frame(std::move(frame->body));
    } else {
      handlers_.on_frame_error(std::get<FrameError>(outcome).message);
    }
  }
}

void Transport::send(std::string_view body) {
  if (output_broken_) return;
  // Before the first byte arrives the framing is unknown; answer in lines.
  Framing framing = parser_.framing() == Framing::kUndecided ? Framing::kLine : parser_.framing();
  std::string framed = frame_message(framing, body);
  queued_bytes_ += framed.size();
  queue_.push_back(std::move(framed));
  if (!writing_) write_next();
}

void Transport::write_next() {
  if (queue_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  asio::async_write(out_, asio::buffer(queue_.front()),
                    [this](boost::system::error_code ec, size_t) {
                      queued_bytes_ -= queue_.front().size();
                      queue_.pop_front();
                      if (ec) {
                        base::log_error("writing stdout failed: " + ec.message());
                        output_broken_ = true;
                        queue_.clear();
                        queued_bytes_ = 0;
                        writing_ = false;
                        if (handlers_.on_eof) handlers_.on_eof();
                        return;
                      }
                      if (queued_bytes_ <= kLowWater) notify_drained();
                      write_next();
                    });
}

void Transport::when_drained(std::function<void()> callback) {
  if (!congested()) {
    callback();
    return;
  }
  drain_waiters_.push_back(std::move(callback));
}

void Transport::notify_drained() {
  if (reading_paused_) {
    reading_paused_ = false;
    read_more();
  }
  auto waiters = std::move(drain_waiters_);
  drain_waiters_.clear();
  for (auto& waiter : waiters) waiter();
}

void Transport::close_input() {
  boost::system::error_code ignored;
  in_.close(ignored);
}

}  // namespace agentd::rpc
