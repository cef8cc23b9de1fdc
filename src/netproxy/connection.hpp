#pragma once

// One client of the proxy, from its first byte to the end of the relay.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <string>

#include "netproxy/http_head.hpp"
#include "netproxy/server_state.hpp"

namespace agentd::netproxy {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

// Completion token for coroutines that look at error codes instead of catching exceptions.
// Note for all netproxy coroutines: never put co_await inside an if condition
// (`if (co_await f())`): g++ 12 miscompiles it and the coroutine dies on ud2. Assign first.
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using ClientSocket = asio::generic::stream_protocol::socket;

  Connection(std::shared_ptr<ServerState> server, ClientSocket client);

  // Sniffs the protocol from the first byte and serves the client to the end.
  asio::awaitable<void> run();
  // Closes both sockets and cancels everything pending (stop()).
  void close();

  ServerState& server() { return *server_; }
  const ProxyServer::Options& options() const { return server_->options; }
  ClientSocket& client() { return client_; }
  asio::ip::tcp::socket& upstream() { return upstream_; }
  asio::ip::tcp::resolver& resolver() { return resolver_; }

  // Bytes received from the client and not yet consumed by a protocol handler.
  std::string& pending() { return pending_; }
  // Reads more client bytes into pending() (at most `limit` in total).
  asio::awaitable<error_code> read_more(size_t limit);
  // Takes exactly `n` bytes from the client (pending() first).
  asio::awaitable<error_code> read_exact(size_t n, std::string& out);
  asio::awaitable<error_code> send_to_client(std::string_view bytes);

  // A deadline for the current phase; when it passes, pending operations are cancelled and
  // timed_out() becomes true.
  void arm_deadline(std::chrono::milliseconds after);
  void disarm_deadline();
  bool timed_out() const { return timed_out_; }

  // The "host:port" being served, for stats; set once the request names it.
  const std::string& destination() const { return destination_; }
  void set_destination(std::string destination) { destination_ = std::move(destination); }

 private:
  std::shared_ptr<ServerState> server_;
  ClientSocket client_;
  asio::ip::tcp::socket upstream_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer deadline_;
  uint64_t deadline_generation_ = 0;
  bool timed_out_ = false;
  std::string pending_;
  std::string destination_;
};

// What dial() achieved.
struct DialResult {
  enum class Status {
    kConnected,
    kRefused,  // by the allowlist
    kResolveFailed,
    kConnectionRefused,
    kUnreachable,
    kTimedOut,
    kFailed,  // any other error
  };
  Status status = Status::kFailed;
  std::string reason;
};

// Checks, resolves, checks each address, reports the verdict and connects conn.upstream() to
// the first allowed address that answers.
asio::awaitable<DialResult> dial(Connection& conn, const Authority& to, std::string protocol);

// How a relay ends: a tunnel passes each side's end of stream on as a half-close and ends when
// both sides ended; a forwarded plain HTTP request (sent with "Connection: close") ends as soon
// as the destination finished its response.
enum class RelayEnd { kBothSides, kCloseWithDestination };

// Relays both ways until it ends; `first_upstream_bytes` goes to the destination first (bytes
// the client sent right behind its request).
asio::awaitable<void> relay(Connection& conn, std::string first_upstream_bytes, RelayEnd end);

asio::awaitable<void> serve_http(Connection& conn);
asio::awaitable<void> serve_socks5(Connection& conn);

}  // namespace agentd::netproxy
