// The SOCKS5 side of the proxy (RFC 1928): no authentication, CONNECT only.
#include <array>

#include "netproxy/connection.hpp"

namespace agentd::netproxy {
namespace {

using Status = DialResult::Status;

constexpr unsigned char kVersion = 0x05;
constexpr unsigned char kNoAuthentication = 0x00;
constexpr unsigned char kNoAcceptableMethod = 0xff;
constexpr unsigned char kCommandConnect = 0x01;
constexpr unsigned char kAtypIpv4 = 0x01;
constexpr unsigned char kAtypDomain = 0x03;
constexpr unsigned char kAtypIpv6 = 0x04;

enum Reply : unsigned char {
  kSucceeded = 0x00,
  kGeneralFailure = 0x01,
  kNotAllowedByRuleset = 0x02,
  kHostUnreachable = 0x04,
  kConnectionRefused = 0x05,
  kTtlExpired = 0x06,
  kCommandNotSupported = 0x07,
  kAddressTypeNotSupported = 0x08,
};

// The bound address in replies is always 0.0.0.0:0: clients do not need it for CONNECT, and
// the host's real local address is none of the sandbox's business.
std::string reply(Reply code) {
  return std::string{
      static_cast<char>(kVersion), static_cast<char>(code), 0, kAtypIpv4, 0, 0, 0, 0, 0, 0};
}

Reply reply_for(Status status) {
  switch (status) {
    case Status::kConnected:
      return kSucceeded;
    case Status::kRefused:
      return kNotAllowedByRuleset;
    case Status::kResolveFailed:
      return kHostUnreachable;
    case Status::kUnreachable:
      return kHostUnreachable;
    case Status::kConnectionRefused:
      return kConnectionRefused;
    case Status::kTimedOut:
      return kTtlExpired;
    case Status::kFailed:
      return kGeneralFailure;
  }
  return kGeneralFailure;
}

// Method negotiation: only "no authentication" is offered.
asio::awaitable<bool> negotiate_method(Connection& conn) {
  std::string header;
  error_code ec = co_await conn.read_exact(2, header);
  if (ec) co_return false;
  std::string methods;
  ec = co_await conn.read_exact(static_cast<unsigned char>(header[1]), methods);
  if (ec) co_return false;
  const bool offered = methods.find(static_cast<char>(kNoAuthentication)) != std::string::npos;
  // Built before co_await: g++ 12 rejects a braced temporary inside a co_await expression.
  const std::string answer{static_cast<char>(kVersion),
                           static_cast<char>(offered ? kNoAuthentication : kNoAcceptableMethod)};
  ec = co_await conn.send_to_client(answer);
  if (ec) co_return false;
  co_return offered;
}

// DST.ADDR of ATYP IPv4 (4 bytes) or IPv6 (16 bytes) as text.
std::string address_text(const std::string& bytes) {
  if (bytes.size() == 4) {
    asio::ip::address_v4::bytes_type raw;
    std::copy(bytes.begin(), bytes.end(), raw.begin());
    return asio::ip::address_v4(raw).to_string();
  }
  asio::ip::address_v6::bytes_type raw;
  std::copy(bytes.begin(), bytes.end(), raw.begin());
  return asio::ip::address_v6(raw).to_string();
}

// Reads DST.ADDR (by ATYP) into a host string; nullopt for an unknown ATYP or a read error.
asio::awaitable<std::optional<std::string>> read_address(Connection& conn, unsigned char atyp) {
  std::string bytes;
  if (atyp == kAtypIpv4 || atyp == kAtypIpv6) {
    const size_t size = atyp == kAtypIpv4 ? 4 : 16;
    const error_code ec = co_await conn.read_exact(size, bytes);
    if (ec) co_return std::nullopt;
    co_return address_text(bytes);
  }
  if (atyp != kAtypDomain) co_return std::nullopt;
  std::string length;
  error_code ec = co_await conn.read_exact(1, length);
  if (ec) co_return std::nullopt;
  ec = co_await conn.read_exact(static_cast<unsigned char>(length[0]), bytes);
  if (ec) co_return std::nullopt;
  co_return bytes;
}

struct Socks5Request {
  unsigned char command = 0;
  Authority to;
};

// Reads the request; answers the client itself when it cannot be served.
asio::awaitable<std::optional<Socks5Request>> read_request(Connection& conn) {
  std::string header;
  error_code ec = co_await conn.read_exact(4, header);
  if (ec) co_return std::nullopt;
  if (static_cast<unsigned char>(header[0]) != kVersion) co_return std::nullopt;
  const auto atyp = static_cast<unsigned char>(header[3]);
  std::optional<std::string> host = co_await read_address(conn, atyp);
  if (!host) {
    if (atyp != kAtypIpv4 && atyp != kAtypIpv6 && atyp != kAtypDomain) {
      co_await conn.send_to_client(reply(kAddressTypeNotSupported));
    }
    co_return std::nullopt;
  }
  std::string port;
  ec = co_await conn.read_exact(2, port);
  if (ec) co_return std::nullopt;
  Socks5Request request;
  request.command = static_cast<unsigned char>(header[1]);
  request.to.host = *host;
  request.to.port = static_cast<uint16_t>((static_cast<unsigned char>(port[0]) << 8) |
                                          static_cast<unsigned char>(port[1]));
  co_return request;
}

}  // namespace

asio::awaitable<void> serve_socks5(Connection& conn) {
  const bool negotiated = co_await negotiate_method(conn);
  if (!negotiated) co_return;
  std::optional<Socks5Request> request = co_await read_request(conn);
  if (!request) co_return;
  if (request->command != kCommandConnect) {
    co_await conn.send_to_client(reply(kCommandNotSupported));
    co_return;
  }
  const DialResult result = co_await dial(conn, request->to, "socks5");
  const error_code sent = co_await conn.send_to_client(reply(reply_for(result.status)));
  if (sent) co_return;
  if (result.status != Status::kConnected) co_return;
  std::string early_bytes = std::move(conn.pending());
  conn.pending().clear();
  co_await relay(conn, std::move(early_bytes), RelayEnd::kBothSides);
}

}  // namespace agentd::netproxy
