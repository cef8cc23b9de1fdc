#include "sandbox/linux/init_setup.hpp"

#include <fcntl.h>
#include <sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "sandbox/linux/capabilities.hpp"
#include "sandbox/linux/landlock.hpp"
#include "sandbox/linux/seccomp_filter.hpp"

namespace agentd::sandbox::linuxns {

namespace {

// Where the host root is reachable while the new root is assembled.
constexpr const char* kOldRoot = "/oldroot";
constexpr const char* kNewRoot = "/newroot";

struct StepError {
  SetupFailure failure;
};

[[noreturn]] void fail(const std::string& step, const std::string& path) {
  int err = errno;
  std::string message = step + (path.empty() ? "" : "(\"" + path + "\")") + ": " + std::strerror(err);
  throw StepError{{step, err, message}};
}

void check(int rc, const std::string& step, const std::string& path = "") {
  if (rc != 0) fail(step, path);
}

void make_dirs(const std::string& path, int mode = 0755) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) fail("mkdir", prefix);
  }
}

void make_file(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return;  // e.g. a protected file in a read-only bind
  make_dirs(path.substr(0, path.rfind('/')));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 && errno != EEXIST) fail("creating mount point", path);
  if (fd >= 0) ::close(fd);
}

// A read-only remount of a bind must keep the flags the kernel locked on the
// source mount (nosuid, nodev, noexec), or it fails with EPERM in a userns.
unsigned long locked_flags(const std::string& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) return 0;
  unsigned long flags = 0;
  if (vfs.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (vfs.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (vfs.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (vfs.f_flag & ST_RDONLY) flags |= MS_RDONLY;
  return flags;
}

void do_bind(const MountStep& step, const std::string& target) {
  std::string source = std::string(kOldRoot) + step.source;
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) {
    if (step.optional && errno == ENOENT) return;
    fail("stat bind source", step.source);
  }
  if (S_ISDIR(st.st_mode)) {
    make_dirs(target);
  } else {
    make_file(target);
  }
  check(::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr), "bind mount",
        step.source);
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | locked_flags(target);
  if (!step.devices) flags |= MS_NODEV;
  if (step.read_only) flags |= MS_RDONLY;
  check(::mount(nullptr, target.c_str(), nullptr, flags, nullptr), "remount bind", step.target);
}

void do_tmpfs(const MountStep& step, const std::string& target) {
  make_dirs(target);
  char buf[64];
  std::snprintf(buf, sizeof buf, "mode=%o,size=%llu", step.mode,
                static_cast<unsigned long long>(step.size_bytes));
  unsigned long flags = MS_NOSUID | MS_NODEV | (step.read_only ? MS_RDONLY : 0);
  check(::mount("tmpfs", target.c_str(), "tmpfs", flags, buf), "mount tmpfs", step.target);
}

void do_step(const MountStep& step) {
  std::string target = std::string(kNewRoot) + step.target;
  switch (step.kind) {
    case MountStep::Kind::kBind:
      return do_bind(step, target);
    case MountStep::Kind::kTmpfs:
      return do_tmpfs(step, target);
    case MountStep::Kind::kProc:
      make_dirs(target);
      return check(::mount("proc", target.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr),
                   "mount proc", step.target);
    case MountStep::Kind::kDevpts:
      make_dirs(target);
      return check(::mount("devpts", target.c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
                           "newinstance,ptmxmode=0666,mode=620"),
                   "mount devpts", step.target);
    case MountStep::Kind::kSymlink:
      make_dirs(target.substr(0, target.rfind('/')));
      return check(::symlink(step.source.c_str(), target.c_str()), "symlink", step.target);
    case MountStep::Kind::kDir:
      return make_dirs(target, step.mode);
    case MountStep::Kind::kFile: {
      make_dirs(target.substr(0, target.rfind('/')));
      int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, step.mode);
      if (fd < 0) fail("create file", step.target);
      ssize_t n = ::write(fd, step.source.data(), step.source.size());
      ::close(fd);
      if (n != ssize_t(step.source.size())) fail("write file", step.target);
      return;
    }
  }
}

