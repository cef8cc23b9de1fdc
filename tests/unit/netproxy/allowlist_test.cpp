#include "netproxy/allowlist.hpp"

#include <gtest/gtest.h>

namespace agentd::netproxy {
namespace {

namespace ip = boost::asio::ip;

Allowlist must_parse(std::vector<std::string> allow, std::vector<std::string> deny = {}) {
  auto parsed = parse_allowlist(allow, deny);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message());
  return parsed.ok() ? *parsed : Allowlist{};
}

std::string parse_error(std::vector<std::string> allow, std::vector<std::string> deny = {}) {
  auto parsed = parse_allowlist(allow, deny);
  EXPECT_FALSE(parsed.ok()) << "expected a parse error";
  return parsed.ok() ? "" : parsed.error().message();
}

Decision decide(const Allowlist& list, std::string_view host, const char* address, uint16_t port) {
  return list.decide(host, ip::make_address(address), port);
}

TEST(AllowlistParse, ReadsEveryRuleForm) {
  const Allowlist list = must_parse({"Registry.NPMjs.org.", "*.github.com:443", "10.0.0.0/8:5432",
                                     "[::1]:8080-8090", "fd00::/8", "[fd00::]/16:22", "192.0.2.7"});
  ASSERT_EQ(list.allow.size(), 7u);
  EXPECT_EQ(list.allow[0].kind, Rule::Kind::kExactName);
  EXPECT_EQ(list.allow[0].name, "registry.npmjs.org");
  EXPECT_EQ(list.allow[0].ports.low, 1);
  EXPECT_EQ(list.allow[0].ports.high, 65535);
  EXPECT_EQ(list.allow[1].kind, Rule::Kind::kSubdomains);
  EXPECT_EQ(list.allow[1].name, "github.com");
  EXPECT_EQ(list.allow[1].ports.low, 443);
  EXPECT_EQ(list.allow[1].ports.high, 443);
  EXPECT_EQ(list.allow[2].kind, Rule::Kind::kAddress);
  EXPECT_EQ(list.allow[2].network, ip::make_address("10.0.0.0"));
  EXPECT_EQ(list.allow[2].prefix_length, 8u);
  EXPECT_EQ(list.allow[3].network, ip::make_address("::1"));
  EXPECT_EQ(list.allow[3].prefix_length, 128u);
  EXPECT_EQ(list.allow[3].ports.low, 8080);
  EXPECT_EQ(list.allow[3].ports.high, 8090);
  EXPECT_EQ(list.allow[4].prefix_length, 8u);
  EXPECT_EQ(list.allow[5].prefix_length, 16u);
  EXPECT_EQ(list.allow[5].ports.low, 22);
  EXPECT_EQ(list.allow[6].prefix_length, 32u);
}

TEST(AllowlistParse, MappedIpv6BlockBecomesIpv4) {
  const Allowlist list = must_parse({"::ffff:10.0.0.0/104"});
  ASSERT_EQ(list.allow.size(), 1u);
  EXPECT_EQ(list.allow[0].network, ip::make_address("10.0.0.0"));
  EXPECT_EQ(list.allow[0].prefix_length, 8u);
}

TEST(AllowlistParse, ErrorsNameTheRuleTheProblemAndTheForms) {
  const std::string error = parse_error({"example.com", "10.0.0.0/33"});
  EXPECT_NE(error.find("allow[1]"), std::string::npos) << error;
  EXPECT_NE(error.find("\"10.0.0.0/33\""), std::string::npos) << error;
  EXPECT_NE(error.find("prefix length '33' is out of range for IPv4 (0-32)"), std::string::npos)
      << error;
  EXPECT_NE(error.find("accepted forms"), std::string::npos) << error;
}

TEST(AllowlistParse, RejectsBadRulesWithTheReason) {
  struct Case {
    std::string rule;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"", "empty"},
      {"host name", "space"},
      {"example.com:0", "port '0'"},
      {"example.com:70000", "port '70000'"},
      {"example.com:", "port ''"},
      {"example.com:http", "port 'http'"},
      {"example.com:90-80", "low end above its high end"},
      {"foo*.example.com", "'*' is only accepted"},
      {"*", "'*' is only accepted"},
      {"*.", "after '*.'"},
      {"exa_mple..com", "not a valid host name"},
      {"-bad.example.com", "not a valid host name"},
      {"10.0.0.256", "not an IPv4 or IPv6 address"},
      {"10.0.0.1/8", "bits set beyond the /8 prefix"},
      {"fd00::1/8", "bits set beyond the /8 prefix"},
      {"[::1", "without a closing ']'"},
      {"::1/129", "out of range for IPv6 (0-128)"},
      {"fe80::1%eth0", "not an IPv4 or IPv6 address"},
      {"::ffff:10.0.0.0/64", "at least 96"},
  };
  for (const Case& c : cases) {
    auto parsed = parse_rule(c.rule);
    ASSERT_FALSE(parsed.ok()) << c.rule;
    EXPECT_NE(parsed.error().message().find(c.expected), std::string::npos)
        << c.rule << " -> " << parsed.error().message();
  }
}

