#pragma once

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>

namespace agentd::netproxy {

namespace ip = boost::asio::ip;

// A block of special-purpose addresses (loopback, private, link-local, ...), which the proxy
// refuses unless an address rule inside that block allows it explicitly.
struct SpecialRange {
  ip::address network;
  unsigned prefix_length = 0;
  std::string what;  // "loopback", "private (RFC 1918)", ...
};

// IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms become plain IPv4, so that a mapped
// address is judged exactly like the IPv4 address the kernel would reach.
ip::address canonical_address(const ip::address& address);

// The address the kernel would effectively reach: canonical_address, then the
// IPv4 inside a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address.
ip::address judged_address(const ip::address& address);

// The special range holding `address` (after canonical_address), or nullopt for a public
// address. Embedded IPv4 (NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by the IPv4 inside.
std::optional<SpecialRange> special_range_of(const ip::address& address);

// True when `address` lies inside `network`/`prefix_length` (same family only).
bool prefix_contains(const ip::address& network, unsigned prefix_length,
                     const ip::address& address);

}  // namespace agentd::netproxy
