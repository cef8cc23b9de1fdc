// Process and privilege attacks: ptrace, process_vm_readv, pidfd_getfd and
// signals against processes outside, capabilities after exec, terminal
// injection, inherited descriptors and environment, escaping a timeout.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "attack.hpp"

namespace attack {

namespace {

// caps: escaped when any capability set is non-empty, no_new_privs is off
// or no seccomp filter is installed.
void caps(const Args&) {
  std::ifstream status("/proc/self/status");
  std::string summary;
  bool bad = false;
  for (std::string line; std::getline(status, line);) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (key.rfind("Cap", 0) == 0) {
      if (value.find_first_not_of('0') != std::string::npos) bad = true;
    } else if (key == "NoNewPrivs") {
      if (value != "1") bad = true;
    } else if (key == "Seccomp") {
      if (value != "2") bad = true;
    } else if (key != "Uid" && key != "Gid") {
      continue;
    }
    summary += key + "=" + value + " ";
  }
  if (summary.empty()) usage_error("cannot read /proc/self/status");
  summary += "euid=" + std::to_string(::geteuid());
  if (bad) escaped(summary);
  blocked(0, summary);
}

// ptrace-pid PID: escaped when PTRACE_SEIZE succeeds.
void ptrace_pid(const Args& args) {
  pid_t pid = pid_t(parse_number(args[0]));
  if (::ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) != 0) {
    blocked(errno, "ptrace(PTRACE_SEIZE, " + args[0] + ")");
  }
  escaped("seized pid " + args[0] + " with ptrace");
}

// ptrace-child: ptrace of our own child, which no ptrace rule would stop.
void ptrace_child(const Args&) {
  pid_t child = ::fork();
  if (child < 0) usage_error("fork: " + errno_name(errno));
  if (child == 0) {
    for (;;) ::pause();
  }
  long rc = ::ptrace(PTRACE_ATTACH, child, nullptr, nullptr);
  int err = errno;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  if (rc != 0) blocked(err, "ptrace(PTRACE_ATTACH, own child)");
  escaped("attached to own child with ptrace");
}

// vm-read PID ADDRESS LENGTH [EXPECTED]: process_vm_readv of another process.
void vm_read(const Args& args) {
  pid_t pid = pid_t(parse_number(args[0]));
  std::string buf(size_t(parse_number(args[2])), '\0');
  iovec local{buf.data(), buf.size()};
  iovec remote{reinterpret_cast<void*>(uintptr_t(parse_number(args[1]))), buf.size()};
  ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n < 0) blocked(errno, "process_vm_readv(" + args[0] + ")");
  buf.resize(size_t(n));
  bool match = args.size() > 3 && buf.find(args[3]) != std::string::npos;
  escaped("read " + std::to_string(n) + " bytes of pid " + args[0] +
          (match ? " (the expected token)" : ""));
}

// pidfd-getfd PID FD: steal a descriptor of another process.
void pidfd_getfd(const Args& args) {
  long pidfd = ::syscall(SYS_pidfd_open, pid_t(parse_number(args[0])), 0);
  if (pidfd < 0) blocked(errno, "pidfd_open(" + args[0] + ")");
  long fd = ::syscall(SYS_pidfd_getfd, int(pidfd), int(parse_number(args[1])), 0);
  if (fd < 0) blocked(errno, "pidfd_getfd(" + args[0] + ", " + args[1] + ")");
  char target[256] = {};
  std::string self = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(self.c_str(), target, sizeof target - 1);
  escaped("got fd " + args[1] + " of pid " + args[0] + ": " + (n > 0 ? target : "?"));
}

// kill-pid PID [SIGNAL]: escaped when the signal is delivered.
void kill_pid(const Args& args) {
  int sig = args.size() > 1 ? int(parse_number(args[1])) : SIGKILL;
  if (::kill(pid_t(parse_number(args[0])), sig) != 0) blocked(errno, "kill(" + args[0] + ")");
  escaped("signal " + std::to_string(sig) + " delivered to pid " + args[0]);
}

// kill-all: kill(-1, SIGKILL); the test judges who died.
void kill_all(const Args&) {
  require_pid_namespace("kill -9 -1");
  int rc = ::kill(-1, SIGKILL);
  done("kill(-1, SIGKILL) = " + std::to_string(rc) + " " + errno_name(rc ? errno : 0));
}

