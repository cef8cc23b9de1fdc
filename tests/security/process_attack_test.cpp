// SECURITY-CASES 6, 9-13: ptrace and process_vm_readv of processes outside,
// setuid and capabilities, kill -9 -1 and kill of a host pid, TIOCSTI,
// inherited descriptors, environment. Plus attacks on the sandbox's own
// PID 1, which holds agentd's control channel.
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "host_side.hpp"
#include "policy/environment.hpp"
#include "security_fixture.hpp"

namespace agentd::security {
namespace {

namespace fs = std::filesystem;

std::string hex(uintptr_t value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(value));
  return buf;
}

// 6 and 10: a process on the host, running as the very uid that is root in
// the sandbox, is out of reach: not visible, not traceable, not signalable.
TEST_F(SecurityTest, HostProcessCannotBeTracedReadOrSignalled) {
  HostVictim victim;
  auto* sb = create();
  if (!sb) return;
  std::string pid = std::to_string(victim.pid());
  const std::set<std::string> refused = {"EPERM", "ESRCH"};
  EXPECT_TRUE(is_blocked(attack(*sb, {"ptrace-pid", pid}), refused));
  EXPECT_TRUE(is_blocked(
      attack(*sb, {"vm-read", pid, hex(HostVictim::token_address()), "32", HostVictim::token()}),
      refused));
  EXPECT_TRUE(is_blocked(attack(*sb, {"pidfd-getfd", pid, "0"}), refused));
  EXPECT_TRUE(is_blocked(attack(*sb, {"kill-pid", pid, std::to_string(SIGKILL)}), {"ESRCH"}));
  EXPECT_TRUE(is_blocked(attack(*sb, {"kill-pid", pid, "0"}), {"ESRCH"}));
  EXPECT_TRUE(victim.alive()) << "the host process died";
  expect_healthy(*sb, "attacks on a host process");
}

// 6: ptrace is refused outright, so neither the init (which holds agentd's
// control channel) nor any process of the sandbox can be traced or read.
TEST_F(SecurityTest, PtraceIsRefusedInsideTheSandboxToo) {
  auto* sb = create();
  if (!sb) return;
  EXPECT_TRUE(is_blocked(attack(*sb, {"ptrace-pid", "1"}), {"EPERM"}));
  EXPECT_TRUE(is_blocked(attack(*sb, {"ptrace-child"}), {"EPERM"}));
  EXPECT_TRUE(is_blocked(attack(*sb, {"vm-read", "1", "0x400000", "16"}), {"EPERM"}));
  EXPECT_TRUE(is_blocked(attack(*sb, {"pidfd-getfd", "1", "3"}), {"EPERM"}));
  expect_healthy(*sb, "ptrace of the init");
}

// The init is PID 1 of the sandbox: signals from inside must not stop or
// kill it (the kernel drops them unless it has a handler).
TEST_F(SecurityTest, SignalsAtTheInitAreIgnored) {
  auto* sb = create();
  if (!sb) return;
  auto inits = sandbox_init_pids();
  AttackResult result = attack(*sb, {"signal-init"});
  EXPECT_TRUE(has_verdict(result, "done"));
  expect_healthy(*sb, "signals at PID 1");
  EXPECT_EQ(sandbox_init_pids(), inits) << "the init was replaced or died";
}

// Same uid as the init, so setrlimit-by-pid passes the kernel's uid check:
// an exec could starve PID 1 of descriptors and break the sandbox.
TEST_F(SecurityTest, LoweringTheInitsLimitsIsRefused) {
  auto* sb = create();
  if (!sb) return;
  EXPECT_TRUE(is_blocked(attack(*sb, {"prlimit-init"}), {"EPERM"}));
  expect_healthy(*sb, "prlimit of PID 1");
}

// 9: execs hold no capabilities, no_new_privs is set and a seccomp filter
// is installed.
TEST_F(SecurityTest, ExecsHaveNoCapabilitiesAndNoNewPrivs) {
  auto* sb = create();
  if (!sb) return;
  AttackResult result = attack(*sb, {"caps"});
  EXPECT_TRUE(is_blocked(result));
  EXPECT_NE(result.detail.find("NoNewPrivs=1"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("Seccomp=2"), std::string::npos) << result.detail;
}

// vfs_cap_data, revision 2: every capability permitted and effective.
void set_all_file_capabilities(const std::string& path) {
  struct {
    uint32_t magic_etc;
    struct {
      uint32_t permitted, inheritable;
    } data[2];
  } caps{VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, {{~0u, 0}, {~0u, 0}}};
  ASSERT_EQ(::setxattr(path.c_str(), "security.capability", &caps, sizeof caps, 0), 0)
      << "setxattr(security.capability): " << std::strerror(errno);
}

// 9: a setuid-root binary with every file capability, planted in the
// workdir by the host, runs without privileges.
TEST_F(SecurityTest, SetuidRootBinaryWithFileCapabilitiesGainsNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "planting a setuid-root binary needs root";
  auto* sb = create();
  if (!sb) return;
  std::string planted = sb->workdir() + "/attack-suid";
  fs::copy_file(attack_program(), planted);
  ASSERT_EQ(::chown(planted.c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod(planted.c_str(), 04755), 0);
  set_all_file_capabilities(planted);
  struct stat st {};
  ASSERT_EQ(::stat(planted.c_str(), &st), 0);
  ASSERT_TRUE(st.st_mode & S_ISUID) << "the plant is not setuid";

  AttackResult result = parse_attack(run(*sb, request(*sb, {"/workspace/attack-suid", "caps"})));
  EXPECT_TRUE(is_blocked(result)) << "a setuid-root file capability binary gained privileges";
  EXPECT_NE(result.detail.find("CapEff=0000000000000000"), std::string::npos) << result.detail;
}

// 10: kill -9 -1 kills every process of the sandbox (an exec running
// beside it), but no host process, and not the init.
TEST_F(SecurityTest, KillMinusOneReachesOnlyTheSandbox) {
  HostVictim victim;
  auto* sb = create();
  if (!sb) return;
  Background inner = start_attack(*sb, {"victim", "agentd-inner"});
  ASSERT_TRUE(wait_for_output(inner, "READY")) << describe(*inner.run);
  AttackResult result = attack(*sb, {"kill-all"});
  EXPECT_TRUE(has_verdict(result, "done"));
  auto inner_done = inner.run;
  driver_.run_until([inner_done] { return inner_done->finished; }, std::chrono::seconds(10));
  ExecRun inner_run = *inner.run;
  EXPECT_EQ(inner_run.outcome.status, exec::ExecStatus::kSignaled)
      << "kill -9 -1 had no effect inside (the attack proved nothing): " << describe(inner_run);
  EXPECT_EQ(inner_run.outcome.signal, SIGKILL);
  EXPECT_TRUE(victim.alive()) << "kill -9 -1 in a sandbox killed a host process";
  expect_healthy(*sb, "kill -9 -1");
}

// 11: TIOCSTI (and TIOCLINUX) are refused on every terminal the exec can
// reach: its stdio when it runs on a pty, /dev/tty, and a pty it makes.
TEST_F(SecurityTest, TerminalInjectionIsRefused) {
  auto* sb = create();
  if (!sb) return;
  EXPECT_TRUE(is_blocked(attack(*sb, {"tiocsti"}), {"EPERM"}));
  exec::LaunchRequest with_stdin = attack_request(*sb, {"tiocsti"});
  with_stdin.stdin_pipe = true;
  EXPECT_TRUE(is_blocked(parse_attack(run(*sb, with_stdin)), {"EPERM"}));
  // On a pty, stdio is an inherited (controlling) terminal: the real target.
  exec::LaunchRequest on_pty = attack_request(*sb, {"tiocsti"});
  on_pty.pty = exec::PtySize{};
  AttackResult result = parse_attack(run(*sb, on_pty));
  EXPECT_TRUE(is_blocked(result, {"EPERM"}));
  EXPECT_NE(result.detail.find("fd0"), std::string::npos)
      << "stdio was not a tty: " << result.detail;
  expect_healthy(*sb, "terminal injection");
}

// 12: only 0, 1 and 2 reach an exec, even when agentd itself leaked a
// descriptor without O_CLOEXEC.
TEST_F(SecurityTest, OnlyStdioIsInherited) {
  HostSecrets secrets;
  auto* sb = create();
  if (!sb) return;
  int leaked = ::open(secrets.secret.c_str(), O_RDONLY);  // no O_CLOEXEC, on purpose
  ASSERT_GE(leaked, 0);
  EXPECT_TRUE(is_blocked(attack(*sb, {"list-fds"})));
  exec::LaunchRequest with_stdin = attack_request(*sb, {"list-fds"});
  with_stdin.stdin_pipe = true;
  EXPECT_TRUE(is_blocked(parse_attack(run(*sb, with_stdin))));
  ::close(leaked);
}

// 12: the init is inside the sandbox, with the execs' uid: it must not hold
// descriptors agentd leaked (here: a host secret opened without O_CLOEXEC
// before the sandbox was made).
TEST_F(SecurityTest, InitHoldsNoDescriptorAgentdLeaked) {
  HostSecrets secrets;
  int leaked = ::open(secrets.secret.c_str(), O_RDONLY);  // no O_CLOEXEC, on purpose
  ASSERT_GE(leaked, 0);
  auto before = sandbox_init_pids();
  auto* sb = create();
  ::close(leaked);
  if (!sb) return;
  std::vector<pid_t> inits;
  for (pid_t pid : sandbox_init_pids()) {
    if (std::find(before.begin(), before.end(), pid) == before.end()) inits.push_back(pid);
  }
  ASSERT_EQ(inits.size(), 1u) << "cannot find the sandbox's init on the host";
  std::string held;
  for (const auto& [fd, target] : host_fds_of(inits[0]))
    held += std::to_string(fd) + "->" + target + " ";
  EXPECT_EQ(held.find(secrets.secret), std::string::npos)
      << "the sandbox's PID 1 holds a host file agentd leaked: " << held;
  EXPECT_TRUE(is_blocked(attack(*sb, {"init-fds"})));
}

// Sets variables in agentd's (this process's) environment for one scope.
class ScopedEnv {
 public:
  ScopedEnv(std::vector<std::pair<std::string, std::string>> vars) : vars_(std::move(vars)) {
    for (const auto& [k, v] : vars_) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : vars_) ::unsetenv(k.c_str());
  }

 private:
  std::vector<std::pair<std::string, std::string>> vars_;
};

// 13: agentd's environment does not reach an exec; with inheritEnv it does
// (by design), but never the loader and shell hooks.
TEST_F(SecurityTest, AgentdsEnvironmentDoesNotLeak) {
  ScopedEnv env({{"AGENTD_SECURITY_SECRET", "agentd-env-secret"},
                 {"LD_PRELOAD", "/nonexistent/agentd-preload.so"},
                 {"LD_LIBRARY_PATH", "/nonexistent/agentd-lib"},
                 {"LD_AUDIT", "/nonexistent/agentd-audit.so"},
                 {"BASH_ENV", "/nonexistent/agentd-bash-env"},
                 {"ENV", "/nonexistent/agentd-env"}});
  auto* sb = create();
  if (!sb) return;
  const std::vector<std::string> hooks = {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "BASH_ENV",
                                          "ENV"};
  std::vector<std::string> args = {"env", "AGENTD_SECURITY_SECRET"};
  args.insert(args.end(), hooks.begin(), hooks.end());
  EXPECT_TRUE(is_blocked(attack(*sb, args))) << "the default environment leaked";

  exec::LaunchRequest inherit = attack_request(*sb, {"env"});
  inherit.argv.insert(inherit.argv.end(), hooks.begin(), hooks.end());
  inherit.env = policy::inherited_environment();
  EXPECT_TRUE(is_blocked(parse_attack(run(*sb, inherit))))
      << "inheritEnv passed a code-injection hook";

  // The contract of inheritEnv, so that a change is noticed.
  exec::LaunchRequest secret = attack_request(*sb, {"env", "AGENTD_SECURITY_SECRET"});
  secret.env = policy::inherited_environment();
  EXPECT_TRUE(has_verdict(parse_attack(run(*sb, secret)), "escaped"));
}

}  // namespace
}  // namespace agentd::security
