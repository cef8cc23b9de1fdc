// Syscalls a sandbox must refuse: namespaces and mounts, kernel attack
// surface, machine state. Each is called with arguments that are harmless
// even where it is allowed (a bogus reboot magic, a file system type that
// does not exist), so that "reached the kernel" is observable without harm:
// only EPERM, EACCES or ENOSYS count as blocked; success or any other errno
// means the call got past the sandbox's filters and is reported as escaped.
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <sys/quota.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "attack.hpp"

namespace attack {

namespace {

constexpr unsigned long kCloneNewUser = 0x10000000;
constexpr unsigned long kCloneNewNs = 0x00020000;
constexpr unsigned long kCloneNewNet = 0x40000000;
constexpr unsigned long kCloneNewPid = 0x20000000;
constexpr unsigned long kCloneNewIpc = 0x08000000;
constexpr unsigned long kCloneNewUts = 0x04000000;
constexpr unsigned long kCloneNewCgroup = 0x02000000;
constexpr unsigned long kCloneNewTime = 0x00000080;
constexpr unsigned kOpenTreeClone = 1;

// struct clone_args of <linux/sched.h> (not included: it clashes with <sched.h>).
struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

// A child that got created ends at once; the parent only learns it existed.
long reap_if_child(long rc) {
  if (rc == 0) ::_exit(0);
  if (rc > 0) ::waitpid(pid_t(rc), nullptr, 0);
  return rc;
}

long clone_with(unsigned long flags) {
  return reap_if_child(::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0));
}

long clone3_with(unsigned long flags) {
  CloneArgs args{};
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  return reap_if_child(::syscall(SYS_clone3, &args, sizeof args));
}

long setns_to(const char* path, int type) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long rc = ::syscall(SYS_setns, fd, type);
  int err = errno;
  ::close(fd);
  errno = err;
  return rc;
}

long bpf_map_create() {
  bpf_attr attr{};
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  return ::syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
}

long perf_event_open() {
  perf_event_attr attr{};
  attr.type = PERF_TYPE_SOFTWARE;
  attr.size = sizeof attr;
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  return ::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

long io_uring_setup() {
  io_uring_params params{};
  return ::syscall(SYS_io_uring_setup, 1, &params);
}

// The "shocker" attack: open the root inode of the file system by handle.
long open_by_handle() {
  struct {
    unsigned int handle_bytes;
    int handle_type;
    uint32_t ino_gen[2];
  } handle{8, 1 /* FILEID_INO32_GEN */, {2, 0}};
  int root = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  long rc = ::syscall(SYS_open_by_handle_at, root, &handle, O_RDONLY | O_CLOEXEC);
  int err = errno;
  ::close(root);
  errno = err;
  return rc;
}

long name_to_handle() {
  struct {
    unsigned int handle_bytes;
    int handle_type;
    unsigned char bytes[128];
  } handle{128, 0, {}};
  int mount_id = 0;
  return ::syscall(SYS_name_to_handle_at, AT_FDCWD, ".", &handle, &mount_id, 0);
}

long process_vm_writev_self() {
  char from[8] = "agentd", to[8] = {};
  iovec local{from, sizeof from}, remote{to, sizeof to};
  return ::syscall(SYS_process_vm_writev, ::getpid(), &local, 1, &remote, 1, 0);
}

long capset_all() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  for (auto& d : data) d = {~0u, ~0u, ~0u};
  return ::syscall(SYS_capset, &header, data);
}

long settimeofday_invalid() {
  timeval tv{0, 2000000};  // tv_usec out of range: refused before any change
  return ::syscall(SYS_settimeofday, &tv, nullptr);
}

long clock_settime_invalid() {
  timespec ts{0, -1};
  return ::syscall(SYS_clock_settime, CLOCK_REALTIME, &ts);
}

long adjtimex_read() {
  timex tx{};
  return ::syscall(SYS_adjtimex, &tx);
}

struct Probe {
  const char* name;
  long (*call)();
};

