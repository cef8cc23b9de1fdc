#pragma once

// The egress proxy of a sandbox: HTTP CONNECT, plain HTTP (absolute-form) and SOCKS5 on one
// listening socket, every destination checked against the sandbox's Allowlist after the proxy
// resolved the name itself.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "netproxy/allowlist.hpp"

namespace agentd::netproxy {

class ServerState;

// One verdict on one client request.
struct ConnectionEvent {
  std::string destination;  // "host:port" as asked (name lower-cased, IPv6 in brackets)
  // The address judged; empty when the name was refused before resolving it.
  std::optional<boost::asio::ip::address> resolved;
  bool allowed = false;
  std::string reason;
  std::string protocol;  // "http-connect", "http" or "socks5"
  // The client's TCP source port (0 for a unix listener): with it the owner
  // of the listener can find the process behind the connection.
  uint16_t client_port = 0;
};

struct DestinationStats {
  uint64_t allowed = 0;
  uint64_t refused = 0;
  uint64_t failed = 0;      // allowed, but resolving or connecting failed
  uint64_t bytes_up = 0;    // client -> destination
  uint64_t bytes_down = 0;  // destination -> client
};

struct Stats {
  // Keyed by "host:port". At most Options::max_tracked_destinations keys; further
  // destinations are added up under "(other)".
  std::map<std::string, DestinationStats> destinations;
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
};

class ProxyServer {
 public:
  struct Callbacks {
    // Called on the io_context's thread for every allow/refuse verdict; never after stop().
    std::function<void(const ConnectionEvent&)> on_decision;
  };

  struct Options {
    size_t max_head_bytes = 16 * 1024;  // request head (HTTP) cap; larger gets 431
    std::chrono::milliseconds handshake_timeout{10'000};  // HTTP head / SOCKS5 negotiation
    std::chrono::milliseconds connect_timeout{15'000};    // resolving + connecting
    size_t relay_buffer_bytes = 16 * 1024;                // per direction, per connection
    size_t max_connections = 256;                         // more are closed at once
    size_t max_tracked_destinations = 1024;
  };

  ProxyServer(boost::asio::io_context& io, std::shared_ptr<const Allowlist> allowlist,
              Callbacks callbacks);
  ProxyServer(boost::asio::io_context& io, std::shared_ptr<const Allowlist> allowlist,
              Callbacks callbacks, Options options);
  ~ProxyServer();  // stop()s
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  // Takes ownership of a listening stream socket (TCP or unix) and serves it until stop().
  // May be called more than once. A bad fd is closed and reported.
  base::Status serve(int listening_fd);

  // Closes the listening sockets and every client and destination connection. Safe from any
  // thread; the closing itself runs on the io_context (at once when called on its thread).
  void stop();

  // Safe from any thread.
  Stats stats() const;

 private:
  // Shared with the connections, which may finish closing after this object is gone.
  std::shared_ptr<ServerState> state_;
};

}  // namespace agentd::netproxy
