#include "netproxy/connection.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace agentd::netproxy {

namespace {
constexpr unsigned char kSocks5Version = 0x05;
constexpr size_t kReadChunk = 4096;
}  // namespace

Connection::Connection(std::shared_ptr<ServerState> server, ClientSocket client)
    : server_(std::move(server)),
      client_(std::move(client)),
      upstream_(server_->io),
      resolver_(server_->io),
      deadline_(server_->io) {}

asio::awaitable<void> Connection::run() {
  arm_deadline(options().handshake_timeout);
  const error_code first_read = co_await read_more(1);
  if (first_read) co_return;  // closed or timed out before saying anything
  if (static_cast<unsigned char>(pending_[0]) == kSocks5Version) {
    co_await serve_socks5(*this);
  } else {
    co_await serve_http(*this);
  }
  close();
}

void Connection::close() {
  error_code ignored;
  deadline_.cancel();
  resolver_.cancel();
  client_.close(ignored);
  upstream_.close(ignored);
}

asio::awaitable<error_code> Connection::read_more(size_t limit) {
  const size_t room = limit > pending_.size() ? limit - pending_.size() : 0;
  if (room == 0) co_return asio::error::no_buffer_space;
  const size_t old_size = pending_.size();
  pending_.resize(old_size + std::min(room, kReadChunk));
  auto [ec, n] = co_await client_.async_read_some(
      asio::buffer(pending_.data() + old_size, pending_.size() - old_size), use_nothrow);
  pending_.resize(old_size + n);
  co_return ec;
}

asio::awaitable<error_code> Connection::read_exact(size_t n, std::string& out) {
  while (pending_.size() < n) {
    const error_code ec = co_await read_more(n);
    if (ec) co_return ec;
  }
  out = pending_.substr(0, n);
  pending_.erase(0, n);
  co_return error_code{};
}

asio::awaitable<error_code> Connection::send_to_client(std::string_view bytes) {
  auto [ec, n] = co_await asio::async_write(client_, asio::buffer(bytes), use_nothrow);
  co_return ec;
}

void Connection::arm_deadline(std::chrono::milliseconds after) {
  // The generation tells a stale expiry (already queued when the deadline was re-armed or
  // disarmed) from the current one.
  const uint64_t generation = ++deadline_generation_;
  deadline_.expires_after(after);
  deadline_.async_wait([weak = weak_from_this(), generation](error_code ec) {
    auto self = weak.lock();
    if (ec || !self || generation != self->deadline_generation_) return;
    self->timed_out_ = true;
    error_code ignored;
    self->client_.cancel(ignored);
    self->upstream_.cancel(ignored);
    self->resolver_.cancel();
  });
}

void Connection::disarm_deadline() {
  ++deadline_generation_;
  deadline_.cancel();
}

}  // namespace agentd::netproxy
