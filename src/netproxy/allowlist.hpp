#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace agentd::netproxy {

namespace ip = boost::asio::ip;

struct PortRange {
  uint16_t low = 1;
  uint16_t high = 65535;
  bool contains(uint16_t port) const { return port >= low && port <= high; }
};

// One rule as written by the caller, already validated and normalized.
struct Rule {
  enum class Kind {
    kExactName,   // "registry.npmjs.org"
    kSubdomains,  // "*.github.com": any name below github.com, not github.com itself
    kAddress,     // "10.0.0.0/8", "127.0.0.1", "[::1]": an address block
  };
  Kind kind = Kind::kExactName;
  std::string name;  // lower case, no trailing dot; the suffix without "*." for kSubdomains
  ip::address network;
  unsigned prefix_length = 0;
  PortRange ports;
  std::string text;  // the rule as written, quoted in decisions

  bool matches_name(std::string_view host) const;
  bool matches_address(const ip::address& address) const;
};

struct Decision {
  bool allowed = false;
  std::string reason;
};

// The network rules of one sandbox. Deny rules win over allow rules. Special-purpose addresses
// (loopback, private, link-local and the cloud metadata service, CGNAT, multicast, ...) are
// refused unless an allow *address* rule lying inside that special block covers them: a name
// rule never unlocks them, because the name's owner controls what it resolves to.
struct Allowlist {
  std::vector<Rule> allow;
  std::vector<Rule> deny;

  // Before resolving a name: refuses names that no rule could allow, so that the sandbox cannot
  // make the host look up arbitrary names (DNS is a data channel too). `allowed` here means
  // "worth resolving"; the answer is decide() on each resolved address.
  Decision precheck(std::string_view requested_host, uint16_t port) const;

  // The verdict for connecting to `resolved`:`port`, reached by asking for `requested_host`
  // (a name or an IP literal, as the client wrote it).
  Decision decide(std::string_view requested_host, const ip::address& resolved,
                  uint16_t port) const;
};

// Parses both lists; the first bad rule fails the whole list with a message naming it.
base::Result<Allowlist> parse_allowlist(const std::vector<std::string>& allow,
                                        const std::vector<std::string>& deny);

// One rule: host, *.domain, IPv4, IPv6 ([::1] when a port follows), CIDR, each with an
// optional :port or :low-high.
base::Result<Rule> parse_rule(std::string_view text);

// A host name in canonical form (lower case, no trailing dot), or nullopt if it is not a valid
// DNS name (labels of letters, digits, '-' and '_', the last label not all digits).
std::optional<std::string> normalize_host_name(std::string_view host);

// An IP literal as a client writes it: "1.2.3.4", "::1" or "[::1]". Only the strict
// dotted-quad IPv4 form is accepted ("127.1" and "2130706433" are not).
std::optional<ip::address> parse_ip_literal(std::string_view host);

}  // namespace agentd::netproxy
