#include "netproxy/http_head.hpp"

#include <algorithm>
#include <charconv>

#include "netproxy/allowlist.hpp"

namespace agentd::netproxy {
namespace {

constexpr std::string_view kHeadEnd = "\r\n\r\n";

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_request_line(std::string_view line, HttpRequestHead& head, std::string& error) {
  const size_t first = line.find(' ');
  const size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
    error = "the request line must be 'METHOD target HTTP/1.1'";
    return false;
  }
  head.method = std::string(line.substr(0, first));
  head.target = std::string(line.substr(first + 1, second - first - 1));
  head.version = std::string(line.substr(second + 1));
  if (!is_token(head.method)) return error = "the method is not a valid token", false;
  if (head.target.empty()) return error = "the request target is empty", false;
  for (char c : head.target) {
    if (c <= ' ' || c == 0x7f) return error = "the request target has a control character", false;
  }
  if (head.version != "HTTP/1.1" && head.version != "HTTP/1.0") {
    return error = "only HTTP/1.0 and HTTP/1.1 are supported", false;
  }
  return true;
}

bool parse_header_line(std::string_view line, HttpRequestHead& head, std::string& error) {
  const size_t colon = line.find(':');
  // Whitespace before the colon or a folded line are request-smuggling tools: refuse them.
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    error = "malformed header line";
    return false;
  }
  const std::string_view value = trim(line.substr(colon + 1));
  for (char c : value) {
    if ((c < ' ' && c != '\t') || c == 0x7f) {
      error = "a header value has a control character";
      return false;
    }
  }
  head.headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
  return true;
}

bool is_hop_by_hop(const std::string& lower_name, const std::vector<std::string>& listed) {
  static const std::vector<std::string> kAlways = {"connection", "keep-alive", "te",
                                                   "trailer",    "upgrade",    "host"};
  if (lower_name.starts_with("proxy-")) return true;
  if (std::find(kAlways.begin(), kAlways.end(), lower_name) != kAlways.end()) return true;
  return std::find(listed.begin(), listed.end(), lower_name) != listed.end();
}

// Header names the client listed in Connection: those are hop-by-hop too.
std::vector<std::string> connection_options(const HttpRequestHead& head) {
  std::vector<std::string> names;
  for (const HttpHeader& header : head.headers) {
    if (lower(header.name) != "connection") continue;
    std::string_view rest = header.value;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      names.push_back(lower(trim(rest.substr(0, comma))));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return names;
}

}  // namespace

HeadParse parse_request_head(std::string_view bytes, size_t max_head_bytes) {
  HeadParse result;
  const size_t end = bytes.find(kHeadEnd);
  if (end == std::string_view::npos || end + kHeadEnd.size() > max_head_bytes) {
    const bool too_large = end != std::string_view::npos || bytes.size() >= max_head_bytes;
    result.status = too_large ? HeadParse::Status::kTooLarge : HeadParse::Status::kIncomplete;
    return result;
  }
  result.head_size = end + kHeadEnd.size();
  std::string_view rest = bytes.substr(0, end + 2);  // each line keeps its CRLF
  bool first = true;
  while (!rest.empty()) {
    const size_t eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    bool ok = false;
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      result.error = "bare CR or LF inside the head";
    } else {
      ok = first ? parse_request_line(line, result.head, result.error)
                 : parse_header_line(line, result.head, result.error);
    }
    if (!ok) {
      result.status = HeadParse::Status::kBad;
      return result;
    }
    first = false;
  }
  result.status = HeadParse::Status::kComplete;
  return result;
}

base::Result<Authority> parse_authority(std::string_view text,
                                        std::optional<uint16_t> default_port) {
  auto bad = [&](std::string why) {
    return base::plain_error("'" + std::string(text) + "': " + why);
  };
  std::string_view host = text;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("'[' without ']'");
    host = text.substr(1, close - 1);
    const std::string_view after = text.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return bad("unexpected text after ']'");
    if (!after.empty()) port_text = after.substr(1);
    if (!parse_ip_literal(host) || host.find(':') == std::string_view::npos) {
      return bad("not an IPv6 address inside []");
    }
  } else if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("IPv6 addresses need [brackets]");
  }
  uint16_t port = 0;
  if (port_text.empty() && text.ends_with(':')) return bad("empty port");
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return bad("the port must be a number 1-65535");
    }
    port = static_cast<uint16_t>(value);
  } else if (default_port) {
    port = *default_port;
  } else {
    return bad("a port is required (host:port)");
  }
  if (auto literal = parse_ip_literal(host)) return Authority{literal->to_string(), port};
  auto name = normalize_host_name(host);
  if (!name) return bad("'" + std::string(host) + "' is not a valid host name or IP address");
  return Authority{*name, port};
}

base::Result<AbsoluteTarget> parse_absolute_http_target(std::string_view target) {
  constexpr std::string_view kScheme = "http://";
  if (target.size() < kScheme.size() || lower(target.substr(0, kScheme.size())) != kScheme) {
    return base::plain_error(
        "the target '" + std::string(target) +
        "' is not an absolute http:// URL; use CONNECT host:port for https and other protocols");
  }
  const std::string_view rest = target.substr(kScheme.size());
  const size_t path_start = rest.find_first_of("/?#");
  const std::string_view authority_text = rest.substr(0, path_start);
  if (authority_text.find('@') != std::string_view::npos) {
    return base::plain_error("credentials in the URL are not supported");
  }
  auto authority = parse_authority(authority_text, uint16_t{80});
  if (!authority) return authority.error();
  std::string origin =
      path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (const size_t hash = origin.find('#'); hash != std::string::npos) origin.resize(hash);
  if (origin.empty() || origin.front() != '/') origin.insert(0, "/");
  return AbsoluteTarget{*authority, origin};
}

std::string format_destination(std::string_view host, uint16_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out = "[" + std::string(host) + "]";
  } else {
    out = std::string(host);
  }
  return out + ":" + std::to_string(port);
}

std::string build_forward_head(const HttpRequestHead& head, const AbsoluteTarget& target) {
  std::string out = head.method + " " + target.origin_form + " " + head.version + "\r\n";
  const Authority& to = target.authority;
  // The Host header names the target (RFC 9112 3.2.2), whatever the client put there.
  const bool bracket = to.host.find(':') != std::string::npos;
  out += "Host: " + (bracket ? "[" + to.host + "]" : to.host);
  if (to.port != 80) out += ":" + std::to_string(to.port);
  out += "\r\n";
  const std::vector<std::string> listed = connection_options(head);
  for (const HttpHeader& header : head.headers) {
    if (is_hop_by_hop(lower(header.name), listed)) continue;
    out += header.name + ": " + header.value + "\r\n";
  }
  out += "Connection: close\r\n\r\n";
  return out;
}

std::string http_error_response(int status, std::string_view reason, std::string_view body) {
  std::string text(body);
  text += '\n';
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(text.size()) + "\r\nConnection: close\r\n\r\n" + text;
}

}  // namespace agentd::netproxy
