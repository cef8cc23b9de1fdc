// SECURITY-CASES 7 and 8: mounts, root changes, namespaces, file handles,
// and the kernel attack surface sandboxes deny (bpf, perf, keys, kexec,
// modules, reboot, swap, userfaultfd, io_uring, ...). Each syscall is made
// with harmless arguments by `attack syscall NAME`; only EPERM (the seccomp
// filter, or missing capabilities) or ENOSYS count as refused.
#include <signal.h>
#include <stdio.h>

#include <sstream>

#include "security_fixture.hpp"

namespace agentd::security {
namespace {

struct SyscallCase {
  std::string name;
  std::string errno_name;  // what the default profile answers
};
// Test names and ctest list the case by name, not as a byte dump.
void PrintTo(const SyscallCase& c, std::ostream* os) { *os << c.name; }

std::vector<SyscallCase> syscall_cases() {
  std::vector<SyscallCase> cases;
  for (const char* name : {"unshare-user",
                           "unshare-mount",
                           "unshare-net",
                           "unshare-pid",
                           "unshare-ipc",
                           "unshare-uts",
                           "unshare-cgroup",
                           "unshare-time",
                           "clone-newuser",
                           "clone-newns",
                           "clone-newnet",
                           "setns-net",
                           "setns-mnt",
                           "setns-user",
                           "mount",
                           "umount2",
                           "pivot_root",
                           "chroot",
                           "open_tree",
                           "fsopen",
                           "fspick",
                           "fsconfig",
                           "fsmount",
                           "move_mount",
                           "mount_setattr",
                           "open_by_handle_at",
                           "name_to_handle_at",
                           "bpf",
                           "perf_event_open",
                           "userfaultfd",
                           "io_uring_setup",
                           "io_uring_enter",
                           "io_uring_register",
                           "keyctl",
                           "add_key",
                           "request_key",
                           "fanotify_init",
                           "ptrace-traceme",
                           "process_vm_writev",
                           "kcmp",
                           "personality",
                           "capset",
#ifdef __x86_64__
                           "modify_ldt",
                           "iopl",
                           "ioperm",
#endif
                           "kexec_load",
                           "kexec_file_load",
                           "init_module",
                           "finit_module",
                           "delete_module",
                           "reboot",
                           "swapon",
                           "swapoff",
                           "acct",
                           "quotactl",
                           "syslog",
                           "settimeofday",
                           "clock_settime",
                           "adjtimex",
                           "sethostname"}) {
    cases.push_back({name, "EPERM"});
  }
  cases.push_back({"clone3-newuser", "ENOSYS"});  // clone3 as a whole: flags are out of reach
  return cases;
}

class SyscallAttack : public SecurityTest, public ::testing::WithParamInterface<SyscallCase> {};

TEST_P(SyscallAttack, IsRefused) {
  auto* sb = create();
  if (!sb) return;
  EXPECT_TRUE(is_blocked(attack(*sb, {"syscall", GetParam().name}), {GetParam().errno_name}));
  expect_healthy(*sb, GetParam().name);
}

INSTANTIATE_TEST_SUITE_P(Cases, SyscallAttack, ::testing::ValuesIn(syscall_cases()),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// The i386 (int 0x80) and x32 ABIs number syscalls differently: a filter
// for x86_64 numbers must kill them (SIGSYS), not let unshare through.
TEST_F(SecurityTest, OtherSyscallAbisAreKilled) {
#ifndef __x86_64__
  GTEST_SKIP() << "the i386 and x32 ABIs exist on x86_64 only";
#endif
  auto* sb = create();
  if (!sb) return;
  for (const char* abi : {"i386", "x32"}) {
    AttackResult result = attack(*sb, {"abi-bypass", abi});
    bool killed = result.run.finished && result.run.outcome.status == exec::ExecStatus::kSignaled &&
                  result.run.outcome.signal == SIGSYS;
    // ENOSYS: this kernel lacks the ABI (no IA32 emulation, no x32).
    EXPECT_TRUE(killed || is_blocked(result, {"ENOSYS"})) << abi << ": " << describe(result);
    RecordProperty(abi, killed ? "killed by SIGSYS" : "ENOSYS (ABI not in this kernel)");
  }
  expect_healthy(*sb, "syscalls through other ABIs");
}

// The table above covers every probe the attack program knows.
TEST(SyscallAttackTable, CoversEveryProbe) {
  FILE* pipe = ::popen((attack_program() + " syscall-list").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  ::pclose(pipe);
  size_t detail = out.find("detail=");
  ASSERT_NE(detail, std::string::npos) << out;
  std::istringstream names(out.substr(detail + 7));
  std::set<std::string> covered;
  for (const auto& c : syscall_cases()) covered.insert(c.name);
  for (std::string name; names >> name;) {
    EXPECT_TRUE(covered.count(name)) << "attack syscall " << name << " has no row";
  }
}

}  // namespace
}  // namespace agentd::security
