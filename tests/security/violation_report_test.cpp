// Issue 7 in real sandboxes: a denied syscall is still denied with the same
// errno and reported once, naming the syscall, the process and its exec;
// with network "allowlist" the only way out is agentd's proxy, which reaches
// allowed destinations, refuses the rest (cloud metadata, unlisted ports,
// names that resolve to loopback) and reports each refusal.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "sandbox/linux/linux_sandbox.hpp"
#include "security_fixture.hpp"

namespace agentd::security {
namespace {

using ::testing::HasSubstr;

// A TCP server on the host's 127.0.0.1 that answers each connection's first
// line with "pong <port>".
class PongServer {
 public:
  PongServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~PongServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string port() const { return std::to_string(port_); }
  int connections() const { return connections_; }

 private:
  void serve() {
    while (!stopping_) {
      int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) return;
      ++connections_;
      char buf[64];
      if (::read(conn, buf, sizeof buf) > 0) {
        std::string answer = "pong " + port() + "\n";
        (void)!::write(conn, answer.data(), answer.size());
      }
      ::close(conn);
    }
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
};

class ViolationReportTest : public SecurityTest {
 protected:
  // Creates a sandbox whose violations land in seen_; nullptr (and the test
  // skipped) when the kernel cannot report `feature`.
  // Skipped only when the backend's probe says this machine cannot report:
  // a sandbox of a capable machine that does not report is a failure.
  sandbox::Sandbox* create_reporting(const policy::SandboxSpec& spec, const std::string& feature) {
    const char* probed = feature == "violationReports.network" ? "networkAllowlist" : feature.c_str();
    const auto* offered = backend_feature(probed);
    if (!offered || offered->state != sandbox::FeatureState::State::kAvailable) {
      [&] { GTEST_SKIP() << probed << " is unavailable here: " << (offered ? offered->reason : "not probed"); }();
      return nullptr;
    }
    auto* sb = create(spec);
    if (!sb) return nullptr;
    const auto* report = sandbox_feature(*sb, feature);
    if (!report || report->state != sandbox::FeatureState::State::kEnforced) {
      ADD_FAILURE() << feature << " offered by the backend but not enforced: "
                    << (report ? report->reason : "not reported");
      return nullptr;
    }
    sb->on_violation([this](const sandbox::Violation& v) { seen_.push_back(v); });
    return sb;
  }
  // Runs the loop until `count` violations arrived (bounded).
  bool wait_for_violations(size_t count) {
    return driver_.run_until([&] { return seen_.size() >= count; });
  }
  std::vector<sandbox::Violation> seen_;
};

TEST_F(ViolationReportTest, DeniedSyscallStaysDeniedAndIsReportedWithItsProcess) {
  auto* sb = create_reporting(base_spec(), "violationReports.syscall");
  if (!sb) return;
  Background bg = start_attack(*sb, {"socket", "packet"});
  pid_t leader = bg.session->pid();
  AttackResult result = parse_attack(driver_.finish(bg));
  EXPECT_TRUE(is_blocked(result, {"EAFNOSUPPORT"})) << describe(result);
  ASSERT_TRUE(wait_for_violations(1));
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].kind, "syscall");
  EXPECT_THAT(seen_[0].detail, HasSubstr("socket(address family 17)"));
  EXPECT_EQ(seen_[0].pid, leader);  // the attack is the exec's own process
  // Reported once: nothing more arrives while another exec runs.
  ExecRun after = run(*sb, request(*sb, {"/bin/true"}));
  EXPECT_EQ(after.outcome.status, exec::ExecStatus::kExited) << describe(after);
  EXPECT_EQ(seen_.size(), 1u);
}

// getaddrinfo opens a netlink socket on every lookup: refused, not reported.
TEST_F(ViolationReportTest, NetlinkIsRefusedQuietly) {
  auto* sb = create_reporting(base_spec(), "violationReports.syscall");
  if (!sb) return;
  EXPECT_TRUE(is_blocked(attack(*sb, {"socket", "netlink"}), {"EAFNOSUPPORT"}));
  EXPECT_TRUE(is_blocked(attack(*sb, {"socket", "packet"}), {"EAFNOSUPPORT"}));
  ASSERT_TRUE(wait_for_violations(1));
  EXPECT_EQ(seen_.size(), 1u);
  EXPECT_THAT(seen_[0].detail, HasSubstr("address family 17"));
}

TEST_F(ViolationReportTest, ViolationOfAGrandchildNamesItsExecLeaderAsAncestor) {
  auto* sb = create_reporting(base_spec(), "violationReports.syscall");
  if (!sb) return;
  auto request = attack_request(*sb, {"syscall", "ptrace-traceme"});
  std::string command;
  for (const auto& arg : request.argv) command += "'" + arg + "' ";
  request.argv = {"/bin/sh", "-c", command + "; true"};
  Background bg = driver_.start(*sb, request);
  pid_t leader = bg.session->pid();
  AttackResult result = parse_attack(driver_.finish(bg));
  EXPECT_TRUE(is_blocked(result, {"EPERM"})) << describe(result);
  ASSERT_TRUE(wait_for_violations(1));
  EXPECT_EQ(seen_[0].detail, "ptrace");
  EXPECT_NE(seen_[0].pid, leader);
  EXPECT_THAT(seen_[0].ancestry, ::testing::Contains(leader));
}