const Probe kProbes[] = {
    // Namespaces, mounts, root changes.
    {"unshare-user", [] { return ::syscall(SYS_unshare, kCloneNewUser); }},
    {"unshare-mount", [] { return ::syscall(SYS_unshare, kCloneNewNs); }},
    {"unshare-net", [] { return ::syscall(SYS_unshare, kCloneNewNet); }},
    {"unshare-pid", [] { return ::syscall(SYS_unshare, kCloneNewPid); }},
    {"unshare-ipc", [] { return ::syscall(SYS_unshare, kCloneNewIpc); }},
    {"unshare-uts", [] { return ::syscall(SYS_unshare, kCloneNewUts); }},
    {"unshare-cgroup", [] { return ::syscall(SYS_unshare, kCloneNewCgroup); }},
    {"unshare-time", [] { return ::syscall(SYS_unshare, kCloneNewTime); }},
    {"clone-newuser", [] { return clone_with(kCloneNewUser); }},
    {"clone-newns", [] { return clone_with(kCloneNewNs); }},
    {"clone-newnet", [] { return clone_with(kCloneNewNet); }},
    {"clone3-newuser", [] { return clone3_with(kCloneNewUser); }},
    {"setns-net", [] { return setns_to("/proc/self/ns/net", kCloneNewNet); }},
    {"setns-mnt", [] { return setns_to("/proc/self/ns/mnt", kCloneNewNs); }},
    {"setns-user", [] { return setns_to("/proc/self/ns/user", kCloneNewUser); }},
    {"mount", [] { return ::syscall(SYS_mount, "none", ".", "agentd-no-such-fs", 0, nullptr); }},
    {"umount2", [] { return ::syscall(SYS_umount2, ".", 0); }},
    {"pivot_root", [] { return ::syscall(SYS_pivot_root, ".", "."); }},
    {"chroot", [] { return ::syscall(SYS_chroot, "."); }},
    {"open_tree", [] { return ::syscall(SYS_open_tree, AT_FDCWD, "/", kOpenTreeClone); }},
    {"fsopen", [] { return ::syscall(SYS_fsopen, "tmpfs", 0); }},
    {"fspick", [] { return ::syscall(SYS_fspick, AT_FDCWD, "/", 0); }},
    {"fsconfig", [] { return ::syscall(SYS_fsconfig, -1, 0, nullptr, nullptr, 0); }},
    {"fsmount", [] { return ::syscall(SYS_fsmount, -1, 0, 0); }},
    {"move_mount", [] { return ::syscall(SYS_move_mount, -1, "", -1, "", 0); }},
    {"mount_setattr", [] { return ::syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0); }},
    {"open_by_handle_at", open_by_handle},
    {"name_to_handle_at", name_to_handle},
    // Kernel attack surface.
    {"bpf", bpf_map_create},
    {"perf_event_open", perf_event_open},
    {"userfaultfd", [] { return ::syscall(SYS_userfaultfd, O_CLOEXEC); }},
    {"io_uring_setup", io_uring_setup},
    {"io_uring_enter", [] { return ::syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0); }},
    {"io_uring_register", [] { return ::syscall(SYS_io_uring_register, -1, 0, nullptr, 0); }},
    {"keyctl",
     [] { return ::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0); }},
    {"add_key",
     [] {
       return ::syscall(SYS_add_key, "user", "agentd-attack", "x", 1, KEY_SPEC_PROCESS_KEYRING);
     }},
    {"request_key",
     [] { return ::syscall(SYS_request_key, "user", "agentd-attack-none", nullptr, 0); }},
    {"fanotify_init",
     [] { return ::syscall(SYS_fanotify_init, 0 /* FAN_CLASS_NOTIF */, O_RDONLY); }},
    {"ptrace-traceme", [] { return ::syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0); }},
    {"process_vm_writev", process_vm_writev_self},
    {"kcmp", [] { return ::syscall(SYS_kcmp, ::getpid(), ::getpid(), KCMP_FILE, 0, 0); }},
    {"personality", [] { return ::syscall(SYS_personality, 0x0400000 /* READ_IMPLIES_EXEC */); }},
    {"capset", capset_all},
