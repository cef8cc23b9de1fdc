#include "netproxy/address_class.hpp"

#include <array>
#include <vector>

namespace agentd::netproxy {
namespace {

std::vector<SpecialRange> make_special_ranges() {
  auto range = [](const char* network, unsigned length, const char* what) {
    return SpecialRange{ip::make_address(network), length, what};
  };
  // The metadata endpoint sits inside 169.254.0.0/16; listed first so reasons name it.
  return {
      range("169.254.169.254", 32, "the cloud metadata service"),
      range("0.0.0.0", 8, "unspecified (\"this network\")"),
      range("10.0.0.0", 8, "private (RFC 1918)"),
      range("100.64.0.0", 10, "shared carrier-grade NAT (RFC 6598)"),
      range("127.0.0.0", 8, "loopback"),
      range("169.254.0.0", 16, "link-local"),
      range("172.16.0.0", 12, "private (RFC 1918)"),
      range("192.0.0.0", 24, "IETF protocol assignments"),
      range("192.168.0.0", 16, "private (RFC 1918)"),
      range("198.18.0.0", 15, "benchmarking (RFC 2544)"),
      range("224.0.0.0", 4, "multicast"),
      range("240.0.0.0", 4, "reserved or broadcast"),
      range("64:ff9b:1::", 48, "local-use IPv4/IPv6 translation (RFC 8215)"),
      range("100::", 64, "discard-only (RFC 6666)"),
      range("2001::", 32, "Teredo tunnelling"),
      range("2001:db8::", 32, "documentation"),
      range("::", 128, "unspecified"),
      range("::1", 128, "loopback"),
      range("fc00::", 7, "private (unique local, fc00::/7)"),
      range("fe80::", 10, "link-local"),
      range("fec0::", 10, "site-local (deprecated)"),
      range("ff00::", 8, "multicast"),
  };
}

const std::vector<SpecialRange>& special_ranges() {
  static const std::vector<SpecialRange> ranges = make_special_ranges();
  return ranges;
}

ip::address_v4 v4_from_bytes(const unsigned char* bytes) {
  return ip::address_v4(ip::address_v4::bytes_type{bytes[0], bytes[1], bytes[2], bytes[3]});
}

bool starts_with_bytes(const ip::address_v6::bytes_type& bytes,
                       std::initializer_list<unsigned char> prefix) {
  size_t i = 0;
  for (unsigned char b : prefix) {
    if (bytes[i++] != b) return false;
  }
  return true;
}

// The IPv4 address an IPv6 address carries by a well-known translation, if any.
std::optional<ip::address_v4> embedded_v4(const ip::address_v6& v6) {
  const auto bytes = v6.to_bytes();
  if (starts_with_bytes(bytes, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) {
    return v4_from_bytes(&bytes[12]);  // NAT64 well-known prefix 64:ff9b::/96
  }
  if (starts_with_bytes(bytes, {0x20, 0x02})) return v4_from_bytes(&bytes[2]);  // 6to4
  return std::nullopt;
}

}  // namespace

ip::address canonical_address(const ip::address& address) {
  if (!address.is_v6()) return address;
  const ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, v6);
  // IPv4-compatible ::a.b.c.d (deprecated); ::, ::1 stay IPv6.
  const auto bytes = v6.to_bytes();
  bool compatible = true;
  for (int i = 0; i < 12; ++i) compatible = compatible && bytes[i] == 0;
  if (compatible && !v6.is_unspecified() && !v6.is_loopback()) return v4_from_bytes(&bytes[12]);
  return address;
}

bool prefix_contains(const ip::address& network, unsigned prefix_length,
                     const ip::address& address) {
  if (network.is_v4() != address.is_v4()) return false;
  auto compare = [prefix_length](const auto& a, const auto& b) {
    unsigned remaining = prefix_length;
    for (size_t i = 0; i < a.size() && remaining > 0; ++i) {
      const unsigned bits = remaining >= 8 ? 8 : remaining;
      const unsigned mask = (0xffu << (8 - bits)) & 0xffu;
      if ((a[i] & mask) != (b[i] & mask)) return false;
      remaining -= bits;
    }
    return true;
  };
  if (network.is_v4()) return compare(network.to_v4().to_bytes(), address.to_v4().to_bytes());
  return compare(network.to_v6().to_bytes(), address.to_v6().to_bytes());
}

ip::address judged_address(const ip::address& address) {
  ip::address judged = canonical_address(address);
  if (judged.is_v6()) {
    if (auto v4 = embedded_v4(judged.to_v6())) judged = *v4;
  }
  return judged;
}

std::optional<SpecialRange> special_range_of(const ip::address& address) {
  const ip::address judged = judged_address(address);
  for (const SpecialRange& range : special_ranges()) {
    if (prefix_contains(range.network, range.prefix_length, judged)) return range;
  }
  return std::nullopt;
}

}  // namespace agentd::netproxy
