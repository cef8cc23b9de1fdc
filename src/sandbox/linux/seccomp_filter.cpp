#include "sandbox/linux/seccomp_filter.hpp"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <cstdlib>
#include <memory>

namespace agentd::sandbox::linuxns {
namespace {

// Syscalls that fail with EPERM whatever their arguments. The filter allows
// by default (agents run arbitrary toolchains), so this list is the boundary
// seccomp adds on top of namespaces, Landlock and the empty capability sets.
constexpr std::array kDeniedOutright = {
    // Reading or steering other processes.
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise", "kcmp",
    // Mounts, root changes and namespaces: the sandbox's own are set up before the filter.
    "mount", "umount", "umount2", "pivot_root", "chroot", "setns", "unshare", "mount_setattr",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    // File handles open files by inode, bypassing path checks ("shocker").
    "open_by_handle_at", "name_to_handle_at",
    // Kernel attack surface; io_uring also bypasses per-syscall filtering.
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "fanotify_init", "lookup_dcookie",
    "modify_ldt", "uselib", "_sysctl",
    // State of the whole machine.
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "settimeofday", "stime",
    "clock_settime", "adjtimex", "clock_adjtime", "syslog", "vhangup", "iopl", "ioperm",
    // Obsolete; mostly ENOSYS already.
    "nfsservctl", "create_module", "get_kernel_syms", "query_module", "vm86", "vm86old"};

// clone() flags that create namespaces. CLONE_NEWTIME is absent on purpose:
// for clone() its bit (0x80) lies in CSIGNAL, the exit signal.
constexpr std::array<uint64_t, 7> kCloneNamespaceFlags = {
    CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
    CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET};

constexpr uint64_t kLow32 = 0xffffffffULL;

struct ReleaseFilter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using FilterPtr = std::unique_ptr<void, ReleaseFilter>;

// Number of `name` on the native architecture, or -1 when it has none there.
int native_syscall(const char* name) {
  int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, name);
  return nr < 0 ? -1 : nr;
}

base::Status libseccomp_error(const std::string& step, int rc) {
  return base::errno_error(step, -rc);
}

base::Status add_rule(scmp_filter_ctx ctx, uint32_t action, const char* name,
                      std::initializer_list<scmp_arg_cmp> args = {}) {
  int nr = native_syscall(name);
  if (nr < 0) return {};
  int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(args.size()),
                                  args.size() ? args.begin() : nullptr);
  if (rc < 0) return libseccomp_error(std::string("seccomp_rule_add(") + name + ")", rc);
  return {};
}

base::Status set_attributes(scmp_filter_ctx ctx) {
  struct Attr {
    scmp_filter_attr attr;
    uint32_t value;
    const char* name;
  };
  const Attr attrs[] = {
      // Another ABI (i386 via int 0x80, x32 on x86_64) would see none of the rules.
      {SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS, "SCMP_FLTATR_ACT_BADARCH"},
      // The caller sets no_new_privs itself, first; loading then fails (EACCES)
      // rather than setting it behind the caller's back.
      {SCMP_FLTATR_CTL_NNP, 0, "SCMP_FLTATR_CTL_NNP"},
      {SCMP_FLTATR_API_SYSRAWRC, 1, "SCMP_FLTATR_API_SYSRAWRC"},
      // A binary tree keeps allowed syscalls cheap despite the long deny list.
      {SCMP_FLTATR_CTL_OPTIMIZE, 2, "SCMP_FLTATR_CTL_OPTIMIZE"},
  };
  for (const Attr& a : attrs) {
    int rc = seccomp_attr_set(ctx, a.attr, a.value);
    if (rc < 0) return libseccomp_error(std::string("seccomp_attr_set(") + a.name + ")", rc);
  }
  return {};
}

// How a denial is delivered: straight from the kernel, or through the
// supervisor, which answers with the same errno and reports it.
uint32_t deny_action(const SeccompOptions& options, int error) {
  return options.report_violations ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(error);
}