TEST_F(ViolationReportTest, EveryDenialIsAnsweredEvenInABurst) {
  auto* sb = create_reporting(base_spec(), "violationReports.syscall");
  if (!sb) return;
  auto request = attack_request(*sb, {"socket", "packet"});
  std::string command = "for i in $(seq 40); do ";
  for (const auto& arg : request.argv) command += "'" + arg + "' ";
  command += ">/dev/null || exit 9; done; echo all-denied";
  request.argv = {"/bin/sh", "-c", command};
  ExecRun loop = run(*sb, request);
  EXPECT_THAT(loop.out, HasSubstr("all-denied")) << describe(loop);
  ASSERT_TRUE(wait_for_violations(40));
  EXPECT_EQ(seen_.size(), 40u);
}

class NetworkAllowlistTest : public ViolationReportTest {
 protected:
  policy::SandboxSpec allowlist_spec(std::vector<std::string> allow) {
    auto spec = base_spec();
    spec.network = policy::NetworkMode::kAllowlist;
    spec.network_allow = std::move(allow);
    return spec;
  }
  AttackResult through_proxy(sandbox::Sandbox& sb, const std::string& host, const std::string& port) {
    return attack(sb, {"proxy-connect", std::to_string(sandbox::linuxns::LinuxSandbox::kProxyPort),
                       host, port});
  }
};

TEST_F(NetworkAllowlistTest, AllowedDestinationIsReachedAndOthersAreRefusedAndReported) {
  PongServer allowed, unlisted;
  // "localhost:<unlisted>" is a name rule: it cannot unlock a loopback address.
  auto* sb = create_reporting(
      allowlist_spec({"127.0.0.1:" + allowed.port(), "localhost:" + unlisted.port()}),
      "violationReports.network");
  if (!sb) return;
  auto reached = through_proxy(*sb, "127.0.0.1", allowed.port());
  EXPECT_TRUE(has_verdict(reached, "ok")) << describe(reached);
  EXPECT_THAT(reached.detail, HasSubstr("pong " + allowed.port()));

  auto refused = through_proxy(*sb, "127.0.0.1", unlisted.port());
  EXPECT_TRUE(is_blocked(refused)) << describe(refused);
  auto metadata = through_proxy(*sb, "169.254.169.254", "80");
  EXPECT_TRUE(is_blocked(metadata)) << describe(metadata);
  for (const char* private_address : {"10.0.0.1", "192.168.1.1", "172.16.0.1"}) {
    auto inside_lan = through_proxy(*sb, private_address, "80");
    EXPECT_TRUE(is_blocked(inside_lan)) << private_address << ": " << describe(inside_lan);
  }
  // A name never unlocks loopback, even a listed one.
  auto by_name = through_proxy(*sb, "localhost", unlisted.port());
  EXPECT_TRUE(is_blocked(by_name)) << describe(by_name);
  EXPECT_EQ(unlisted.connections(), 0);
  EXPECT_EQ(allowed.connections(), 1);

  ASSERT_TRUE(wait_for_violations(6));
  std::string details;
  for (const auto& v : seen_) {
    EXPECT_EQ(v.kind, "network");
    // The attack program that held the connection, found by its socket.
    EXPECT_GT(v.pid, 1) << v.detail;
    details += v.detail + "\n";
  }
  EXPECT_THAT(details, HasSubstr("127.0.0.1:" + unlisted.port()));
  EXPECT_THAT(details, HasSubstr("169.254.169.254:80"));
  EXPECT_THAT(details, HasSubstr("localhost:" + unlisted.port()));
  auto egress = sb->egress();
  ASSERT_TRUE(egress.count("127.0.0.1:" + allowed.port()));
  EXPECT_EQ(egress["127.0.0.1:" + allowed.port()].allowed, 1u);
  EXPECT_GT(egress["127.0.0.1:" + allowed.port()].bytes_received, 0u);
}

TEST_F(NetworkAllowlistTest, NoDirectRouteBesidesTheProxy) {
  PongServer allowed;
  auto* sb = create(allowlist_spec({"127.0.0.1:" + allowed.port()}));
  if (!sb) return;
  // The sandbox's 127.0.0.1 is its own: the host's server is not there.
  auto direct = attack(*sb, {"connect", "127.0.0.1", allowed.port()});
  EXPECT_TRUE(is_blocked(direct, {"ECONNREFUSED"})) << describe(direct);
  auto outside = attack(*sb, {"connect", "1.1.1.1", "53"});
  EXPECT_TRUE(is_blocked(outside, {"ENETUNREACH", "EHOSTUNREACH", "EADDRNOTAVAIL"})) << describe(outside);
  EXPECT_EQ(allowed.connections(), 0);
}

TEST_F(NetworkAllowlistTest, ExecsFindTheProxyInTheirEnvironment) {
  auto* sb = create(allowlist_spec({}));
  if (!sb) return;
  ExecRun echoed = run(*sb, request(*sb, {"/bin/sh", "-c", "echo $HTTPS_PROXY $ALL_PROXY"}));
  std::string port = std::to_string(sandbox::linuxns::LinuxSandbox::kProxyPort);
  EXPECT_EQ(echoed.out, "http://127.0.0.1:" + port + " socks5h://127.0.0.1:" + port + "\n");
}

}  // namespace
}  // namespace agentd::security
