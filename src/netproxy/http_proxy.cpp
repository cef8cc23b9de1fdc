// The HTTP side of the proxy: CONNECT tunnels and absolute-form plain HTTP requests.
#include "base/log.hpp"
#include "netproxy/connection.hpp"

namespace agentd::netproxy {
namespace {

using Status = DialResult::Status;

// The answer a client gets when its request could not be served.
std::string refusal_response(const DialResult& result, const std::string& destination) {
  switch (result.status) {
    case Status::kRefused:
      return http_error_response(403, "Forbidden",
                                 "agentd proxy: " + destination + " refused: " + result.reason);
    case Status::kTimedOut:
      return http_error_response(504, "Gateway Timeout",
                                 "agentd proxy: " + destination + ": " + result.reason);
    default:
      return http_error_response(502, "Bad Gateway",
                                 "agentd proxy: " + destination + ": " + result.reason);
  }
}

// Reads until the head is complete; answers the client itself when it cannot be.
asio::awaitable<std::optional<HeadParse>> read_head(Connection& conn) {
  const size_t cap = conn.options().max_head_bytes;
  for (;;) {
    HeadParse parsed = parse_request_head(conn.pending(), cap);
    switch (parsed.status) {
      case HeadParse::Status::kComplete:
        co_return parsed;
      case HeadParse::Status::kTooLarge:
        co_await conn.send_to_client(http_error_response(
            431, "Request Header Fields Too Large",
            "agentd proxy: the request head exceeds " + std::to_string(cap) + " bytes"));
        co_return std::nullopt;
      case HeadParse::Status::kBad:
        co_await conn.send_to_client(
            http_error_response(400, "Bad Request", "agentd proxy: " + parsed.error));
        co_return std::nullopt;
      case HeadParse::Status::kIncomplete:
        break;
    }
    const error_code read_error = co_await conn.read_more(cap);
    if (read_error) {
      if (conn.timed_out()) {
        conn.disarm_deadline();  // the cancelled socket can still carry the answer
        co_await conn.send_to_client(http_error_response(
            408, "Request Timeout", "agentd proxy: the request head did not arrive in time"));
      }
      co_return std::nullopt;
    }
  }
}

asio::awaitable<void> serve_connect(Connection& conn, const HttpRequestHead& head,
                                    std::string after_head) {
  auto authority = parse_authority(head.target, std::nullopt);
  if (!authority) {
    co_await conn.send_to_client(http_error_response(
        400, "Bad Request", "agentd proxy: CONNECT target " + authority.error().message()));
    co_return;
  }
  const DialResult result = co_await dial(conn, *authority, "http-connect");
  if (result.status != Status::kConnected) {
    co_await conn.send_to_client(refusal_response(result, conn.destination()));
    co_return;
  }
  const error_code sent =
      co_await conn.send_to_client("HTTP/1.1 200 Connection established\r\n\r\n");
  if (sent) co_return;
  co_await relay(conn, std::move(after_head), RelayEnd::kBothSides);
}

asio::awaitable<void> serve_forward(Connection& conn, const HttpRequestHead& head,
                                    std::string after_head) {
  auto target = parse_absolute_http_target(head.target);
  if (!target) {
    co_await conn.send_to_client(
        http_error_response(400, "Bad Request", "agentd proxy: " + target.error().message()));
    co_return;
  }
  const DialResult result = co_await dial(conn, target->authority, "http");
  if (result.status != Status::kConnected) {
    co_await conn.send_to_client(refusal_response(result, conn.destination()));
    co_return;
  }
  // The body (if any) and everything after it are relayed as they come.
  co_await relay(conn, build_forward_head(head, *target) + after_head,
                 RelayEnd::kCloseWithDestination);
}

}  // namespace

asio::awaitable<void> serve_http(Connection& conn) {
  std::optional<HeadParse> parsed = co_await read_head(conn);
  if (!parsed) co_return;
  std::string after_head = conn.pending().substr(parsed->head_size);
  conn.pending().clear();
  if (parsed->head.method == "CONNECT") {
    co_await serve_connect(conn, parsed->head, std::move(after_head));
  } else {
    co_await serve_forward(conn, parsed->head, std::move(after_head));
  }
}

}  // namespace agentd::netproxy
