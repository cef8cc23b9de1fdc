#pragma once

// Test peers on 127.0.0.1: an echo server and a one-shot HTTP server running on the test's
// io_context, and blocking client helpers (with receive timeouts so a bug fails instead of
// hanging the test).

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"

namespace agentd::netproxy::testing {

// A TCP socket listening on 127.0.0.1 at a kernel-chosen port.
struct Listener {
  base::UniqueFd fd;
  uint16_t port = 0;
};
Listener listen_on_loopback();

// Echoes every byte back; on end of stream, half-closes its side too.
// Stops when the io_context stops.
uint16_t start_echo_server(boost::asio::io_context& io);

// Answers each request head with "200 OK" and body "hello from origin", closing after it.
// Remembers the heads it received.
struct HttpOrigin {
  uint16_t port = 0;
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<std::string>> heads = std::make_shared<std::vector<std::string>>();
  std::vector<std::string> received() const;
};
HttpOrigin start_http_origin(boost::asio::io_context& io);

// Blocking client side.
base::UniqueFd connect_to(uint16_t port);
void send_all(int fd, std::string_view bytes);
// Reads until `until` appears (returns everything read), end of stream or timeout.
std::string receive_until(int fd, std::string_view until);
// Reads exactly n bytes unless end of stream or timeout comes first.
std::string receive_exactly(int fd, size_t n);
// Reads until end of stream; returns what came. `ended` says whether it was end of stream (as
// opposed to a timeout).
std::string receive_to_end(int fd, bool* ended = nullptr);

}  // namespace agentd::netproxy::testing
