#include "netproxy/allowlist.hpp"

#include "netproxy/address_class.hpp"

namespace agentd::netproxy {
namespace {

// The requested host in the form rules are written in: lower case name, or an address.
struct RequestedHost {
  std::optional<std::string> name;     // set for a valid DNS name
  std::optional<ip::address> literal;  // set for an IP literal
};

RequestedHost classify_host(std::string_view host) {
  RequestedHost requested;
  if (auto literal = parse_ip_literal(host)) {
    requested.literal = canonical_address(*literal);
  } else {
    requested.name = normalize_host_name(host);
  }
  return requested;
}

bool rule_matches(const Rule& rule, const RequestedHost& host, const ip::address& address,
                  uint16_t port) {
  if (!rule.ports.contains(port)) return false;
  if (rule.kind == Rule::Kind::kAddress) return rule.matches_address(address);
  return host.name && rule.matches_name(*host.name);
}

// An address rule unlocks a special address only when the whole rule lies inside the special
// block: "10.0.0.0/8" unlocks 10.1.2.3, "0.0.0.0/0" does not, and the metadata address needs
// a rule naming 169.254.169.254 itself.
bool rule_unlocks_special(const Rule& rule, const SpecialRange& special, const ip::address& address,
                          uint16_t port) {
  return rule.kind == Rule::Kind::kAddress && rule.ports.contains(port) &&
         rule.matches_address(address) && rule.prefix_length >= special.prefix_length &&
         prefix_contains(special.network, special.prefix_length, rule.network);
}

std::string quoted(const Rule& rule) { return "'" + rule.text + "'"; }

const Rule* first_match(const std::vector<Rule>& rules, const RequestedHost& host,
                        const ip::address& address, uint16_t port) {
  for (const Rule& rule : rules) {
    if (rule_matches(rule, host, address, port)) return &rule;
  }
  return nullptr;
}

}  // namespace

bool Rule::matches_name(std::string_view host) const {
  if (kind == Kind::kExactName) return host == name;
  if (kind != Kind::kSubdomains) return false;
  return host.size() > name.size() + 1 && host.ends_with(name) &&
         host[host.size() - name.size() - 1] == '.';
}

bool Rule::matches_address(const ip::address& address) const {
  return kind == Kind::kAddress &&
         prefix_contains(network, prefix_length, canonical_address(address));
}

Decision Allowlist::precheck(std::string_view requested_host, uint16_t port) const {
  const RequestedHost host = classify_host(requested_host);
  if (host.literal) return {true, "IP literal; judged by decide()"};
  if (!host.name) {
    return {false, "'" + std::string(requested_host) + "' is not a valid host name or IP address"};
  }
  const std::string destination = *host.name + ":" + std::to_string(port);
  for (const Rule& rule : deny) {
    if (rule.kind != Rule::Kind::kAddress && rule.ports.contains(port) &&
        rule.matches_name(*host.name)) {
      return {false, destination + " is denied by rule " + quoted(rule)};
    }
  }
  for (const Rule& rule : allow) {
    if (!rule.ports.contains(port)) continue;
    // An address rule may match whatever the name resolves to.
    if (rule.kind == Rule::Kind::kAddress || rule.matches_name(*host.name)) {
      return {true, "may be allowed by rule " + quoted(rule)};
    }
  }
  return {false, "no allow rule matches " + destination + " (the name was not resolved)"};
}

Decision Allowlist::decide(std::string_view requested_host, const ip::address& resolved,
                           uint16_t port) const {
  const RequestedHost host = classify_host(requested_host);
  if (!host.name && !host.literal) {
    return {false, "'" + std::string(requested_host) + "' is not a valid host name or IP address"};
  }
  const ip::address address = canonical_address(resolved);
  const std::string target = address.to_string() + " port " + std::to_string(port);
  // Deny rules see the IPv4 inside a translated IPv6 address too, or
  // 64:ff9b::102:304 would slip past a deny of 1.2.3.4.
  for (const ip::address& form : {address, judged_address(address)}) {
    if (const Rule* rule = first_match(deny, host, form, port)) {
      return {false, target + " is denied by rule " + quoted(*rule)};
    }
  }
  if (auto special = special_range_of(address)) {
    for (const Rule& rule : allow) {
      if (rule_unlocks_special(rule, *special, address, port)) {
        return {true, "allowed by rule " + quoted(rule) + " (" + special->what + " address)"};
      }
    }
    return {false, address.to_string() + " is " + special->what +
                       "; only an allow rule for that address or a block inside " +
                       special->network.to_string() + "/" + std::to_string(special->prefix_length) +
                       " can allow it (name rules never do)"};
  }
  if (const Rule* rule = first_match(allow, host, address, port)) {
    return {true, "allowed by rule " + quoted(*rule)};
  }
  return {false, "no allow rule matches " + std::string(requested_host) + " (" + target + ")"};
}

}  // namespace agentd::netproxy