base::Status add_outright_denials(scmp_filter_ctx ctx, uint32_t action) {
  for (const char* name : kDeniedOutright) {
    if (auto s = add_rule(ctx, action, name); !s) return s;
  }
  return {};
}

// clone() with any namespace flag fails; plain fork/thread creation works.
// clone3() passes its flags in memory seccomp cannot read, so it reports
// ENOSYS and glibc (>= 2.34) falls back to clone().
base::Status add_clone_rules(scmp_filter_ctx ctx, uint32_t action) {
  for (uint64_t flag : kCloneNamespaceFlags) {
    auto s = add_rule(ctx, action, "clone", {SCMP_A0_64(SCMP_CMP_MASKED_EQ, flag, flag)});
    if (!s) return s;
  }
  return add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3");
}

// personality() is allowed for PER_LINUX (0) and the query 0xffffffff only.
// libseccomp takes one comparison per argument and rule, so "low 32 bits
// neither all zero nor all one" is spelled as 32 rules: some bit i is 1 while
// bit i+1 (cyclically) is 0. Values above 32 bits are refused as well.
base::Status add_personality_rules(scmp_filter_ctx ctx, uint32_t action) {
  auto s = add_rule(ctx, action, "personality", {SCMP_A0_64(SCMP_CMP_GT, kLow32)});
  for (unsigned bit = 0; s && bit < 32; ++bit) {
    uint64_t one = 1ULL << bit;
    uint64_t next = 1ULL << ((bit + 1) % 32);
    s = add_rule(ctx, action, "personality", {SCMP_A0_64(SCMP_CMP_MASKED_EQ, one | next, one)});
  }
  return s;
}

// Terminal injection. The kernel reads the command as 32 bits, so the rule
// masks the upper half (else TIOCSTI | 1 << 32 slips through).
base::Status add_ioctl_rules(scmp_filter_ctx ctx, uint32_t action) {
  for (uint64_t request : {uint64_t{TIOCSTI}, uint64_t{TIOCLINUX}}) {
    auto s = add_rule(ctx, action, "ioctl",
                      {SCMP_A1_64(SCMP_CMP_MASKED_EQ, kLow32, request)});
    if (!s) return s;
  }
  return {};
}

// prlimit64 on another process: every process of a sandbox has the same
// uid, so the kernel would let one lower the limits of the sandbox's PID 1
// (starving it of descriptors). Only the caller's own limits (pid 0) may change.
base::Status add_prlimit_rules(scmp_filter_ctx ctx, uint32_t action) {
  return add_rule(ctx, action, "prlimit64", {SCMP_A0_64(SCMP_CMP_NE, 0)});
}

// Deny `call` (socket or socketpair) for every first argument except the
// values of `allowed`, with `action`, or quietly (EAFNOSUPPORT straight from
// the kernel, never reported) for the values of `quiet`. A value with bits
// above 32 set is refused too, even if the kernel would truncate it to an
// allowed family.
base::Status deny_families_except(scmp_filter_ctx ctx, uint32_t action, const char* call,
                                  std::initializer_list<uint64_t> allowed,
                                  std::initializer_list<uint64_t> quiet = {}) {
  auto in = [](std::initializer_list<uint64_t> list, uint64_t v) {
    return std::find(list.begin(), list.end(), v) != list.end();
  };
  uint64_t past = std::max(allowed.size() ? std::max(allowed) : 0, quiet.size() ? std::max(quiet) : 0) + 1;
  for (uint64_t v = 0; v < past; ++v) {
    if (in(allowed, v)) continue;
    uint32_t how = in(quiet, v) ? SCMP_ACT_ERRNO(EAFNOSUPPORT) : action;
    if (auto s = add_rule(ctx, how, call, {SCMP_A0_64(SCMP_CMP_EQ, v)}); !s) return s;
  }
  return add_rule(ctx, action, call, {SCMP_A0_64(SCMP_CMP_GE, past)});
}

