#include "netproxy/proxy_server.hpp"

#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>

#include "base/log.hpp"
#include "base/unique_fd.hpp"
#include "netproxy/connection.hpp"

namespace agentd::netproxy {
namespace {

// Logs what escaped a coroutine instead of letting it take the io_context down.
void log_if_failed(std::exception_ptr failure, const char* what) {
  if (!failure) return;
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    base::log_error(std::string("netproxy: ") + what + " failed: " + e.what());
  }
}

void start_connection(const std::shared_ptr<ServerState>& state, Connection::ClientSocket client) {
  if (state->connections.size() >= state->options.max_connections) {
    base::log_warn("netproxy: refusing a client: " + std::to_string(state->connections.size()) +
                   " connections are open already (the limit)");
    return;  // the socket closes as it goes out of scope
  }
  auto connection = std::make_shared<Connection>(state, std::move(client));
  const uint64_t id = state->next_connection_id++;
  state->connections.emplace(id, connection);
  state->count_connection_opened();
  asio::co_spawn(state->io, connection->run(), [state, connection, id](std::exception_ptr failure) {
    log_if_failed(failure, "a proxy connection");
    connection->close();
    state->connections.erase(id);
    state->count_connection_closed();
  });
}

asio::awaitable<void> accept_loop(std::shared_ptr<ServerState> state, Acceptor& acceptor) {
  asio::steady_timer backoff(state->io);
  while (!state->stopped) {
    auto [ec, client] = co_await acceptor.async_accept(use_nothrow);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors and the like: wait a little rather than spin.
      base::log_warn("netproxy: accept failed: " + ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(use_nothrow);
      continue;
    }
    start_connection(state, std::move(client));
  }
}

// Checks that `fd` is a listening stream socket and says which protocol family it has.
base::Result<asio::generic::stream_protocol> listening_protocol(int fd) {
  int value = 0;
  socklen_t length = sizeof(value);
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &length) != 0) {
    return base::errno_error("ProxyServer::serve: getsockopt(fd " + std::to_string(fd) +
                             ", SO_TYPE) (is it a socket?)");
  }
  if (value != SOCK_STREAM) {
    return base::plain_error("ProxyServer::serve: fd " + std::to_string(fd) +
                             " is not a stream socket; pass a listening TCP or unix socket");
  }
  length = sizeof(value);
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) != 0 || value == 0) {
    return base::plain_error("ProxyServer::serve: fd " + std::to_string(fd) +
                             " is not listening; call listen() on it first");
  }
  length = sizeof(value);
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &length) != 0) {
    return base::errno_error("ProxyServer::serve: getsockopt(fd " + std::to_string(fd) +
                             ", SO_DOMAIN)");
  }
  const int protocol = value == AF_UNIX ? 0 : IPPROTO_TCP;
  return asio::generic::stream_protocol(value, protocol);
}

}  // namespace

ProxyServer::ProxyServer(asio::io_context& io, std::shared_ptr<const Allowlist> allowlist,
                         Callbacks callbacks)
    : ProxyServer(io, std::move(allowlist), std::move(callbacks), Options{}) {}

ProxyServer::ProxyServer(asio::io_context& io, std::shared_ptr<const Allowlist> allowlist,
                         Callbacks callbacks, Options options)
    : state_(
          std::make_shared<ServerState>(io, std::move(allowlist), std::move(callbacks), options)) {}

ProxyServer::~ProxyServer() { stop(); }

base::Status ProxyServer::serve(int listening_fd) {
  base::UniqueFd owned(listening_fd);
  auto protocol = listening_protocol(owned.get());
  if (!protocol) return protocol.error();
  if (state_->stopped) return base::plain_error("ProxyServer::serve: the proxy was stopped");
  asio::dispatch(state_->io, [state = state_, protocol = *protocol, fd = owned.release()] {
    base::UniqueFd owned_fd(fd);
    if (state->stopped) return;  // stop() won the race; the fd closes here
    Acceptor& acceptor = state->acceptors.emplace_back(state->io);
    boost::system::error_code ec;
    acceptor.assign(protocol, owned_fd.get(), ec);
    if (ec) {
      base::log_error("netproxy: cannot serve the listening socket: " + ec.message());
      return;
    }
    owned_fd.release();
    asio::co_spawn(state->io, accept_loop(state, acceptor),
                   [](std::exception_ptr failure) { log_if_failed(failure, "accepting"); });
  });
  return {};
}

void ProxyServer::stop() {
  if (state_->stopped.exchange(true)) return;
  asio::dispatch(state_->io, [state = state_] { state->close_everything(); });
}

Stats ProxyServer::stats() const { return state_->stats(); }

}  // namespace agentd::netproxy
