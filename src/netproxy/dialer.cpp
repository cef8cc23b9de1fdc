// Resolving and connecting on behalf of a client, with the allowlist checked before the name
// is resolved and again on every address it resolved to.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <vector>

#include "base/log.hpp"
#include "netproxy/connection.hpp"

namespace agentd::netproxy {
namespace {

using Status = DialResult::Status;

struct Resolved {
  std::vector<asio::ip::address> addresses;
  error_code error;
};

asio::awaitable<Resolved> resolve(Connection& conn, const Authority& to) {
  Resolved out;
  if (auto literal = parse_ip_literal(to.host)) {
    out.addresses.push_back(*literal);
    co_return out;
  }
  auto [ec, results] = co_await conn.resolver().async_resolve(
      to.host, std::to_string(to.port), asio::ip::resolver_base::numeric_service, use_nothrow);
  out.error = ec;
  for (const auto& entry : results) {
    const asio::ip::address address = entry.endpoint().address();
    if (std::find(out.addresses.begin(), out.addresses.end(), address) == out.addresses.end()) {
      out.addresses.push_back(address);
    }
  }
  co_return out;
}

Status status_of_connect_error(const error_code& ec, bool timed_out) {
  if (timed_out) return Status::kTimedOut;
  if (ec == asio::error::connection_refused) return Status::kConnectionRefused;
  if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable) {
    return Status::kUnreachable;
  }
  if (ec == asio::error::timed_out) return Status::kTimedOut;
  return Status::kFailed;
}

DialResult failed(Connection& conn, Status status, std::string reason) {
  conn.server().count_failure(conn.destination());
  base::log_info("netproxy: " + conn.destination() + ": " + reason);
  return DialResult{status, std::move(reason)};
}

// Connects to the allowed addresses in order; the first that answers wins.
asio::awaitable<DialResult> connect_first(Connection& conn,
                                          const std::vector<asio::ip::address>& candidates,
                                          uint16_t port) {
  error_code last_error;
  asio::ip::address last_tried;
  for (const asio::ip::address& address : candidates) {
    last_tried = address;
    error_code ignored;
    conn.upstream().close(ignored);
    auto [ec] = co_await conn.upstream().async_connect({address, port}, use_nothrow);
    if (!ec) co_return DialResult{Status::kConnected, "connected to " + address.to_string()};
    last_error = ec;
    if (conn.timed_out() || ec == asio::error::operation_aborted) break;
  }
  const bool timed_out = conn.timed_out();
  co_return failed(conn, status_of_connect_error(last_error, timed_out),
                   "connecting to " + last_tried.to_string() +
                       " failed: " + (timed_out ? std::string("timed out") : last_error.message()));
}

// The host as rules and stats see it: canonical name or address; anything else (a SOCKS5
// client can send any bytes as a name) is kept, escaped, for the refusal message.
std::string canonical_host(std::string_view host) {
  if (auto literal = parse_ip_literal(host)) return literal->to_string();
  if (auto name = normalize_host_name(host)) return *name;
  std::string shown;
  for (unsigned char c : host) {
    if (c >= 0x21 && c < 0x7f && c != '\\') {
      shown += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      shown += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return shown;
}

uint16_t client_port_of(Connection& conn) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(conn.client().native_handle(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

}  // namespace

asio::awaitable<DialResult> dial(Connection& conn, const Authority& requested,
                                 std::string protocol) {
  const Allowlist& allowlist = *conn.server().allowlist;
  const Authority to{canonical_host(requested.host), requested.port};
  conn.set_destination(format_destination(to.host, to.port));
  ConnectionEvent event{conn.destination(), std::nullopt, false, "", std::move(protocol),
                        client_port_of(conn)};

  const Decision pre = allowlist.precheck(to.host, to.port);
  if (!pre.allowed) {
    event.reason = pre.reason;
    conn.server().report(event);
    co_return DialResult{Status::kRefused, pre.reason};
  }
  conn.arm_deadline(conn.options().connect_timeout);
  const Resolved resolved = co_await resolve(conn, to);
  if (resolved.addresses.empty()) {
    const std::string why = conn.timed_out() ? "timed out" : resolved.error.message();
    co_return failed(conn, conn.timed_out() ? Status::kTimedOut : Status::kResolveFailed,
                     "could not resolve " + to.host + ": " + why);
  }
  std::vector<asio::ip::address> allowed;
  std::optional<ConnectionEvent> first_refusal;
  for (const asio::ip::address& address : resolved.addresses) {
    Decision decision = allowlist.decide(to.host, address, to.port);
    if (decision.allowed && allowed.empty()) {
      event.resolved = address;
      event.allowed = true;
      event.reason = decision.reason;
    }
    if (decision.allowed) allowed.push_back(address);
    if (!decision.allowed && !first_refusal) {
      first_refusal =
          ConnectionEvent{event.destination, address,        false,
                          decision.reason,   event.protocol, event.client_port};
    }
  }
  if (allowed.empty()) {
    conn.server().report(*first_refusal);
    co_return DialResult{Status::kRefused, first_refusal->reason};
  }
  conn.server().report(event);
  co_return co_await connect_first(conn, allowed, to.port);
}

}  // namespace agentd::netproxy
