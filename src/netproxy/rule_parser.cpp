// Parsing of allow/deny rules: "host", "*.domain", IP literals and CIDR blocks, each with an
// optional ":port" or ":low-high".
#include <charconv>

#include "netproxy/address_class.hpp"
#include "netproxy/allowlist.hpp"

namespace agentd::netproxy {
namespace {

constexpr std::string_view kAcceptedForms =
    "accepted forms: host.name, *.domain, IPv4 (1.2.3.4), IPv6 (::1, or [::1] before a port), "
    "CIDR (10.0.0.0/8, fd00::/8, [fd00::]/8), each optionally followed by :port or :low-high";

struct RuleError {
  std::string what;
};

bool is_all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::optional<unsigned> parse_number(std::string_view s, unsigned max) {
  if (!is_all_digits(s) || s.size() > 5) return std::nullopt;
  unsigned value = 0;
  std::from_chars(s.data(), s.data() + s.size(), value);
  if (value > max) return std::nullopt;
  return value;
}

PortRange parse_ports(std::string_view text) {
  const size_t dash = text.find('-');
  const std::string_view low_text = text.substr(0, dash);
  const std::string_view high_text =
      dash == std::string_view::npos ? low_text : text.substr(dash + 1);
  const auto low = parse_number(low_text, 65535);
  const auto high = parse_number(high_text, 65535);
  if (!low || !high || *low == 0 || *high == 0) {
    throw RuleError{"port '" + std::string(text) +
                    "' is not a port number 1-65535 or a range low-high"};
  }
  if (*low > *high) {
    throw RuleError{"port range '" + std::string(text) + "' has its low end above its high end"};
  }
  return PortRange{static_cast<uint16_t>(*low), static_cast<uint16_t>(*high)};
}

// Splits "host:port" / "[v6]:port" / bare "v6" into the host part and the port part (may be
// empty when no port was given).
std::pair<std::string_view, std::string_view> split_port(std::string_view text) {
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) throw RuleError{"'[' without a closing ']'"};
    // "[fd00::]/8:443": the prefix length may follow the bracket.
    const size_t colon = text.find(':', close);
    if (colon == std::string_view::npos) return {text, {}};
    return {text.substr(0, colon), text.substr(colon + 1)};
  }
  const size_t first = text.find(':');
  if (first == std::string_view::npos) return {text, {}};
  if (text.find(':', first + 1) != std::string_view::npos) {
    return {text, {}};  // bare IPv6: several colons, so no port can follow
  }
  return {text.substr(0, first), text.substr(first + 1)};
}

void set_address_rule(Rule& rule, std::string_view host) {
  // Accept "[fd00::/8]", "[fd00::]/8" and the bare forms.
  std::string unbracketed;
  for (char c : host) {
    if (c != '[' && c != ']') unbracketed += c;
  }
  std::string_view address_text = unbracketed;
  std::optional<unsigned> prefix;
  const size_t slash = address_text.find('/');
  std::string_view length_text;
  if (slash != std::string_view::npos) {
    length_text = address_text.substr(slash + 1);
    address_text = address_text.substr(0, slash);
  }
  auto address = parse_ip_literal(address_text);
  if (!address) {
    throw RuleError{"'" + std::string(address_text) + "' is not an IPv4 or IPv6 address"};
  }
  const unsigned max_length = address->is_v4() ? 32 : 128;
  if (slash != std::string_view::npos) {
    prefix = parse_number(length_text, max_length);
    if (!prefix) {
      throw RuleError{"prefix length '" + std::string(length_text) + "' is out of range for " +
                      (address->is_v4() ? "IPv4 (0-32)" : "IPv6 (0-128)")};
    }
  }
  rule.kind = Rule::Kind::kAddress;
  rule.network = *address;
  rule.prefix_length = prefix.value_or(max_length);
  // "::ffff:10.0.0.0/104" is the IPv4 block 10.0.0.0/8: match it as such.
  const ip::address canonical = canonical_address(rule.network);
  if (canonical.is_v4() && rule.network.is_v6()) {
    if (rule.prefix_length < 96) {
      throw RuleError{"an IPv4-mapped block needs a prefix length of at least 96"};
    }
    rule.network = canonical;
    rule.prefix_length -= 96;
  }
}

