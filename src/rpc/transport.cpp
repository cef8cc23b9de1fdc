#include "rpc/transport.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <boost/asio/write.hpp>

#include "base/log.hpp"

namespace agentd::rpc {

namespace asio = boost::asio;

Transport::Transport(asio::io_context& io, int in_fd, int out_fd, size_t max_message_bytes)
    : in_(io, in_fd), out_(io, out_fd), parser_(max_message_bytes) {
  // When stdout is a pipe, a bigger one lets a burst of output go out in one
  // write while the client is still parsing the last: fewer wake-ups on both
  // sides. Best effort: the kernel may refuse (EPERM above the pipe quota),
  // and a socket or file is no pipe (EBADF).
  struct stat st {};
  if (::fstat(out_fd, &st) == 0 && S_ISFIFO(st.st_mode)) (void)::fcntl(out_fd, F_SETPIPE_SZ, kPipeBytes);
}

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
  size_t before = pending_.size();
  if (framing == Framing::kLine) {
    pending_.append(body);
    pending_ += '\n';
  } else {
    pending_.append(frame_message(framing, body));
  }
  queued_bytes_ += pending_.size() - before;
  if (!writing_) write_next();
}

void Transport::write_next() {
  if (pending_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  in_flight_.clear();
  // A burst far above the high-water mark (one huge reply) need not stay allocated.
  if (in_flight_.capacity() > 4 * kHighWater) in_flight_.shrink_to_fit();
  in_flight_.swap(pending_);
  asio::async_write(out_, asio::buffer(in_flight_), [this](boost::system::error_code ec, size_t) {
    queued_bytes_ -= in_flight_.size();
    in_flight_.clear();
    if (ec) {
      base::log_error("writing stdout failed: " + ec.message());
      output_broken_ = true;
      pending_.clear();
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
