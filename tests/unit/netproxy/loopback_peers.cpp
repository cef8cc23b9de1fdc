#include "loopback_peers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>

namespace agentd::netproxy::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

sockaddr_in loopback_address(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

asio::awaitable<void> echo(tcp::socket socket) {
  std::vector<char> buffer(4096);
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_nothrow);
    if (ec) break;
    auto [write_error, written] =
        co_await asio::async_write(socket, asio::buffer(buffer.data(), n), use_nothrow);
    if (write_error) co_return;
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> serve_http_once(tcp::socket socket, HttpOrigin origin) {
  asio::streambuf buffer;
  auto [ec, n] = co_await asio::async_read_until(socket, buffer, "\r\n\r\n", use_nothrow);
  if (ec) co_return;
  const std::string head(asio::buffers_begin(buffer.data()),
                         asio::buffers_begin(buffer.data()) + static_cast<std::ptrdiff_t>(n));
  {
    std::lock_guard lock(*origin.mutex);
    origin.heads->push_back(head);
  }
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Length: 17\r\nConnection: close\r\n\r\nhello from origin";
  co_await asio::async_write(socket, asio::buffer(response), use_nothrow);
}

template <typename Handler>
asio::awaitable<void> accept_forever(std::shared_ptr<tcp::acceptor> acceptor, Handler handler) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(use_nothrow);
    if (ec) co_return;
    asio::co_spawn(acceptor->get_executor(), handler(std::move(socket)), asio::detached);
  }
}

std::shared_ptr<tcp::acceptor> loopback_acceptor(asio::io_context& io) {
  Listener listener = listen_on_loopback();
  auto acceptor = std::make_shared<tcp::acceptor>(io);
  acceptor->assign(tcp::v4(), listener.fd.release());
  return acceptor;
}

void set_receive_timeout(int fd) {
  timeval timeout{};
  timeout.tv_sec = 20;  // only reached when the proxy misbehaves
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
}

}  // namespace

Listener listen_on_loopback() {
  base::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error("socket() failed");
  sockaddr_in address = loopback_address(0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd.get(), 64) != 0) {
    throw std::runtime_error("bind/listen on 127.0.0.1:0 failed");
  }
  socklen_t length = sizeof(address);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  return Listener{std::move(fd), ntohs(address.sin_port)};
}

uint16_t start_echo_server(asio::io_context& io) {
  auto acceptor = loopback_acceptor(io);
  const uint16_t port = acceptor->local_endpoint().port();
  asio::co_spawn(io, accept_forever(acceptor, [](tcp::socket s) { return echo(std::move(s)); }),
                 asio::detached);
  return port;
}

HttpOrigin start_http_origin(asio::io_context& io) {
  auto acceptor = loopback_acceptor(io);
  HttpOrigin origin;
  origin.port = acceptor->local_endpoint().port();
  asio::co_spawn(
      io,
      accept_forever(acceptor,
                     [origin](tcp::socket s) { return serve_http_once(std::move(s), origin); }),
      asio::detached);
  return origin;
}

std::vector<std::string> HttpOrigin::received() const {
  std::lock_guard lock(*mutex);
  return *heads;
}

base::UniqueFd connect_to(uint16_t port) {
  base::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address = loopback_address(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return base::UniqueFd();
  }
  set_receive_timeout(fd.get());
  return fd;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

std::string receive_until(int fd, std::string_view until) {
  std::string received;
  char buffer[4096];
  while (received.find(until) == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    received.append(buffer, static_cast<size_t>(n));
  }
  return received;
}

std::string receive_exactly(int fd, size_t count) {
  std::string received;
  char buffer[4096];
  while (received.size() < count) {
    const ssize_t n = ::recv(fd, buffer, std::min(sizeof(buffer), count - received.size()), 0);
    if (n <= 0) break;
    received.append(buffer, static_cast<size_t>(n));
  }
  return received;
}

std::string receive_to_end(int fd, bool* ended) {
  std::string received;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      received.append(buffer, static_cast<size_t>(n));
      continue;
    }
    // 0 is an orderly end; ECONNRESET is an end too (the proxy closed with data unread).
    if (ended) *ended = n == 0 || errno == ECONNRESET;
    return received;
  }
}

}  // namespace agentd::netproxy::testing
