#include "sandbox/linux/seccomp_filter.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <pty.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "child_process.hpp"

namespace agentd::sandbox::linuxns {
namespace {

using test_support::Checks;
using test_support::wait_for;

// As the sandbox init does it: no_new_privs first, then the filter.
std::string load_filter(bool allow_inet = true) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "prctl(PR_SET_NO_NEW_PRIVS) failed";
  auto loaded = install_seccomp_filter(SeccompOptions{allow_inet});
  return loaded ? "" : "install_seccomp_filter: " + loaded.error().message();
}

// clone() with `flags`, fork-style (no new stack). A child that appears
// despite the filter exits at once; its pid is then returned as a failure.
long raw_clone(unsigned long flags) {
  long rc = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (rc == 0) ::_exit(0);
  if (rc > 0) wait_for(static_cast<pid_t>(rc));
  return rc;
}

long close_if_open(long fd) {
  if (fd >= 0) ::close(static_cast<int>(fd));
  return fd;
}

TEST(SeccompFilter, DeniesTracingAndOtherProcessesMemory) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    if (auto e = load_filter(); !e.empty()) return e;
    Checks c;
    c.fails_with(::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr), EPERM, "ptrace(PTRACE_TRACEME)");
    char source[8] = "secret", target[8] = {};
    iovec local{target, sizeof(target)}, remote{source, sizeof(source)};
    c.fails_with(::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0), EPERM,
                 "process_vm_readv(self)");
    c.fails_with(::process_vm_writev(::getpid(), &remote, 1, &local, 1, 0), EPERM,
                 "process_vm_writev(self)");
    c.fails_with(::syscall(SYS_kcmp, ::getpid(), ::getpid(), 0, 0, 0), EPERM, "kcmp");
    return c.text();
  });
}

TEST(SeccompFilter, DeniesMountsRootChangesAndNamespaces) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    if (auto e = load_filter(); !e.empty()) return e;
    Checks c;
    // Paths that do not exist: without the filter these fail ENOENT, not EPERM.
    const char* nowhere = "/nonexistent-agentd-test";
    c.fails_with(::mount("none", nowhere, "tmpfs", 0, nullptr), EPERM, "mount");
    c.fails_with(::umount2(nowhere, 0), EPERM, "umount2");
    c.fails_with(::syscall(SYS_pivot_root, nowhere, nowhere), EPERM, "pivot_root");
    c.fails_with(::chroot(nowhere), EPERM, "chroot");
    c.fails_with(::setns(-1, 0), EPERM, "setns");
    c.fails_with(::unshare(CLONE_NEWUSER), EPERM, "unshare(CLONE_NEWUSER)");
    c.fails_with(::unshare(CLONE_NEWNS), EPERM, "unshare(CLONE_NEWNS)");
    c.fails_with(::unshare(CLONE_NEWNET), EPERM, "unshare(CLONE_NEWNET)");
    c.fails_with(::unshare(CLONE_FILES), EPERM, "unshare(CLONE_FILES)");
    c.fails_with(::syscall(SYS_open_tree, AT_FDCWD, "/", 0), EPERM, "open_tree");
    c.fails_with(::syscall(SYS_fsopen, "tmpfs", 0), EPERM, "fsopen");
    c.fails_with(::syscall(SYS_open_by_handle_at, AT_FDCWD, nullptr, 0), EPERM,
                 "open_by_handle_at");
    c.fails_with(::syscall(SYS_name_to_handle_at, AT_FDCWD, "/", nullptr, nullptr, 0), EPERM,
                 "name_to_handle_at");
    return c.text();
  });
}

TEST(SeccompFilter, DeniesCloneWithAnyNamespaceFlag) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    if (auto e = load_filter(); !e.empty()) return e;
    Checks c;
    const struct {
      unsigned long flag;
      const char* name;
    } flags[] = {
        {CLONE_NEWNS, "clone(CLONE_NEWNS)"},        {CLONE_NEWUTS, "clone(CLONE_NEWUTS)"},
        {CLONE_NEWIPC, "clone(CLONE_NEWIPC)"},      {CLONE_NEWUSER, "clone(CLONE_NEWUSER)"},
        {CLONE_NEWPID, "clone(CLONE_NEWPID)"},      {CLONE_NEWNET, "clone(CLONE_NEWNET)"},
        {CLONE_NEWCGROUP, "clone(CLONE_NEWCGROUP)"}};
    for (const auto& f : flags) c.fails_with(raw_clone(f.flag), EPERM, f.name);
    // The kernel reads clone flags as 32 bits; upper bits must not hide a flag.
    c.fails_with(raw_clone((1UL << 40) | CLONE_NEWUSER), EPERM, "clone(1 << 40 | CLONE_NEWUSER)");
    c.fails_with(raw_clone(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID), EPERM,
                 "clone(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID)");
    long plain = raw_clone(0);
    c.succeeds(plain, "clone(SIGCHLD)");
    return c.text();
  });
}

