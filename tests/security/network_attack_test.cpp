// SECURITY-CASES 20 and 21: with network "none", nothing outside the
// sandbox is reachable (the internet, host services on loopback, host unix
// sockets, DNS), socket families beyond unix/inet/inet6 are refused, and
// the sandbox's own loopback works.
#include <filesystem>

#include "host_side.hpp"
#include "security_fixture.hpp"

namespace agentd::security {
namespace {

struct NetCase {
  std::string name;
  std::vector<std::string> args;  // placeholders: see NetworkAttack::expand
  std::set<std::string> errnos;
};
// Test names and ctest list the case by name, not as a byte dump.
void PrintTo(const NetCase& c, std::ostream* os) { *os << c.name; }

const std::set<std::string> kNoRoute = {"ENETUNREACH", "EHOSTUNREACH", "EADDRNOTAVAIL"};
const std::set<std::string> kFiltered = {"EAFNOSUPPORT"};

std::vector<NetCase> network_cases() {
  std::vector<NetCase> cases = {
      {"PublicDns", {"connect", "1.1.1.1", "53"}, kNoRoute},
      {"PublicHttps", {"connect", "8.8.8.8", "443"}, kNoRoute},
      {"PublicIpv6", {"connect", "2606:4700:4700::1111", "53"}, kNoRoute},
      {"CloudMetadata", {"connect", "169.254.169.254", "80"}, kNoRoute},
      {"PrivateRange10", {"connect", "10.0.0.1", "80"}, kNoRoute},
      {"PrivateRange192", {"connect", "192.168.1.1", "80"}, kNoRoute},
      {"UdpToPublicDns", {"udp-send", "1.1.1.1", "53"}, kNoRoute},
      // The sandbox's 127.0.0.1 is its own: the host's listener is not there.
      {"HostServiceOnLoopback", {"connect", "127.0.0.1", "{tcp4_port}"}, {"ECONNREFUSED"}},
      {"HostServiceOnIpv6Loopback",
       {"connect", "::1", "{tcp6_port}"},
       {"ECONNREFUSED", "EADDRNOTAVAIL", "ENETUNREACH"}},
      {"HostServiceOnExternalAddress", {"connect", "{external_ip}", "{any_port}"}, kNoRoute},
      {"HostAbstractSocket", {"connect-abstract", "{abstract}"}, {"ECONNREFUSED", "EPERM"}},
      {"HostUnixSocketFile", {"connect-unix", "{unix_path}"}, {"ENOENT"}},
      {"DnsLookup", {"dns", "example.com"}, {}},
      {"DnsLookupOfTheHostsName", {"dns", "{hostname}"}, {}},
      {"NetlinkSocket", {"socket", "netlink"}, kFiltered},
      {"NetlinkSocketWithHighBits", {"socket", "netlink-high-bits"}, kFiltered},
      {"UnixSocketWithHighBits", {"socket", "unix-high-bits"}, kFiltered},
      {"PacketSocket", {"socket", "packet"}, kFiltered},
      {"VsockToTheHypervisor", {"socket", "vsock"}, kFiltered},
      {"AlgSocket", {"socket", "alg"}, kFiltered},
      {"XdpSocket", {"socket", "xdp"}, kFiltered},
      {"PfKeySocket", {"socket", "key"}, kFiltered},
      {"CanSocket", {"socket", "can"}, kFiltered},
      {"TipcSocket", {"socket", "tipc"}, kFiltered},
      {"RdsSocket", {"socket", "rds"}, kFiltered},
      {"BluetoothSocket", {"socket", "bluetooth"}, kFiltered},
      {"RawInetSocket", {"socket", "inet-raw"}, {"EPERM"}},
      {"RawInet6Socket", {"socket", "inet6-raw"}, {"EPERM"}},
  };
  return cases;
}

class NetworkAttack : public SecurityTest, public ::testing::WithParamInterface<NetCase> {
 protected:
  std::string expand(std::string text) const {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    const std::pair<std::string, std::string> vars[] = {
        {"{tcp4_port}", std::to_string(listeners_.tcp4_port())},
        {"{tcp6_port}", std::to_string(listeners_.tcp6_port())},
        {"{any_port}", std::to_string(listeners_.any_port())},
        {"{external_ip}", HostListeners::external_ipv4().value_or("192.0.2.1")},
        {"{abstract}", listeners_.abstract_name()},
        {"{unix_path}", listeners_.unix_path()},
        {"{hostname}", host},
    };
    for (const auto& [key, value] : vars) {
      for (size_t at; (at = text.find(key)) != std::string::npos;)
        text.replace(at, key.size(), value);
    }
    return text;
  }

  HostSecrets secrets_;  // its temp dir holds the unix socket file
  HostListeners listeners_{secrets_.dir.path()};
};

TEST_P(NetworkAttack, IsRefused) {
  const NetCase& c = GetParam();
  auto* sb = create();
  if (!sb) return;
  std::vector<std::string> args;
  for (const auto& a : c.args) args.push_back(expand(a));
  EXPECT_TRUE(is_blocked(attack(*sb, args), c.errnos));
  expect_healthy(*sb, c.name);
}

INSTANTIATE_TEST_SUITE_P(Cases, NetworkAttack, ::testing::ValuesIn(network_cases()),
                         [](const auto& info) { return info.param.name; });

// 20: "only the sandbox's own loopback works".
TEST_F(SecurityTest, OwnLoopbackWorks) {
  auto* sb = create();
  if (!sb) return;
  EXPECT_TRUE(has_verdict(attack(*sb, {"loopback"}), "ok"));
}

// Defense in depth: even a sandbox with network "host", which shares the
// host's abstract unix namespace, cannot connect to a host abstract socket
// (Landlock scopes them to the sandbox, ABI >= 6).
TEST_F(SecurityTest, HostAbstractSocketIsScopedAwayEvenWithHostNetwork) {
  HostSecrets secrets;
  HostListeners listeners(secrets.dir.path());
  auto spec = base_spec();
  spec.network = policy::NetworkMode::kHost;
  auto* sb = create(spec);
  if (!sb) return;
  const auto* landlock = sandbox_feature(*sb, "landlock");
  if (!landlock || landlock->mechanism.find("abstract-unix") == std::string::npos) {
    GTEST_SKIP() << "Landlock abstract-unix scoping needs ABI >= 6: "
                 << (landlock ? landlock->mechanism : "no landlock");
  }
  EXPECT_TRUE(is_blocked(attack(*sb, {"connect-abstract", listeners.abstract_name()}), {"EPERM"}));
}

// 21 (network "allowlist"): violation_report_test.cpp, NetworkAllowlistTest.

}  // namespace
}  // namespace agentd::security