#ifdef __x86_64__
    {"modify_ldt",
     [] {
       static char buf[16];
       return ::syscall(SYS_modify_ldt, 0, buf, sizeof buf);
     }},
    {"iopl", [] { return ::syscall(SYS_iopl, 0); }},
    {"ioperm", [] { return ::syscall(SYS_ioperm, 0x80, 1, 0); }},
#endif
    // State of the whole machine.
    {"kexec_load", [] { return ::syscall(SYS_kexec_load, 0, 0, nullptr, 0x7fff0000UL); }},
    {"kexec_file_load", [] { return ::syscall(SYS_kexec_file_load, -1, -1, 0, nullptr, 0); }},
    {"init_module", [] { return ::syscall(SYS_init_module, nullptr, 0, ""); }},
    {"finit_module", [] { return ::syscall(SYS_finit_module, -1, "", 0); }},
    {"delete_module",
     [] { return ::syscall(SYS_delete_module, "agentd_no_such_module", O_NONBLOCK); }},
    {"reboot", [] { return ::syscall(SYS_reboot, 0, 0, 0, nullptr); }},
    {"swapon", [] { return ::syscall(SYS_swapon, "/nonexistent-agentd-swap", 0); }},
    {"swapoff", [] { return ::syscall(SYS_swapoff, "/nonexistent-agentd-swap"); }},
    {"acct", [] { return ::syscall(SYS_acct, "/nonexistent-agentd/acct"); }},
    {"quotactl",
     [] {
       return ::syscall(SYS_quotactl, QCMD(Q_GETFMT, USRQUOTA), "/dev/no-such-agentd-dev", 0,
                        nullptr);
     }},
    {"syslog",
     [] { return ::syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, nullptr, 0); }},
    {"settimeofday", settimeofday_invalid},
    {"clock_settime", clock_settime_invalid},
    {"adjtimex", adjtimex_read},
    {"sethostname", [] { return ::syscall(SYS_sethostname, "agentd-pwned", 12); }},
};

// syscall NAME: calls one of the probes above.
void run_syscall(const Args& args) {
  for (const Probe& probe : kProbes) {
    if (args[0] != probe.name) continue;
    errno = 0;
    long rc = probe.call();
    int err = errno;
    if (rc >= 0) escaped(args[0] + " succeeded (returned " + std::to_string(rc) + ")");
    if (err == EPERM || err == EACCES || err == ENOSYS) blocked(err, args[0] + " refused");
    escaped(args[0] + " reached the kernel: it failed only on its arguments", err);
  }
  usage_error("unknown syscall probe " + args[0]);
}

// abi-bypass i386|x32: unshare(CLONE_NEWUSER) through another syscall ABI
// of the same kernel, which a filter written for x86_64 numbers would miss.
// A sandbox kills the process (SIGSYS): being killed is the containment.
void abi_bypass(const Args& args) {
#ifdef __x86_64__
  long rc;
  if (args[0] == "i386") {
    long nr = 310;  // unshare in the i386 table
    asm volatile("int $0x80" : "=a"(rc) : "a"(nr), "b"(kCloneNewUser) : "memory");
  } else if (args[0] == "x32") {
    rc = ::syscall(0x40000000L | SYS_unshare, kCloneNewUser);
    rc = rc < 0 ? -errno : rc;
  } else {
    usage_error("abi must be i386 or x32");
  }
  if (rc == 0) escaped("unshare(CLONE_NEWUSER) through the " + args[0] + " ABI succeeded");
  int err = int(-rc);
  if (err == EPERM || err == EACCES || err == ENOSYS) blocked(err, args[0] + " unshare refused");
  escaped(args[0] + " unshare reached the kernel", err);
#else
  usage_error("abi-bypass needs x86_64");
#endif
}

// syscall-list: the names run_syscall knows, for the test's table.
void syscall_list(const Args&) {
  std::string names;
  for (const Probe& probe : kProbes) names += std::string(probe.name) + " ";
  done(names);
}

}  // namespace

const std::vector<Command>& syscall_commands() {
  static const std::vector<Command> commands = {
      {"syscall", "NAME (see syscall-list)", 1, run_syscall},
      {"syscall-list", "", 0, syscall_list},
      {"abi-bypass", "i386|x32", 1, abi_bypass},
  };
  return commands;
}

}  // namespace attack