// glibc's getaddrinfo (AI_ADDRCONFIG) opens a netlink socket on every name
// lookup: refused like any other family, but not reported, or each lookup of
// curl, npm or pip would read as an attack.
base::Status add_socket_rules(scmp_filter_ctx ctx, const SeccompOptions& options) {
  uint32_t action = deny_action(options, EAFNOSUPPORT);
  auto s = options.allow_inet_sockets
               ? deny_families_except(ctx, action, "socket", {AF_UNIX, AF_INET, AF_INET6}, {AF_NETLINK})
               : deny_families_except(ctx, action, "socket", {AF_UNIX}, {AF_NETLINK});
  if (!s) return s;
  return deny_families_except(ctx, action, "socketpair", {AF_UNIX});
}

std::string native_arch_name() {
  struct utsname u {};
  return ::uname(&u) == 0 ? u.machine : "native";
}

std::string describe(const SeccompOptions& options) {
  std::string absent;
  for (const char* name : kDeniedOutright) {
    if (native_syscall(name) < 0) absent += std::string(absent.empty() ? "" : ", ") + name;
  }
  std::string text =
      "seccomp: " + native_arch_name() + " only (other ABIs killed), " +
      std::to_string(denied_syscall_names().size()) +
      " syscalls EPERM, clone namespace flags EPERM, clone3 ENOSYS, personality "
      "other than PER_LINUX EPERM, ioctl TIOCSTI/TIOCLINUX EPERM, prlimit64 of another "
      "process EPERM, socket families: " +
      (options.allow_inet_sockets ? "unix, inet, inet6" : "unix") + " (others EAFNOSUPPORT)";
  if (!absent.empty()) text += "; not on this architecture: " + absent;
  if (options.report_violations) text += "; each denial reported through a user-notification listener";
  return text;
}

}  // namespace

base::Result<SeccompInstalled> install_seccomp_filter(const SeccompOptions& options) {
  FilterPtr filter(seccomp_init(SCMP_ACT_ALLOW));
  if (!filter) return base::plain_error("seccomp_init: failed (out of memory?)");
  scmp_filter_ctx ctx = filter.get();
  uint32_t eperm = deny_action(options, EPERM);
  if (auto s = set_attributes(ctx); !s) return s.error();
  if (auto s = add_outright_denials(ctx, eperm); !s) return s.error();
  if (auto s = add_clone_rules(ctx, eperm); !s) return s.error();
  if (auto s = add_personality_rules(ctx, eperm); !s) return s.error();
  if (auto s = add_ioctl_rules(ctx, eperm); !s) return s.error();
  if (auto s = add_prlimit_rules(ctx, eperm); !s) return s.error();
  if (auto s = add_socket_rules(ctx, options); !s) return s.error();
  if (int rc = seccomp_load(ctx); rc < 0) {
    // EACCES: neither no_new_privs nor CAP_SYS_ADMIN (SCMP_FLTATR_CTL_NNP is off).
    const char* step = rc == -EACCES ? "seccomp_load (no_new_privs is not set)" : "seccomp_load";
    return base::errno_error(step, -rc);
  }
  SeccompInstalled installed{describe(options), {}};
  if (options.report_violations) {
    int fd = seccomp_notify_fd(ctx);
    if (fd < 0) return base::plain_error("seccomp_notify_fd: the filter has no listener");
    installed.listener.reset(fd);
  }
  return installed;
}

bool notify_supported() {
  std::ifstream actions("/proc/sys/kernel/seccomp/actions_avail");
  std::string list;
  std::getline(actions, list);
  return list.find("user_notif") != std::string::npos && seccomp_api_get() >= 5;
}

int denial_errno(int syscall_nr) {
  bool socket_call = syscall_nr == native_syscall("socket") || syscall_nr == native_syscall("socketpair");
  return socket_call ? EAFNOSUPPORT : EPERM;
}

std::string syscall_name(int syscall_nr) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, syscall_nr);
  if (!name) return "syscall " + std::to_string(syscall_nr);
  std::string out = name;
  ::free(name);
  return out;
}

std::vector<std::string> denied_syscall_names() {
  std::vector<std::string> names;
  for (const char* name : kDeniedOutright) {
    if (native_syscall(name) >= 0) names.emplace_back(name);
  }
  return names;
}

}  // namespace agentd::sandbox::linuxns
