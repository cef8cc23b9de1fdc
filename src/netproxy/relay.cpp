// The byte relay between a client and its destination once the request was granted.
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "netproxy/connection.hpp"

namespace agentd::netproxy {
namespace {

using namespace asio::experimental::awaitable_operators;

enum class Direction { kUp, kDown };  // up: client -> destination

void close_both(Connection& conn) {
  error_code ignored;
  conn.client().close(ignored);
  conn.upstream().close(ignored);
}

// Copies `from` to `to` through one bounded buffer. End of stream is passed on as a half-close
// (shutdown of the sending side), so request/response protocols that close their sending side
// first still get their answer; any error tears down both sides.
template <typename From, typename To>
asio::awaitable<void> pump(Connection& conn, From& from, To& to, Direction direction,
                           RelayEnd end) {
  std::vector<char> buffer(conn.options().relay_buffer_bytes);
  for (;;) {
    auto [read_error, n] = co_await from.async_read_some(asio::buffer(buffer), use_nothrow);
    if (read_error) {
      error_code ignored;
      const bool end_of_stream = read_error == asio::error::eof;
      if (end_of_stream) to.shutdown(asio::socket_base::shutdown_send, ignored);
      const bool destination_done =
          direction == Direction::kDown && end == RelayEnd::kCloseWithDestination;
      if (!end_of_stream || destination_done) close_both(conn);
      co_return;
    }
    auto [write_error, written] =
        co_await asio::async_write(to, asio::buffer(buffer.data(), n), use_nothrow);
    if (write_error) {
      close_both(conn);
      co_return;
    }
    const bool up = direction == Direction::kUp;
    conn.server().count_bytes(conn.destination(), up ? n : 0, up ? 0 : n);
  }
}

}  // namespace

asio::awaitable<void> relay(Connection& conn, std::string first_upstream_bytes, RelayEnd end) {
  conn.disarm_deadline();  // a relayed connection may stay quiet for as long as it likes
  if (!first_upstream_bytes.empty()) {
    auto [ec, n] = co_await asio::async_write(conn.upstream(), asio::buffer(first_upstream_bytes),
                                              use_nothrow);
    if (ec) co_return;
    conn.server().count_bytes(conn.destination(), n, 0);
  }
  co_await (pump(conn, conn.client(), conn.upstream(), Direction::kUp, end) &&
            pump(conn, conn.upstream(), conn.client(), Direction::kDown, end));
}

}  // namespace agentd::netproxy
