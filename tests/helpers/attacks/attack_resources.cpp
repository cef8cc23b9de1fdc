// Resource attacks: fork bomb, memory bomb, CPU spin, output flood, disk
// fill. The bombs refuse to run outside a child PID namespace.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "attack.hpp"

namespace attack {

namespace {

bool has_flag(const Args& args, const char* flag) {
  for (const std::string& a : args) {
    if (a == flag) return true;
  }
  return false;
}

// The number after `flag`, or `fallback`.
unsigned long long flag_value(const Args& args, const char* flag, unsigned long long fallback) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) return parse_number(args[i + 1]);
  }
  return fallback;
}

[[noreturn]] void fork_forever() {
  for (;;) {
    if (::fork() < 0) ::usleep(1000);
  }
}

// fork-bomb [--wild] [--cap N]: forks sleepers until fork fails (blocked,
// with the count) or N succeed (escaped). --wild: every process forks
// forever; only a kill ends it.
void fork_bomb(const Args& args) {
  require_pid_namespace("a fork bomb");
  if (has_flag(args, "--wild")) {
    std::printf("STARTED wild fork bomb\n");
    std::fflush(stdout);
    fork_forever();
  }
  unsigned long long cap = flag_value(args, "--cap", 100000);
  for (unsigned long long forked = 0; forked < cap; ++forked) {
    pid_t pid = ::fork();
    if (pid == 0) {
      for (;;) ::pause();
    }
    if (pid < 0) blocked(errno, "fork failed after forked=" + std::to_string(forked));
  }
  escaped("forked=" + std::to_string(cap) + " without hitting a limit");
}

// memory-bomb [--cap-mib N]: touches 1 MiB after 1 MiB.
void memory_bomb(const Args& args) {
  require_pid_namespace("a memory bomb");
  unsigned long long cap = flag_value(args, "--cap-mib", 4096);
  const size_t kChunk = 1 << 20;
  for (unsigned long long mib = 0; mib < cap; ++mib) {
    void* p = ::mmap(nullptr, kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) blocked(errno, "mmap failed after " + std::to_string(mib) + " MiB");
    std::memset(p, 0xa5, kChunk);
  }
  escaped("touched " + std::to_string(cap) + " MiB without being stopped");
}

double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

// cpu-spin [--ignore-xcpu] [--fork]: burns CPU forever. --fork spreads the
// burn over short-lived children (each under any per-process limit).
void cpu_spin(const Args& args) {
  if (has_flag(args, "--ignore-xcpu")) ::signal(SIGXCPU, SIG_IGN);
  if (has_flag(args, "--fork")) {
    require_pid_namespace("a forking cpu spinner");
    std::printf("STARTED forking spinner\n");
    std::fflush(stdout);
    for (;;) {
      pid_t worker = ::fork();
      if (worker == 0) {
        volatile unsigned long counter = 0;
        while (cpu_seconds() < 0.3) counter = counter + 1;
        ::_exit(0);
      }
      if (worker > 0) ::waitpid(worker, nullptr, 0);
    }
  }
  volatile unsigned long counter = 0;
  for (;;) counter = counter + 1;
}

// output-flood [--both]: 64 KiB writes to stdout (and stderr) forever.
void output_flood(const Args& args) {
  static char buf[65536];
  std::memset(buf, 'A', sizeof buf);
  bool both = has_flag(args, "--both");
  for (unsigned long i = 0;; ++i) {
    int fd = both && (i % 2) ? STDERR_FILENO : STDOUT_FILENO;
    if (::write(fd, buf, sizeof buf) < 0 && errno != EINTR) broken("write", errno);
  }
}

// disk-fill PATH [--ignore-sigxfsz] [--cap-mib N]: writes 1 MiB blocks to
// PATH until the kernel refuses (blocked, with the count) or N MiB were
// written (escaped). The file is removed afterwards.
void disk_fill(const Args& args) {
  if (has_flag(args, "--ignore-sigxfsz")) ::signal(SIGXFSZ, SIG_IGN);
  unsigned long long cap = flag_value(args, "--cap-mib", 1024);
  int fd = ::open(args[0].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) blocked(errno, "open " + args[0]);
  static char block[1 << 20];
  std::memset(block, 'D', sizeof block);
  unsigned long long written = 0;
  while (written < (cap << 20)) {
    ssize_t n = ::write(fd, block, sizeof block);
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(args[0].c_str());
      blocked(err, "written=" + std::to_string(written));
    }
    written += uint64_t(n);
  }
  ::close(fd);
  ::unlink(args[0].c_str());
  escaped("written=" + std::to_string(written) + " without being stopped");
}

// raise-rlimits: lift the soft and hard limits of CPU time, file size and
// open files to infinity. Escaped when any of them rises.
void raise_rlimits(const Args&) {
  std::string tried;
  int last = 0;
  for (auto [resource, name] :
       {std::pair{RLIMIT_CPU, "RLIMIT_CPU"}, std::pair{RLIMIT_FSIZE, "RLIMIT_FSIZE"},
        std::pair{RLIMIT_NOFILE, "RLIMIT_NOFILE"}}) {
    rlimit before{};
    ::getrlimit(resource, &before);
    rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    if (resource == RLIMIT_NOFILE) unlimited = {1 << 20, 1 << 20};
    if (before.rlim_max != RLIM_INFINITY && ::setrlimit(resource, &unlimited) == 0) {
      escaped(std::string("raised the hard limit of ") + name);
    }
    last = errno;
    tried += std::string(name) + "=" + errno_name(last) + " ";
  }
  blocked(last, tried);
}

}  // namespace

const std::vector<Command>& resource_commands() {
  static const std::vector<Command> commands = {
      {"fork-bomb", "[--wild] [--cap N]", 0, fork_bomb},
      {"memory-bomb", "[--cap-mib N]", 0, memory_bomb},
      {"cpu-spin", "[--ignore-xcpu] [--fork]", 0, cpu_spin},
      {"output-flood", "[--both]", 0, output_flood},
      {"disk-fill", "PATH [--ignore-sigxfsz] [--cap-mib N]", 1, disk_fill},
      {"raise-rlimits", "", 0, raise_rlimits},
  };
  return commands;
}

}  // namespace attack