// signal-init: every fatal or stopping signal at PID 1; the test checks
// that the init still serves execs afterwards.
void signal_init(const Args&) {
  std::string results;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSEGV, SIGUSR1, SIGPIPE, SIGSTOP, SIGKILL}) {
    int rc = ::kill(1, sig);
    results += std::string(sigabbrev_np(sig)) + "=" + (rc == 0 ? "sent" : errno_name(errno)) + " ";
  }
  done(results);
}

// prlimit-init: lower the init's descriptor limit, so it can no longer
// receive the stdio of a new exec.
void prlimit_init(const Args&) {
  rlimit tiny{4, 4};
  if (::prlimit(1, RLIMIT_NOFILE, &tiny, nullptr) != 0) blocked(errno, "prlimit(1, RLIMIT_NOFILE)");
  escaped("set RLIMIT_NOFILE of pid 1 to 4");
}

std::string comm_of(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// find-procs COMM: escaped when a process named COMM is visible.
void find_procs(const Args& args) {
  DIR* proc = ::opendir("/proc");
  if (!proc) usage_error("opendir /proc: " + errno_name(errno));
  std::string found;
  int seen = 0;
  std::string self = std::to_string(::getpid());
  while (dirent* entry = ::readdir(proc)) {
    std::string pid = entry->d_name;
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid == self) continue;
    ++seen;
    if (comm_of(pid) == args[0]) found += pid + ",";
  }
  ::closedir(proc);
  if (!found.empty()) escaped("processes named " + args[0] + ": " + found);
  blocked(ESRCH, "no process named " + args[0] + " among " + std::to_string(seen));
}

// victim COMM [ABSTRACT-NAME]: a target for other attacks. Names itself,
// optionally listens on an abstract unix socket, says READY, sleeps.
void victim(const Args& args) {
  ::prctl(PR_SET_NAME, args[0].c_str());
  if (args.size() > 1) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, args[1].data(),
                std::min(args[1].size(), sizeof addr.sun_path - 2));
    socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + args[1].size());
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd, 8) != 0) {
      broken("abstract socket " + args[1], errno);
    }
  }
  std::printf("READY pid=%d\n", int(::getpid()));
  std::fflush(stdout);
  for (;;) ::pause();
}

// The TIOCSTI attempts: an inherited tty, the controlling tty, a pty.
int try_tiocsti(int fd, unsigned long request) {
  char c = '#';
  return ::syscall(SYS_ioctl, fd, request, &c) == 0 ? 0 : errno;
}

void tiocsti(const Args&) {
  std::string tried;
  bool unfiltered = false;  // a tty refused TIOCSTI, but not with the filter's EPERM
  for (int fd = 0; fd < 3; ++fd) {
    if (!::isatty(fd)) continue;
    int err = try_tiocsti(fd, TIOCSTI);
    if (err == 0) escaped("TIOCSTI on inherited fd " + std::to_string(fd));
    unfiltered |= err != EPERM;
    tried += "fd" + std::to_string(fd) + "=" + errno_name(err) + " ";
  }
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  int tty_err = tty < 0 ? errno : try_tiocsti(tty, TIOCSTI);
  if (tty_err == 0) escaped("TIOCSTI on /dev/tty");
  unfiltered |= tty >= 0 && tty_err != EPERM;
  tried += "/dev/tty=" + errno_name(tty_err) + " ";
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
    usage_error("cannot open a pty: " + errno_name(errno));
  }
  int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) usage_error("cannot open the pty's slave: " + errno_name(errno));
  int err = try_tiocsti(slave, TIOCSTI);
  if (err == 0) escaped("TIOCSTI on a pty");
  int high = try_tiocsti(slave, TIOCSTI | (1UL << 32));
  if (high == 0) escaped("TIOCSTI|1<<32 on a pty");
  int linux_err = try_tiocsti(slave, TIOCLINUX);
  tried += "pty=" + errno_name(err) + " pty(TIOCSTI|1<<32)=" + errno_name(high) +
           " pty(TIOCLINUX)=" + errno_name(linux_err);
  if (unfiltered || err != EPERM || high != EPERM || linux_err != EPERM) {
    escaped("ioctl not filtered: " + tried);
  }
  blocked(err, tried);
}

