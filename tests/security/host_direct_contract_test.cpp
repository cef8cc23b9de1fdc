// The attacks can fail: run on host-direct (isolation "none"), which does
// not isolate by contract, a representative attack of each kind must report
// "escaped". These rows EXPECT escape; they are what makes a "blocked" in
// a linux sandbox mean something.
#include <unistd.h>

#include <filesystem>

#include "host_side.hpp"
#include "security_fixture.hpp"

namespace agentd::security {
namespace {

namespace fs = std::filesystem;

struct ContractCase {
  std::string name;
  std::vector<std::string> args;
  bool needs_root = false;
};
// Test names and ctest list the case by name, not as a byte dump.
void PrintTo(const ContractCase& c, std::ostream* os) { *os << c.name; }

std::vector<ContractCase> contract_cases() {
  return {
      {"PlantedHostSecret", {"read-file", "{secret}", "{token}"}},
      {"EtcShadow", {"read-file", "/etc/shadow"}, true},
      {"WriteHostTempDir", {"write-file", "{host_dir}/written-by-host-direct"}},
      {"DotDotToHostSecret", {"read-file", "{relative_secret}", "{token}"}},
      {"PlantedSymlink", {"read-file", "{workdir}/link-abs", "{token}"}},
      {"HardlinkHostSecret", {"hardlink", "{secret}", "{workdir}/hl-secret"}},
      {"ProcRootToShadow", {"proc-root-escape", "/etc/shadow"}, true},
      {"Mknod", {"mknod", "{workdir}/mem", "c", "1", "1"}, true},
      {"Capabilities", {"caps"}},
      {"UnshareUser", {"syscall", "unshare-user"}},
      {"Bpf", {"syscall", "bpf"}, true},
      {"Mount", {"syscall", "mount"}, true},
      {"OpenByHandle", {"syscall", "open_by_handle_at"}, true},
      {"IoUring", {"syscall", "io_uring_setup"}},
      {"Keyctl", {"syscall", "keyctl"}},
      {"Reboot", {"syscall", "reboot"}, true},
      {"NetlinkSocket", {"socket", "netlink"}},
      {"HostServiceOnLoopback", {"connect", "127.0.0.1", "{tcp4_port}"}},
      {"HostAbstractSocket", {"connect-abstract", "{abstract}"}},
      {"HostUnixSocketFile", {"connect-unix", "{unix_path}"}},
      {"PtraceHostProcess", {"ptrace-pid", "{victim}"}, true},
      {"ReadHostProcessMemory",
       {"vm-read", "{victim}", "{victim_addr}", "32", "{victim_token}"},
       true},
      {"SignalHostProcess", {"kill-pid", "{victim}", "0"}, true},
      {"SeeHostProcess", {"find-procs", "agentd-hostvict"}},
      {"Tiocsti", {"tiocsti"}, true},
  };
}

class HostDirectDoesNotIsolate : public ::testing::TestWithParam<ContractCase> {
 protected:
  std::string expand(std::string text) const {
    char addr[32];
    std::snprintf(addr, sizeof addr, "0x%lx",
                  static_cast<unsigned long>(HostVictim::token_address()));
    const std::pair<std::string, std::string> vars[] = {
        {"{relative_secret}", fs::relative(secrets_.secret, runner_.workdir()).string()},
        {"{secret}", secrets_.secret},
        {"{token}", secrets_.token},
        {"{host_dir}", secrets_.dir.path()},
        {"{workdir}", runner_.workdir()},
        {"{tcp4_port}", std::to_string(listeners_.tcp4_port())},
        {"{abstract}", listeners_.abstract_name()},
        {"{unix_path}", listeners_.unix_path()},
        {"{victim_addr}", addr},
        {"{victim_token}", HostVictim::token()},
        {"{victim}", std::to_string(victim_.pid())},
    };
    for (const auto& [key, value] : vars) {
      for (size_t at; (at = text.find(key)) != std::string::npos;)
        text.replace(at, key.size(), value);
    }
    return text;
  }

  HostSecrets secrets_;
  HostListeners listeners_{secrets_.dir.path()};
  HostVictim victim_;
  test_support::HostExecRunner runner_;
};

TEST_P(HostDirectDoesNotIsolate, TheAttackEscapes) {
  const ContractCase& c = GetParam();
  if (c.needs_root && ::geteuid() != 0) GTEST_SKIP() << "escapes on host-direct only as root";
  fs::create_symlink(secrets_.secret, runner_.workdir() + "/link-abs");
  std::vector<std::string> argv = {attack_program()};
  for (const auto& a : c.args) argv.push_back(expand(a));
  AttackResult result = parse_attack(runner_.run(runner_.request(argv)));
  EXPECT_TRUE(has_verdict(result, "escaped")) << "the attack cannot detect an escape";
  std::error_code ignored;
  fs::remove(secrets_.dir / "written-by-host-direct", ignored);
}

INSTANTIATE_TEST_SUITE_P(Cases, HostDirectDoesNotIsolate, ::testing::ValuesIn(contract_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace agentd::security