void* thread_main(void* arg) { return arg; }

TEST(SeccompFilter, Clone3ReportsEnosysSoThreadsAndSpawnFallBackToClone) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    if (auto e = load_filter(); !e.empty()) return e;
    Checks c;
    c.fails_with(::syscall(SYS_clone3, nullptr, 0), ENOSYS, "clone3");
    pthread_t thread;
    int marker = 42;
    void* result = nullptr;
    int rc = ::pthread_create(&thread, nullptr, thread_main, &marker);
    c.expect(rc == 0, "pthread_create: " + std::to_string(rc));
    if (rc == 0) {
      ::pthread_join(thread, &result);
      c.expect(result == &marker, "thread did not run");
    }
    pid_t pid = 0;
    const char* argv[] = {"/bin/true", nullptr};
    rc = ::posix_spawn(&pid, "/bin/true", nullptr, nullptr, const_cast<char**>(argv), environ);
    c.expect(rc == 0, "posix_spawn(/bin/true): " + std::to_string(rc));
    if (rc == 0) {
      int status = wait_for(pid);
      c.expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "spawned /bin/true failed");
    }
    return c.text();
  });
}

TEST(SeccompFilter, ForkAndExecStillWork) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    if (auto e = load_filter(); !e.empty()) return e;
    Checks c;
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(7);
    int status = wait_for(pid);
    c.expect(WIFEXITED(status) && WEXITSTATUS(status) == 7, "fork: child did not exit 7");
    const char* true_argv[] = {"/bin/true", nullptr};
    status = test_support::run_program("/bin/true", true_argv);
    c.expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "/bin/true did not exit 0");
    const char* sh_argv[] = {"/bin/sh", "-c", "exit 3", nullptr};
    status = test_support::run_program("/bin/sh", sh_argv);
    c.expect(WIFEXITED(status) && WEXITSTATUS(status) == 3, "/bin/sh -c 'exit 3' did not exit 3");
    return c.text();
  });
}

TEST(SeccompFilter, DeniesKernelAttackSurface) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    if (auto e = load_filter(); !e.empty()) return e;
    Checks c;
    c.fails_with(::syscall(SYS_bpf, 0, nullptr, 0), EPERM, "bpf");
    c.fails_with(::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0), EPERM, "perf_event_open");
    io_uring_params params{};
    c.fails_with(close_if_open(::syscall(SYS_io_uring_setup, 1, &params)), EPERM, "io_uring_setup");
    c.fails_with(::syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0), EPERM, "io_uring_enter");
    c.fails_with(close_if_open(::syscall(SYS_userfaultfd, 0)), EPERM, "userfaultfd");
    c.fails_with(::syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0), EPERM, "keyctl");
    c.fails_with(::syscall(SYS_add_key, "user", "agentd-test", "x", 1, -3), EPERM, "add_key");
    c.fails_with(::syscall(SYS_request_key, "user", "agentd-test", nullptr, 0), EPERM,
                 "request_key");
    c.fails_with(::syscall(SYS_init_module, nullptr, 0, ""), EPERM, "init_module");
    c.fails_with(::syscall(SYS_finit_module, -1, "", 0), EPERM, "finit_module");
    c.fails_with(close_if_open(::syscall(SYS_fanotify_init, 0, 0)), EPERM, "fanotify_init");
    return c.text();
  });
}

