#include "sandbox/linux/init_process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "sandbox/linux/control_channel.hpp"

namespace agentd::sandbox::linuxns {

namespace {

constexpr int kSetupTimeoutMs = 15000;
constexpr int kControlFd = 3;

// In the cloned child, still running agentd's code: wait for the id maps,
// become root of the new user namespace, then exec the init. No return.
[[noreturn]] void become_init(int sync_fd, int control_fd, int helper_fd, bool privileged) {
  char go = 0;
  if (::read(sync_fd, &go, 1) != 1) ::_exit(1);  // agentd gave up
  // The control channel must end up on fd 3: move the helper out of its way,
  // and if the channel is on 3 already, only clear its close-on-exec flag.
  if (helper_fd == kControlFd) helper_fd = ::fcntl(helper_fd, F_DUPFD_CLOEXEC, kControlFd + 1);
  const char* step = nullptr;
  // A session of its own: agentd's controlling terminal (if any) must not be
  // reachable through /dev/tty inside the sandbox.
  if (::setsid() < 0) step = "setsid";
  // Raw syscalls: glibc's wrappers would signal every thread agentd had at
  // clone time (its setxid broadcast) and wait forever for threads that do
  // not exist in this child (agentd has some: the proxy's resolver).
  if (!step && privileged && ::syscall(SYS_setgroups, 0, nullptr) != 0) step = "setgroups";
  if (!step && ::syscall(SYS_setresgid, 0, 0, 0) != 0) step = "setresgid";
  if (!step && ::syscall(SYS_setresuid, 0, 0, 0) != 0) step = "setresuid";
  // After the credential change, which would clear it.
  if (!step && ::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) step = "prctl(PR_SET_PDEATHSIG)";
  if (!step && control_fd == kControlFd && ::fcntl(kControlFd, F_SETFD, 0) != 0) step = "fcntl(control)";
  if (!step && control_fd != kControlFd && ::dup2(control_fd, kControlFd) < 0) step = "dup2(control)";
  // Nothing of agentd's but stdio and the channel may reach the init, also
  // descriptors someone opened without O_CLOEXEC.
  if (!step && ::syscall(SYS_close_range, kControlFd + 1, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
    step = "close_range";
  }
  if (!step) {
    char arg0[] = "agentd-sandbox-init";
    char* argv[] = {arg0, nullptr};
    char* envp[] = {nullptr};
    ::syscall(SYS_execveat, helper_fd, "", argv, envp, AT_EMPTY_PATH);
    step = "execveat(agentd-sandbox-init)";
  }
  int err = errno;
  (void)send_control(control_fd, {{"op", "setupError"},
                                  {"step", step},
                                  {"errno", err},
                                  {"message", std::string(step) + ": " + std::strerror(err)}});
  ::_exit(1);
}

bool write_file(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::write(fd, content.data(), content.size());
  ::close(fd);
  return n == ssize_t(content.size());
}

std::string map_ids(pid_t pid, const IdMapping& ids) {
  std::string proc = "/proc/" + std::to_string(pid);
  if (!write_file(proc + "/uid_map", "0 " + std::to_string(ids.outside_uid) + " 1\n")) {
    return std::string("writing uid_map: ") + std::strerror(errno);
  }
  if (!ids.privileged && !write_file(proc + "/setgroups", "deny")) {
    return std::string("writing setgroups: ") + std::strerror(errno);
  }
  if (!write_file(proc + "/gid_map", "0 " + std::to_string(ids.outside_gid) + " 1\n")) {
    return std::string("writing gid_map: ") + std::strerror(errno);
  }
  return "";
}

// Waits for the init's answer to the setup: `ready` or `setupError`.
std::variant<InitProcess, InitStartError> await_ready(InitProcess init) {
  pollfd p{init.control.get(), POLLIN, 0};
  int ready = ::poll(&p, 1, kSetupTimeoutMs);
  if (ready <= 0) return InitStartError{"setup", "the sandbox init did not answer within 15 s"};
  auto message = receive_control(init.control.get());
  if (!message) return InitStartError{"setup", message.error().message()};
  if (!message->has_value()) {
    return InitStartError{"setup", "the sandbox init exited during set-up (see agentd's stderr)"};
  }
  auto& body = (*message)->body;
  if (body.value("op", "") == "setupError") {
    return InitStartError{body.value("step", "setup"), body.value("message", "unknown error")};
  }
  if (body.value("op", "") != "ready") return InitStartError{"setup", "unexpected message " + body.dump()};
  for (const auto& f : body.value("features", nlohmann::json::array())) {
    init.confirmed.emplace_back(f.value("name", ""), f.value("mechanism", ""));
  }
  auto names = body.value("fds", nlohmann::json::array());
  auto& fds = (*message)->fds;
  for (size_t i = 0; i < names.size() && i < fds.size(); ++i) {
    if (names[i] == "seccompListener") init.seccomp_listener = std::move(fds[i]);
    if (names[i] == "proxyListener") init.proxy_listener = std::move(fds[i]);
  }
  return init;
}

}  // namespace

IdMapping default_id_mapping() {
  if (::geteuid() == 0) return {kSandboxUid, kSandboxUid, true};
  return {::geteuid(), ::getegid(), false};
}

std::variant<InitProcess, InitStartError> start_init(const InitLaunch& launch) {
  auto channel = control_socket_pair();
  if (!channel) return InitStartError{"socketpair", channel.error().message()};
  int sync[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return InitStartError{"pipe2", std::strerror(errno)};
  base::UniqueFd sync_read(sync[0]), sync_write(sync[1]);

  // Like fork(), but into new namespaces: the child is PID 1 of its own.
  long pid = ::syscall(SYS_clone, launch.namespace_flags | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid < 0) {
    int err = errno;
    std::string hint = (err == EPERM || err == ENOSPC || err == EACCES)
                           ? " (user namespaces may be restricted: check "
                             "kernel.unprivileged_userns_clone, user.max_user_namespaces, AppArmor)"
                           : "";
    return InitStartError{"clone(namespaces)", std::string(std::strerror(err)) + hint};
  }
  if (pid == 0) {
    become_init(sync_read.get(), channel->second.get(), launch.helper_fd, launch.ids.privileged);
  }
  InitProcess init;
  init.pid = pid_t(pid);
  init.control = std::move(channel->first);
  channel->second.reset();
  sync_read.reset();

  std::string problem = map_ids(init.pid, launch.ids);
  if (problem.empty() && launch.before_start) problem = launch.before_start(init.pid);
  if (!problem.empty()) {
    stop_init(init.pid);
    return InitStartError{"preparing the sandbox", problem};
  }
  char go = 1;
  if (::write(sync_write.get(), &go, 1) != 1) {
    stop_init(init.pid);
    return InitStartError{"starting the init", std::strerror(errno)};
  }
  sync_write.reset();
  if (auto sent = send_control(init.control.get(), {{"op", "setup"}, {"setup", to_json(launch.setup)}});
      !sent) {
    stop_init(init.pid);
    return InitStartError{"sending the setup", sent.error().message()};
  }
  pid_t init_pid = init.pid;
  auto result = await_ready(std::move(init));
  if (std::holds_alternative<InitStartError>(result)) stop_init(init_pid);
  return result;
}

void stop_init(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace agentd::sandbox::linuxns