TEST(AllowlistParse, DenyErrorsSayDeny) {
  EXPECT_NE(parse_error({"example.com"}, {"ok.com", "bad host"}).find("deny[1]"),
            std::string::npos);
}

TEST(AllowlistDecide, ExactNamesIgnoreCaseAndTrailingDot) {
  const Allowlist list = must_parse({"registry.npmjs.org"});
  EXPECT_TRUE(decide(list, "REGISTRY.npmjs.org.", "104.16.0.1", 443).allowed);
  EXPECT_FALSE(decide(list, "npmjs.org", "104.16.0.1", 443).allowed);
  EXPECT_FALSE(decide(list, "evil.registry.npmjs.org", "104.16.0.1", 443).allowed);
}

TEST(AllowlistDecide, WildcardsMatchSubdomainsNotTheApex) {
  const Allowlist list = must_parse({"*.github.com:443"});
  EXPECT_TRUE(decide(list, "api.github.com", "140.82.112.5", 443).allowed);
  EXPECT_TRUE(decide(list, "a.b.github.com", "140.82.112.5", 443).allowed);
  EXPECT_FALSE(decide(list, "github.com", "140.82.112.5", 443).allowed);
  EXPECT_FALSE(decide(list, "evilgithub.com", "140.82.112.5", 443).allowed);
  EXPECT_FALSE(decide(list, "api.github.com", "140.82.112.5", 80).allowed);
}

TEST(AllowlistDecide, PortRanges) {
  const Allowlist list = must_parse({"example.com:8000-8010"});
  EXPECT_FALSE(decide(list, "example.com", "93.184.216.34", 7999).allowed);
  EXPECT_TRUE(decide(list, "example.com", "93.184.216.34", 8000).allowed);
  EXPECT_TRUE(decide(list, "example.com", "93.184.216.34", 8010).allowed);
  EXPECT_FALSE(decide(list, "example.com", "93.184.216.34", 8011).allowed);
}

TEST(AllowlistDecide, CidrBlocksV4AndV6) {
  const Allowlist list = must_parse({"10.0.0.0/8:5432", "2001:db8::/32", "203.0.113.0/24"});
  EXPECT_TRUE(decide(list, "db.internal", "10.20.30.40", 5432).allowed);
  EXPECT_FALSE(decide(list, "db.internal", "10.20.30.40", 5433).allowed);
  EXPECT_FALSE(decide(list, "db.internal", "11.0.0.1", 5432).allowed);
  EXPECT_TRUE(decide(list, "2001:db8::5", "2001:db8::5", 443).allowed);
  EXPECT_FALSE(decide(list, "2001:db9::5", "2001:db9::5", 443).allowed);
  EXPECT_TRUE(decide(list, "203.0.113.9", "203.0.113.9", 80).allowed);
  EXPECT_FALSE(decide(list, "203.0.114.9", "203.0.114.9", 80).allowed);
}

TEST(AllowlistDecide, DenyWinsOverAllow) {
  const Allowlist list =
      must_parse({"*.example.com", "203.0.113.0/24"}, {"secret.example.com", "203.0.113.66"});
  EXPECT_TRUE(decide(list, "www.example.com", "198.51.100.1", 443).allowed);
  const Decision by_name = decide(list, "secret.example.com", "198.51.100.1", 443);
  EXPECT_FALSE(by_name.allowed);
  EXPECT_NE(by_name.reason.find("denied by rule 'secret.example.com'"), std::string::npos)
      << by_name.reason;
  // The deny address rule also catches a name that resolves there.
  EXPECT_FALSE(decide(list, "www.example.com", "203.0.113.66", 443).allowed);
  EXPECT_TRUE(decide(list, "203.0.113.65", "203.0.113.65", 443).allowed);
}

