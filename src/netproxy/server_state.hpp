#pragma once

// What a ProxyServer shares with its connections. Everything but the stats and the stopped
// flag is touched on the io_context's thread only.

#include <atomic>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <list>
#include <map>
#include <memory>
#include <mutex>

#include "netproxy/proxy_server.hpp"

namespace agentd::netproxy {

class Connection;

using Acceptor = boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;

class ServerState {
 public:
  ServerState(boost::asio::io_context& io, std::shared_ptr<const Allowlist> allowlist,
              ProxyServer::Callbacks callbacks, ProxyServer::Options options)
      : io(io),
        allowlist(std::move(allowlist)),
        callbacks(std::move(callbacks)),
        options(options) {}

  boost::asio::io_context& io;
  const std::shared_ptr<const Allowlist> allowlist;
  const ProxyServer::Callbacks callbacks;
  const ProxyServer::Options options;
  std::atomic<bool> stopped{false};

  // io thread only.
  std::list<Acceptor> acceptors;
  std::map<uint64_t, std::weak_ptr<Connection>> connections;
  uint64_t next_connection_id = 1;

  // Counts the verdict in the stats and tells the callback (unless stopped).
  void report(const ConnectionEvent& event);
  void count_failure(const std::string& destination);
  void count_bytes(const std::string& destination, uint64_t up, uint64_t down);
  void count_connection_opened();
  void count_connection_closed();
  Stats stats() const;

  // Closes acceptors and connections; io thread only.
  void close_everything();

 private:
  DestinationStats& entry(const std::string& destination);  // stats_mutex_ held

  mutable std::mutex stats_mutex_;
  Stats stats_;
};

}  // namespace agentd::netproxy