// list-fds: escaped when anything but 0, 1 and 2 is open.
void list_fds(const Args&) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) usage_error("opendir /proc/self/fd: " + errno_name(errno));
  std::string extra;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == ".." || name == "0" || name == "1" || name == "2") continue;
    if (std::atoi(name.c_str()) == ::dirfd(dir)) continue;
    char target[256] = {};
    ssize_t n = ::readlink(("/proc/self/fd/" + name).c_str(), target, sizeof target - 1);
    extra += name + "->" + (n > 0 ? target : "?") + " ";
  }
  ::closedir(dir);
  if (!extra.empty()) escaped("inherited descriptors: " + extra);
  blocked(0, "only 0, 1, 2 are open");
}

// env NAME...: escaped when any of the variables is set.
void env(const Args& args) {
  std::string found;
  for (const std::string& name : args) {
    if (const char* value = ::getenv(name.c_str())) found += name + "=" + value + " ";
  }
  if (!found.empty()) escaped("visible: " + found);
  blocked(0, "none of the variables is set");
}

void ignore_signals() {
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGXCPU}) {
    ::signal(sig, SIG_IGN);
  }
}

// The escapee: its own session, deaf to polite signals; with `hop`, it
// keeps forking a successor (its own session again) and exiting. Writes a
// byte to `ready` once it carries its name.
[[noreturn]] void run_escapee(const std::string& comm, bool hop, int ready) {
  ::setsid();
  ignore_signals();
  ::prctl(PR_SET_NAME, comm.c_str());
  char byte = 1;
  if (::write(ready, &byte, 1) != 1) ::_exit(1);
  ::close(ready);
  while (hop) {
    pid_t next = ::fork();
    if (next > 0) ::_exit(0);
    if (next == 0) ::setsid();
    ::usleep(1000);
  }
  for (;;) ::pause();
}

// escape-timeout COMM [--leader-exits] [--hop] [--quiet]: double fork +
// setsid + ignored SIGTERM. Prints STARTED once the escapee runs under its
// name; the leader then waits forever (or, with --leader-exits, ends at
// once, leaving the escapee behind). --quiet: the escapee lets go of stdio.
void escape_timeout(const Args& args) {
  bool leader_exits = false, hop = false, quiet = false;
  for (size_t i = 1; i < args.size(); ++i) {
    leader_exits |= args[i] == "--leader-exits";
    hop |= args[i] == "--hop";
    quiet |= args[i] == "--quiet";
  }
  require_pid_namespace("escape-timeout");
  ignore_signals();
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) usage_error("pipe2: " + errno_name(errno));
  pid_t child = ::fork();
  if (child < 0) usage_error("fork: " + errno_name(errno));
  if (child == 0) {
    ::close(ready[0]);
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild == 0) {
      if (quiet) {
        int null = ::open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
      }
      run_escapee(args[0], hop, ready[1]);
    }
    ::_exit(grandchild < 0 ? 1 : 0);
  }
  ::close(ready[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  char byte = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || ::read(ready[0], &byte, 1) != 1) {
    usage_error("the escapee did not start");
  }
  if (leader_exits) done("escapee " + args[0] + " left behind");
  std::printf("STARTED escapee %s\n", args[0].c_str());
  std::fflush(stdout);
  for (;;) ::pause();
}

// health: a plain process that works.
void health(const Args&) {
  char cwd[256] = {};
  if (!::getcwd(cwd, sizeof cwd)) usage_error("getcwd: " + errno_name(errno));
  ok("pid=" + std::to_string(::getpid()) + " euid=" + std::to_string(::geteuid()) + " cwd=" + cwd);
}

}  // namespace

const std::vector<Command>& process_commands() {
  static const std::vector<Command> commands = {
      {"caps", "", 0, caps},
      {"ptrace-pid", "PID", 1, ptrace_pid},
      {"ptrace-child", "", 0, ptrace_child},
      {"vm-read", "PID ADDRESS LENGTH [EXPECTED]", 3, vm_read},
      {"pidfd-getfd", "PID FD", 2, pidfd_getfd},
      {"kill-pid", "PID [SIGNAL]", 1, kill_pid},
      {"kill-all", "", 0, kill_all},
      {"signal-init", "", 0, signal_init},
      {"prlimit-init", "", 0, prlimit_init},
      {"find-procs", "COMM", 1, find_procs},
      {"victim", "COMM [ABSTRACT-SOCKET-NAME]", 1, victim},
      {"tiocsti", "", 0, tiocsti},
      {"list-fds", "", 0, list_fds},
      {"env", "NAME...", 1, env},
      {"escape-timeout", "COMM [--leader-exits] [--hop] [--quiet]", 1, escape_timeout},
      {"health", "", 0, health},
  };
  return commands;
}

}  // namespace attack