TEST(AllowlistDecide, DenyCatchesTheIpv4InsideTranslatedIpv6) {
  const Allowlist list = must_parse({"0.0.0.0/0", "::/0"}, {"1.2.3.4"});
  EXPECT_TRUE(decide(list, "1.2.3.5", "1.2.3.5", 443).allowed);
  for (const char* form : {"1.2.3.4", "::ffff:1.2.3.4", "64:ff9b::102:304", "2002:102:304::1"}) {
    EXPECT_FALSE(decide(list, form, form, 443).allowed) << form;
  }
}

TEST(AllowlistDecide, TranslationAndTunnelPrefixesAreSpecial) {
  const Allowlist list = must_parse({"::/0"});
  for (const char* form : {"64:ff9b:1::a00:1", "100::1", "2001::1"}) {
    EXPECT_FALSE(decide(list, form, form, 443).allowed) << form;
  }
}

TEST(AllowlistDecide, DenyPortOnlyDeniesThatPort) {
  const Allowlist list = must_parse({"example.com"}, {"example.com:25"});
  EXPECT_FALSE(decide(list, "example.com", "93.184.216.34", 25).allowed);
  EXPECT_TRUE(decide(list, "example.com", "93.184.216.34", 443).allowed);
}

TEST(AllowlistDecide, SpecialAddressesNeedAnExplicitAddressRule) {
  const Allowlist by_name = must_parse({"metadata.google.internal", "localhost", "*.corp.example"});
  const Decision metadata = decide(by_name, "metadata.google.internal", "169.254.169.254", 80);
  EXPECT_FALSE(metadata.allowed);
  EXPECT_NE(metadata.reason.find("metadata"), std::string::npos) << metadata.reason;
  EXPECT_NE(metadata.reason.find("name rules never do"), std::string::npos) << metadata.reason;
  EXPECT_FALSE(decide(by_name, "localhost", "127.0.0.1", 80).allowed);
  EXPECT_FALSE(decide(by_name, "localhost", "::1", 80).allowed);
  EXPECT_FALSE(decide(by_name, "git.corp.example", "10.1.2.3", 443).allowed);
  EXPECT_FALSE(decide(by_name, "git.corp.example", "192.168.1.1", 443).allowed);
  EXPECT_FALSE(decide(by_name, "git.corp.example", "172.16.0.1", 443).allowed);
  EXPECT_FALSE(decide(by_name, "git.corp.example", "100.64.0.1", 443).allowed);
  EXPECT_FALSE(decide(by_name, "git.corp.example", "0.0.0.0", 443).allowed);
  EXPECT_FALSE(decide(by_name, "git.corp.example", "224.0.0.1", 443).allowed);
  EXPECT_FALSE(decide(by_name, "git.corp.example", "fd12::1", 443).allowed);
  EXPECT_FALSE(decide(by_name, "git.corp.example", "fe80::1", 443).allowed);
  EXPECT_FALSE(decide(by_name, "git.corp.example", "::", 443).allowed);
  EXPECT_FALSE(decide(by_name, "git.corp.example", "ff02::1", 443).allowed);
  // A public address is fine for the same name rule.
  EXPECT_TRUE(decide(by_name, "git.corp.example", "198.51.100.7", 443).allowed);
}

TEST(AllowlistDecide, ExplicitAddressRulesUnlockSpecialAddresses) {
  const Allowlist list =
      must_parse({"127.0.0.1:8080", "10.0.0.0/8:5432", "169.254.169.254:80", "[::1]:9000"});
  EXPECT_TRUE(decide(list, "127.0.0.1", "127.0.0.1", 8080).allowed);
  EXPECT_FALSE(decide(list, "127.0.0.1", "127.0.0.1", 8081).allowed);
  EXPECT_FALSE(decide(list, "127.0.0.2", "127.0.0.2", 8080).allowed);
  // An address rule also covers a name that resolves into it.
  EXPECT_TRUE(decide(list, "localhost", "127.0.0.1", 8080).allowed);
  EXPECT_TRUE(decide(list, "db", "10.9.8.7", 5432).allowed);
  EXPECT_TRUE(decide(list, "169.254.169.254", "169.254.169.254", 80).allowed);
  EXPECT_TRUE(decide(list, "::1", "::1", 9000).allowed);
}