// Moves into a private tmpfs root with the host root at /oldroot, so bind
// sources stay reachable (even those under the host's /tmp) while the new
// root is assembled at /newroot.
void enter_staging_root() {
  check(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make mounts private", "/");
  check(::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=1m"),
        "mount staging tmpfs", "/tmp");
  make_dirs("/tmp/oldroot");
  make_dirs("/tmp/newroot");
  check(::syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot"), "pivot_root", "/tmp");
  check(::chdir("/"), "chdir", "/");
  check(::mount("tmpfs", kNewRoot, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m"),
        "mount root tmpfs", kNewRoot);
}

// Makes /newroot the root and forgets the staging root and the host.
void enter_new_root() {
  check(::umount2(kOldRoot, MNT_DETACH), "umount old root", kOldRoot);
  check(::chdir(kNewRoot), "chdir", kNewRoot);
  check(::syscall(SYS_pivot_root, ".", "."), "pivot_root", kNewRoot);
  check(::umount2(".", MNT_DETACH), "umount staging root", "/");
  check(::chdir("/"), "chdir", "/");
  check(::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                nullptr),
        "remount root read-only", "/");
}

void bring_up_loopback() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket for loopback", "lo");
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  req.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
  int rc = ::ioctl(fd, SIOCSIFFLAGS, &req);
  ::close(fd);
  check(rc, "ioctl(SIOCSIFFLAGS) up", "lo");
}

// The sandbox's only way out with an allowlist: agentd's proxy, reached
// through this listener on the sandbox's own loopback.
base::UniqueFd listen_for_proxy(uint16_t port) {
  base::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) fail("socket for the proxy listener", "127.0.0.1");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "bind proxy listener",
        "127.0.0.1:" + std::to_string(port));
  check(::listen(fd.get(), 128), "listen", "127.0.0.1:" + std::to_string(port));
  return fd;
}

void confine(const SandboxSetup& setup, BuiltSandbox& built) {
  auto& confirmed = built.confirmed;
  check(::prctl(PR_SET_DUMPABLE, 0), "prctl(PR_SET_DUMPABLE)");
  if (auto dropped = drop_all_privileges(); !dropped) {
    errno = dropped.error().code.value();
    throw StepError{{"drop privileges", errno, dropped.error().message()}};
  }
  confirmed.push_back({"noNewPrivs", "prctl(PR_SET_NO_NEW_PRIVS)"});
  confirmed.push_back({"capabilitiesDropped", "bounding, ambient, effective, permitted, inheritable sets emptied; securebits locked"});
  if (setup.landlock) {
    auto report = apply_landlock(setup.landlock_rules);
    if (!report) {
      throw StepError{{"landlock", report.error().code.value(), report.error().message()}};
    }
    confirmed.push_back({"landlock", report->summary});
  }
  if (!setup.seccomp) return;
  auto seccomp = install_seccomp_filter(SeccompOptions{setup.seccomp_allow_inet, setup.seccomp_report});
  if (!seccomp) throw StepError{{"seccomp", seccomp.error().code.value(), seccomp.error().message()}};
  confirmed.push_back({"seccomp", seccomp->description});
  built.seccomp_listener = std::move(seccomp->listener);
}

}  // namespace

std::variant<BuiltSandbox, SetupFailure> build_sandbox(const SandboxSetup& setup) {
  BuiltSandbox built;
  auto& confirmed = built.confirmed;
  try {
    if (setup.cgroup_namespace) {
      check(::unshare(CLONE_NEWCGROUP), "unshare(CLONE_NEWCGROUP)");
      confirmed.push_back({"cgroupNamespace", "unshare(CLONE_NEWCGROUP) inside the sandbox's cgroup"});
    }
    enter_staging_root();
    for (const auto& step : setup.mounts) do_step(step);
    enter_new_root();
    confirmed.push_back({"pivotRoot", "private tmpfs root, host root detached"});
    confirmed.push_back({"filesystem", "read-only system binds; writable: " + setup.workdir + ", /tmp"});
    check(::sethostname(setup.hostname.data(), setup.hostname.size()), "sethostname");
    if (setup.own_network) {
      bring_up_loopback();
      confirmed.push_back({"network", "own network namespace, loopback only"});
    }
    if (setup.proxy_port) built.proxy_listener = listen_for_proxy(setup.proxy_port);
    check(::chdir(setup.workdir.c_str()), "chdir", setup.workdir);
    confine(setup, built);
  } catch (const StepError& e) {
    return e.failure;
  }
  return built;
}

}  // namespace agentd::sandbox::linuxns
