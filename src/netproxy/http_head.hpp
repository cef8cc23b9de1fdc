#pragma once

// The HTTP/1.x request head, parsed without I/O: the caller feeds the bytes read so far and
// gets complete / incomplete / bad back (as the Asio http/server example's request_parser).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace agentd::netproxy {

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequestHead {
  std::string method;
  std::string target;
  std::string version;  // "HTTP/1.1" or "HTTP/1.0"
  std::vector<HttpHeader> headers;
};

struct HeadParse {
  enum class Status { kIncomplete, kComplete, kBad, kTooLarge };
  Status status = Status::kIncomplete;
  size_t head_size = 0;  // bytes up to and including the blank line, when complete
  HttpRequestHead head;
  std::string error;  // what is wrong, when bad
};

// Looks for a complete head ("...\r\n\r\n") in `bytes`; heads over `max_head_bytes` are
// kTooLarge even before they end.
HeadParse parse_request_head(std::string_view bytes, size_t max_head_bytes);

// Where a request goes. `host` is a lower-case name or an IP literal without brackets.
struct Authority {
  std::string host;
  uint16_t port = 0;
};

// "host:port", "[v6]:port"; without a port, `default_port` is used when given.
base::Result<Authority> parse_authority(std::string_view text,
                                        std::optional<uint16_t> default_port);

// An absolute-form target "http://host[:port]/path?query" split into where it goes and the
// origin-form target ("/path?query") to send there.
struct AbsoluteTarget {
  Authority authority;
  std::string origin_form;
};
base::Result<AbsoluteTarget> parse_absolute_http_target(std::string_view target);

// "host:port" as shown in events and stats; IPv6 literals in brackets.
std::string format_destination(std::string_view host, uint16_t port);

// The head to send to the origin server: origin-form target, Host set to the target, the
// client's Proxy-* and hop-by-hop headers removed, and "Connection: close" (one request per
// connection keeps the proxy a plain byte relay after the head).
std::string build_forward_head(const HttpRequestHead& head, const AbsoluteTarget& target);

// A complete response with a short text body, closing the connection.
std::string http_error_response(int status, std::string_view reason, std::string_view body);

}  // namespace agentd::netproxy