TEST(AllowlistDecide, BroadBlocksDoNotUnlockSpecialAddresses) {
  const Allowlist list = must_parse({"0.0.0.0/0", "::/0", "169.254.0.0/16"});
  EXPECT_TRUE(decide(list, "1.1.1.1", "1.1.1.1", 53).allowed);
  EXPECT_TRUE(decide(list, "2606:4700::1111", "2606:4700::1111", 53).allowed);
  EXPECT_FALSE(decide(list, "127.0.0.1", "127.0.0.1", 80).allowed);
  EXPECT_FALSE(decide(list, "10.0.0.1", "10.0.0.1", 80).allowed);
  EXPECT_FALSE(decide(list, "::1", "::1", 80).allowed);
  // The link-local block unlocks link-local, but the metadata service must be named itself.
  EXPECT_TRUE(decide(list, "169.254.1.1", "169.254.1.1", 80).allowed);
  EXPECT_FALSE(decide(list, "169.254.169.254", "169.254.169.254", 80).allowed);
}

TEST(AllowlistDecide, MappedAndEmbeddedIpv4FormsAreJudgedAsIpv4) {
  const Allowlist public_only = must_parse({"*.example.com", "0.0.0.0/0", "::/0"});
  EXPECT_FALSE(decide(public_only, "a.example.com", "::ffff:127.0.0.1", 80).allowed);
  EXPECT_FALSE(decide(public_only, "a.example.com", "::ffff:169.254.169.254", 80).allowed);
  EXPECT_FALSE(decide(public_only, "a.example.com", "::ffff:10.0.0.1", 80).allowed);
  EXPECT_FALSE(decide(public_only, "a.example.com", "::10.0.0.1", 80).allowed);
  EXPECT_FALSE(decide(public_only, "a.example.com", "64:ff9b::a9fe:a9fe", 80).allowed);
  EXPECT_FALSE(decide(public_only, "a.example.com", "2002:7f00:1::", 80).allowed);
  EXPECT_TRUE(decide(public_only, "a.example.com", "::ffff:93.184.216.34", 80).allowed);
  // And an explicit IPv4 rule covers the mapped form of its address.
  const Allowlist loopback = must_parse({"127.0.0.1:80"});
  EXPECT_TRUE(decide(loopback, "::ffff:127.0.0.1", "::ffff:127.0.0.1", 80).allowed);
}

TEST(AllowlistDecide, PublicAddressNeedsAMatchingRule) {
  const Allowlist list = must_parse({"example.com"});
  const Decision decision = decide(list, "other.org", "93.184.216.34", 443);
  EXPECT_FALSE(decision.allowed);
  EXPECT_NE(decision.reason.find("no allow rule matches other.org"), std::string::npos)
      << decision.reason;
  EXPECT_FALSE(decide(Allowlist{}, "example.com", "93.184.216.34", 443).allowed);
}

TEST(AllowlistPrecheck, RefusesNamesNoRuleCouldAllowBeforeResolving) {
  const Allowlist names_only = must_parse({"*.github.com:443"}, {"gist.github.com"});
  EXPECT_TRUE(names_only.precheck("api.github.com", 443).allowed);
  EXPECT_FALSE(names_only.precheck("api.github.com", 80).allowed);
  EXPECT_FALSE(names_only.precheck("secret-data.attacker.example", 443).allowed);
  EXPECT_FALSE(names_only.precheck("gist.github.com", 443).allowed);
  EXPECT_FALSE(names_only.precheck("bad name", 443).allowed);
  // With an address rule for the port any name may resolve into it, so it is worth resolving.
  const Allowlist with_block = must_parse({"10.0.0.0/8:5432"});
  EXPECT_TRUE(with_block.precheck("db.internal", 5432).allowed);
  EXPECT_FALSE(with_block.precheck("db.internal", 5433).allowed);
  // IP literals are left to decide().
  EXPECT_TRUE(names_only.precheck("127.0.0.1", 80).allowed);
}

TEST(AllowlistNames, NormalizeAndLiterals) {
  EXPECT_EQ(normalize_host_name("Example.COM."), "example.com");
  EXPECT_EQ(normalize_host_name("_dmarc.example.com"), "_dmarc.example.com");
  EXPECT_FALSE(normalize_host_name("127.1"));
  EXPECT_FALSE(normalize_host_name("2130706433"));
  EXPECT_FALSE(normalize_host_name("a..b"));
  EXPECT_FALSE(normalize_host_name(std::string(64, 'a') + ".com"));
  EXPECT_TRUE(parse_ip_literal("[::1]"));
  EXPECT_TRUE(parse_ip_literal("1.2.3.4"));
  EXPECT_FALSE(parse_ip_literal("127.1"));
  EXPECT_FALSE(parse_ip_literal("0x7f.0.0.1"));
  EXPECT_FALSE(parse_ip_literal("fe80::1%lo"));
}

}  // namespace
}  // namespace agentd::netproxy