// Every syscall the filter denies outright, called with arguments that make
// it harmless should the filter let it through (-1 everywhere: bad fds,
// bad pointers, invalid flags and magic numbers). setsid() first so that
// vhangup() has no terminal to hang up.
TEST(SeccompFilter, EveryOutrightDeniedSyscallFailsWithEperm) {
  const auto names = denied_syscall_names();
  for (const char* expected : {"ptrace",
                               "mount",
                               "umount2",
                               "pivot_root",
                               "chroot",
                               "setns",
                               "unshare",
                               "bpf",
                               "perf_event_open",
                               "io_uring_setup",
                               "keyctl",
                               "kexec_load",
                               "init_module",
                               "reboot",
                               "swapon",
                               "userfaultfd",
                               "open_by_handle_at",
                               "fsopen",
                               "syslog",
                               "iopl"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  for (const char* conditional : {"clone", "clone3", "ioctl", "socket", "personality"}) {
    EXPECT_EQ(std::find(names.begin(), names.end(), conditional), names.end()) << conditional;
  }
  AGENTD_EXPECT_CHILD_PASSES([&names] {
    ::setsid();
    if (auto e = load_filter(); !e.empty()) return e;
    Checks c;
    for (const std::string& name : names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      long rc = ::syscall(nr, -1L, -1L, -1L, -1L, -1L, -1L);
      c.fails_with(rc, EPERM, name.c_str());
    }
    return c.text();
  });
}

TEST(SeccompFilter, SocketFamiliesOtherThanUnixAndInetAreRefused) {
  const bool have_inet6 = close_if_open(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0;
  AGENTD_EXPECT_CHILD_PASSES([have_inet6] {
    if (auto e = load_filter(true); !e.empty()) return e;
    Checks c;
    c.succeeds(close_if_open(::socket(AF_UNIX, SOCK_STREAM, 0)), "socket(AF_UNIX)");
    c.succeeds(close_if_open(::socket(AF_INET, SOCK_STREAM, 0)), "socket(AF_INET)");
    if (have_inet6)
      c.succeeds(close_if_open(::socket(AF_INET6, SOCK_DGRAM, 0)), "socket(AF_INET6)");
    const struct {
      long family;
      const char* name;
    } refused[] = {{AF_UNSPEC, "socket(AF_UNSPEC)"},
                   {AF_NETLINK, "socket(AF_NETLINK)"},
                   {AF_PACKET, "socket(AF_PACKET)"},
                   {AF_VSOCK, "socket(AF_VSOCK)"},
                   {AF_ALG, "socket(AF_ALG)"},
                   {AF_KEY, "socket(AF_KEY)"},
                   {AF_BLUETOOTH, "socket(AF_BLUETOOTH)"},
                   {AF_XDP, "socket(AF_XDP)"},
                   {AF_MAX, "socket(AF_MAX)"},
                   {-1, "socket(-1)"},
                   // The kernel reads the family as an int: upper bits must not smuggle one.
                   {(1L << 32) | AF_NETLINK, "socket(1 << 32 | AF_NETLINK)"},
                   {(1L << 32) | AF_UNIX, "socket(1 << 32 | AF_UNIX)"}};
    for (const auto& r : refused) {
      long fd = close_if_open(::syscall(SYS_socket, r.family, SOCK_RAW, 0));
      c.fails_with(fd, EAFNOSUPPORT, r.name);
    }
    int pair[2];
    c.succeeds(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), "socketpair(AF_UNIX)");
    c.fails_with(::socketpair(AF_INET, SOCK_STREAM, 0, pair), EAFNOSUPPORT, "socketpair(AF_INET)");
    c.fails_with(::socketpair(AF_NETLINK, SOCK_RAW, 0, pair), EAFNOSUPPORT,
                 "socketpair(AF_NETLINK)");
    return c.text();
  });
}

TEST(SeccompFilter, InetSocketsRefusedWhenNotAllowed) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    if (auto e = load_filter(false); !e.empty()) return e;
    Checks c;
    c.succeeds(close_if_open(::socket(AF_UNIX, SOCK_DGRAM, 0)), "socket(AF_UNIX)");
    c.fails_with(close_if_open(::socket(AF_INET, SOCK_STREAM, 0)), EAFNOSUPPORT, "socket(AF_INET)");
    c.fails_with(close_if_open(::socket(AF_INET6, SOCK_STREAM, 0)), EAFNOSUPPORT,
                 "socket(AF_INET6)");
    c.fails_with(close_if_open(::socket(AF_NETLINK, SOCK_RAW, 0)), EAFNOSUPPORT,
                 "socket(AF_NETLINK)");
    int pair[2];
    c.succeeds(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), "socketpair(AF_UNIX)");
    return c.text();
  });
}

TEST(SeccompFilter, DeniesTerminalInjection) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    int master = -1, slave = -1;
    if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
      return std::string("SKIP: openpty failed (no /dev/ptmx?)");
    }
    if (auto e = load_filter(); !e.empty()) return e;
    Checks c;
    char ch = 'x';
    c.fails_with(::ioctl(slave, TIOCSTI, &ch), EPERM, "ioctl(slave, TIOCSTI)");
    c.fails_with(::ioctl(master, TIOCSTI, &ch), EPERM, "ioctl(master, TIOCSTI)");
    // The kernel reads the request as 32 bits (the CVE-2019-10063 bypass).
    c.fails_with(::syscall(SYS_ioctl, slave, (1UL << 32) | TIOCSTI, &ch), EPERM,
                 "ioctl(slave, 1 << 32 | TIOCSTI)");
    char subcode = 0;
    c.fails_with(::ioctl(slave, TIOCLINUX, &subcode), EPERM, "ioctl(slave, TIOCLINUX)");
    winsize size{};
    c.succeeds(::ioctl(slave, TIOCGWINSZ, &size), "ioctl(slave, TIOCGWINSZ)");
    return c.text();
  });
}

