#include "sandbox/linux_backend.hpp"

#include <linux/landlock.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace agentd::sandbox {

namespace {

// Runs `fn` in a forked child and returns its errno (0 on success), so a
// probe that changes the process (unshare) leaves agentd untouched.
int errno_in_child(int (*fn)()) {
  pid_t pid = ::fork();
  if (pid < 0) return errno;
  if (pid == 0) ::_exit(fn() == 0 ? 0 : (errno & 0x7f));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : EINVAL;
}

FeatureState probe_namespace(const char* name, int flag) {
  static int s_flag;
  s_flag = flag;
  int err = errno_in_child([]() -> int {
    return ::unshare(CLONE_NEWUSER) == 0 && (s_flag == CLONE_NEWUSER || ::unshare(s_flag) == 0)
               ? 0
               : -1;
  });
  if (err == 0) return available(name, "unshare() succeeded in a probe process");
  std::string reason = std::string("unshare failed: ") + std::strerror(err);
  if (err == EPERM || err == EACCES || err == ENOSPC) {
    reason += " (user namespaces restricted: check kernel.unprivileged_userns_clone, "
              "user.max_user_namespaces, or AppArmor's apparmor_restrict_unprivileged_userns)";
  }
  return unavailable(name, reason);
}

FeatureState probe_landlock() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi > 0) return available("landlock", "Landlock ABI " + std::to_string(abi));
  return unavailable("landlock", std::string("landlock_create_ruleset: ") + std::strerror(errno) +
                                     " (needs Linux >= 5.13 with CONFIG_SECURITY_LANDLOCK and "
                                     "landlock in the lsm= boot list)");
}

FeatureState probe_seccomp() {
  if (::prctl(PR_GET_SECCOMP) < 0) {
    return unavailable("seccomp", std::string("prctl(PR_GET_SECCOMP): ") + std::strerror(errno));
  }
  std::ifstream actions("/proc/sys/kernel/seccomp/actions_avail");
  std::string list;
  std::getline(actions, list);
  if (list.find("errno") == std::string::npos) {
    return unavailable("seccomp", "the kernel lists no seccomp filter actions");
  }
  return available("seccomp", "seccomp-bpf (actions: " + list + ")");
}

FeatureState probe_cgroups() {
  struct statfs fs {};
  if (::statfs("/sys/fs/cgroup", &fs) != 0) {
    return unavailable("cgroups", std::string("statfs(/sys/fs/cgroup): ") + std::strerror(errno));
  }
  if (fs.f_type == CGROUP2_SUPER_MAGIC) return available("cgroups", "cgroup v2 (unified)");
  std::string v1;
  for (const char* controller : {"memory", "pids", "cpu", "freezer"}) {
    if (::access((std::string("/sys/fs/cgroup/") + controller).c_str(), F_OK) == 0) {
      v1 += v1.empty() ? controller : std::string(",") + controller;
    }
  }
  if (v1.empty()) return unavailable("cgroups", "no cgroup v2 and no v1 controllers mounted");
  return available("cgroups", "cgroup v1 controllers: " + v1);
}

}  // namespace

std::vector<FeatureState> probe_linux_features() {
  return {
      probe_namespace("userNamespace", CLONE_NEWUSER),
      probe_namespace("mountNamespace", CLONE_NEWNS),
      probe_namespace("pidNamespace", CLONE_NEWPID),
      probe_namespace("netNamespace", CLONE_NEWNET),
      probe_namespace("ipcNamespace", CLONE_NEWIPC),
      probe_namespace("utsNamespace", CLONE_NEWUTS),
      probe_namespace("cgroupNamespace", CLONE_NEWCGROUP),
      probe_landlock(),
      probe_seccomp(),
      probe_cgroups(),
  };
}

LinuxBackend::LinuxBackend() {
  info_.name = "linux";
  info_.isolation = "linux";
  info_.available = false;
  info_.reason =
      "the linux backend (namespaces, pivot_root, Landlock, seccomp, cgroups) is not part of this "
      "build yet; the features below are what this kernel offers";
  info_.features = probe_linux_features();
}

std::variant<std::unique_ptr<Sandbox>, CreateError> LinuxBackend::create(const policy::SandboxSpec&,
                                                                         const std::string&) {
  CreateError error;
  error.kind = CreateError::Kind::kIsolationUnavailable;
  error.feature = "isolation.linux";
  error.message = "isolation \"linux\" is unavailable: " + info_.reason;
  error.fix = "pass isolation \"none\" explicitly to run without isolation (host-direct)";
  return error;
}

}  // namespace agentd::sandbox
