#include "sandbox/janitor.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "base/log.hpp"

namespace agentd::sandbox {

namespace {

int g_socket = -1;

struct Leftovers {
  std::set<std::string> paths;
  std::set<std::string> cgroups;
  std::set<pid_t> groups;

  void apply(const std::string& line) {
    if (line.size() < 3) return;
    char kind = line[0], op = line[1];
    std::string value = line.substr(2);
    if (kind == 'P') op == '+' ? (void)paths.insert(value) : (void)paths.erase(value);
    if (kind == 'C') op == '+' ? (void)cgroups.insert(value) : (void)cgroups.erase(value);
    if (kind == 'G') {
      pid_t pgid = pid_t(std::stol(value));
      op == '+' ? (void)groups.insert(pgid) : (void)groups.erase(pgid);
    }
  }

  // agentd is gone: kill and remove what it left.
  void clean() {
    for (pid_t pgid : groups) ::kill(-pgid, SIGKILL);
    for (const auto& dir : cgroups) {
      for (int attempt = 0; attempt < 40 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // its processes are dying
      }
    }
    std::error_code ec;
    for (const auto& path : paths) std::filesystem::remove_all(path, ec);
  }
};

[[noreturn]] void watch(int socket) {
  ::prctl(PR_SET_NAME, "agentd-janitor");
  ::setsid();  // not in agentd's process group: survives what kills agentd's group
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  Leftovers left;
  std::string pending;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(socket, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, size_t(n));
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      left.apply(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
  left.clean();
  ::_exit(0);
}

}  // namespace

void Janitor::start() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    base::log_warn("janitor not started: socketpair failed; leftovers after a crash are possible");
    return;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    base::log_warn("janitor not started: fork failed; leftovers after a crash are possible");
    return;
  }
  if (pid == 0) {
    ::close(fds[0]);
    ::dup2(fds[1], 3);
    ::syscall(SYS_close_range, 4u, ~0u, 0u);
    watch(3);
  }
  ::close(fds[1]);
  g_socket = fds[0];
}

void Janitor::send(char kind, char op, const std::string& value) {
  if (g_socket < 0) return;
  std::string line{kind, op};
  line += value;
  line += '\n';
  ssize_t ignored = ::send(g_socket, line.data(), line.size(), MSG_NOSIGNAL);
  (void)ignored;
}

}  // namespace agentd::sandbox