TEST(SeccompFilter, PersonalityOnlyLinuxOrQuery) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    if (auto e = load_filter(); !e.empty()) return e;
    Checks c;
    c.succeeds(::personality(0xffffffff), "personality(0xffffffff)");
    c.succeeds(::personality(PER_LINUX), "personality(PER_LINUX)");
    c.fails_with(::personality(ADDR_NO_RANDOMIZE), EPERM, "personality(ADDR_NO_RANDOMIZE)");
    c.fails_with(::personality(READ_IMPLIES_EXEC), EPERM, "personality(READ_IMPLIES_EXEC)");
    c.fails_with(::personality(PER_LINUX32), EPERM, "personality(PER_LINUX32)");
    c.fails_with(::syscall(SYS_personality, 1UL << 32), EPERM, "personality(1 << 32)");
    // Every single bit, and every value with a single bit clear.
    for (unsigned bit = 0; bit < 32; ++bit) {
      for (unsigned long value : {1UL << bit, ~(1UL << bit) & 0xffffffffUL}) {
        char what[48];
        std::snprintf(what, sizeof(what), "personality(%#lx)", value);
        long rc = ::syscall(SYS_personality, value);
        c.fails_with(rc, EPERM, what);
      }
    }
    return c.text();
  });
}

TEST(SeccompFilter, DescriptionNamesWhatWasLoaded) {
  AGENTD_EXPECT_CHILD_PASSES([] {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    auto loaded = install_seccomp_filter(SeccompOptions{false});
    if (!loaded) return "install_seccomp_filter: " + loaded.error().message();
    Checks c;
    c.expect(loaded->description.find("socket families: unix (") != std::string::npos, "summary: " + loaded->description);
    c.expect(loaded->description.find("clone3 ENOSYS") != std::string::npos, "summary: " + loaded->description);
    return c.text();
  });
}

TEST(SeccompFilter, LoadingWithoutNoNewPrivsNamesTheCause) {
  if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) GTEST_SKIP() << "no_new_privs already set";
  AGENTD_EXPECT_CHILD_PASSES([] {
    // Without CAP_SYS_ADMIN a filter needs no_new_privs, which is left unset.
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capset, &header, data) != 0) return std::string("capset failed");
    auto loaded = install_seccomp_filter(SeccompOptions{});
    if (loaded) return std::string("the filter loaded without no_new_privs");
    Checks c;
    const std::string message = loaded.error().message();
    c.expect(message.find("seccomp_load") != std::string::npos &&
                 message.find("no_new_privs") != std::string::npos,
             "message: " + message);
    return c.text();
  });
}

#if defined(__x86_64__)
long int80_getpid() {
  long rc;
  __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20 /* i386 getpid */) : "memory");
  return rc;
}

constexpr long kX32SyscallBit = 0x40000000;

TEST(SeccompFilter, X32SyscallsKillTheProcess) {
  auto report = test_support::run_in_child([] {
    if (auto e = load_filter(); !e.empty()) return e;
    long rc = ::syscall(kX32SyscallBit | SYS_getpid);
    return "x32 getpid returned " + std::to_string(rc);
  });
  ASSERT_TRUE(WIFSIGNALED(report.wait_status)) << report.describe() << ": " << report.text;
  EXPECT_EQ(WTERMSIG(report.wait_status), SIGSYS);
}

TEST(SeccompFilter, I386SyscallsKillTheProcess) {
  auto baseline = test_support::run_in_child(
      [] { return int80_getpid() == ::getpid() ? "" : std::string("int 0x80 unavailable"); });
  if (!baseline.exited_zero() || !baseline.text.empty()) {
    GTEST_SKIP() << "kernel without i386 emulation (" << baseline.describe() << ")";
  }
  auto report = test_support::run_in_child([] {
    if (auto e = load_filter(); !e.empty()) return e;
    return "int 0x80 getpid returned " + std::to_string(int80_getpid());
  });
  ASSERT_TRUE(WIFSIGNALED(report.wait_status)) << report.describe() << ": " << report.text;
  EXPECT_EQ(WTERMSIG(report.wait_status), SIGSYS);
}
#endif

}  // namespace
}  // namespace agentd::sandbox::linuxns