bool host_bits_clear(const Rule& rule) {
  // The block's network address must have no bits set past the prefix.
  if (rule.network.is_v4()) {
    const uint32_t value = rule.network.to_v4().to_uint();
    const uint32_t mask = rule.prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - rule.prefix_length);
    return (value & ~mask) == 0;
  }
  const auto bytes = rule.network.to_v6().to_bytes();
  for (unsigned bit = rule.prefix_length; bit < 128; ++bit) {
    if (bytes[bit / 8] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

bool looks_like_address(std::string_view host) {
  if (host.starts_with('[') || host.find(':') != std::string_view::npos) return true;
  if (host.find('/') != std::string_view::npos) return true;
  // "10.0.0.1" and also bad tries like "10.0.0.256": all digits and dots.
  for (char c : host) {
    if (c != '.' && (c < '0' || c > '9')) return false;
  }
  return true;
}

void set_name_rule(Rule& rule, std::string_view host) {
  if (host.starts_with("*.")) {
    auto suffix = normalize_host_name(host.substr(2));
    if (!suffix) {
      throw RuleError{"'" + std::string(host.substr(2)) + "' after '*.' is not a valid host name"};
    }
    rule.kind = Rule::Kind::kSubdomains;
    rule.name = *suffix;
    return;
  }
  if (host.find('*') != std::string_view::npos) {
    throw RuleError{"'*' is only accepted as a whole first label, as in *.example.com"};
  }
  auto name = normalize_host_name(host);
  if (!name) throw RuleError{"'" + std::string(host) + "' is not a valid host name"};
  rule.kind = Rule::Kind::kExactName;
  rule.name = *name;
}

Rule parse_rule_or_throw(std::string_view text) {
  if (text.empty()) throw RuleError{"the rule is empty"};
  for (char c : text) {
    if (c <= ' ' || c == 0x7f) throw RuleError{"the rule contains a space or control character"};
  }
  Rule rule;
  rule.text = std::string(text);
  const auto [host, port] = split_port(text);
  if (host.empty()) throw RuleError{"the host part is empty"};
  if (!port.empty() || text.ends_with(':')) rule.ports = parse_ports(port);
  if (looks_like_address(host)) {
    set_address_rule(rule, host);
    if (!host_bits_clear(rule)) {
      throw RuleError{"the address has bits set beyond the /" + std::to_string(rule.prefix_length) +
                      " prefix; write the block's first address (e.g. 10.0.0.0/8)"};
    }
  } else {
    set_name_rule(rule, host);
  }
  return rule;
}

}  // namespace

std::optional<std::string> normalize_host_name(std::string_view host) {
  if (host.ends_with('.')) host.remove_suffix(1);
  if (host.empty() || host.size() > 253) return std::nullopt;
  std::string name;
  name.reserve(host.size());
  size_t label_start = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      const size_t length = i - label_start;
      if (length == 0 || length > 63) return std::nullopt;
      if (host[label_start] == '-' || host[i - 1] == '-') return std::nullopt;
      if (i < host.size()) name += '.';
      label_start = i + 1;
      continue;
    }
    const char c = host[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return std::nullopt;
    name += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  // A numeric last label would be read as an IPv4 address by resolvers ("127.1").
  const size_t last_dot = name.rfind('.');
  if (is_all_digits(
          std::string_view(name).substr(last_dot == std::string::npos ? 0 : last_dot + 1))) {
    return std::nullopt;
  }
  return name;
}

std::optional<ip::address> parse_ip_literal(std::string_view host) {
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  // No zone ids ("fe80::1%eth0"): they name host interfaces.
  if (host.empty() || host.find('%') != std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  const std::string text(host);
  if (host.find(':') != std::string_view::npos) {
    auto v6 = ip::make_address_v6(text, ec);
    if (ec) return std::nullopt;
    return ip::address(v6);
  }
  auto v4 = ip::make_address_v4(text, ec);
  if (ec) return std::nullopt;
  return ip::address(v4);
}

base::Result<Rule> parse_rule(std::string_view text) {
  try {
    return parse_rule_or_throw(text);
  } catch (const RuleError& e) {
    return base::plain_error("rule \"" + std::string(text) + "\": " + e.what + "; " +
                             std::string(kAcceptedForms));
  }
}

base::Result<Allowlist> parse_allowlist(const std::vector<std::string>& allow,
                                        const std::vector<std::string>& deny) {
  Allowlist list;
  auto parse_into = [](const std::vector<std::string>& texts, const char* field,
                       std::vector<Rule>& out) -> base::Status {
    for (size_t i = 0; i < texts.size(); ++i) {
      auto rule = parse_rule(texts[i]);
      if (!rule) {
        return base::plain_error(std::string(field) + "[" + std::to_string(i) +
                                 "]: " + rule.error().message());
      }
      out.push_back(std::move(*rule));
    }
    return {};
  };
  if (auto status = parse_into(allow, "allow", list.allow); !status) return status.error();
  if (auto status = parse_into(deny, "deny", list.deny); !status) return status.error();
  return list;
}

}  // namespace agentd::netproxy
