#include "sandbox/linux/init_server.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/environment.hpp"
#include "sandbox/file_ops.hpp"
#include "sandbox/linux/control_channel.hpp"
#include "sandbox/linux/file_channel.hpp"
#include "sandbox/linux/process_tree.hpp"

namespace agentd::sandbox::linuxns {

namespace {

using json = nlohmann::json;

struct ExecRequest {
  uint64_t id = 0;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
  std::vector<std::string> candidates;  // executable paths to try, in order
  std::vector<std::array<uint64_t, 3>> rlimits;
  bool pty = false;  // stdio is a pseudo-terminal made here, inside the sandbox
  winsize size{24, 80, 0, 0};
};

// Resolves argv[0] on the sandbox's PATH, as execvp would, before forking.
std::vector<std::string> executable_candidates(const std::string& name,
                                               const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return {name};
  std::string path = policy::kDefaultSearchPath;
  for (const auto& kv : env) {
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
  }
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    out.push_back((dir.empty() ? "." : dir) + "/" + name);
    start = end + 1;
  }
  return out;
}

const char* child_step_name(uint8_t step) {
  static const char* names[] = {"?", "dup2 stdio", "setpgid/setsid", "reset signals", "setrlimit",
                                "chdir", "execve"};
  return step < 7 ? names[step] : "?";
}

// What the exec's child needs, prepared before the clone. The child shares
// our memory (CLONE_VM) and we are suspended (CLONE_VFORK) until it calls
// execve or exits, so it only makes system calls, and a failed step is
// written back into `step` and `error` for us to read.
struct ChildArgs {
  const ExecRequest* req;
  int stdio[3];
  char* const* argv;
  char* const* envp;
  uint8_t step = 0;  // 1 stdio, 2 setpgid, 3 signals, 4 rlimit, 5 chdir, 6 execve
  int error = 0;
};

[[noreturn]] void child_fail(ChildArgs& args, uint8_t step) {
  args.error = errno;
  args.step = step;
  ::_exit(127);
}

// In the cloned child: everything was prepared by the parent.
int run_child(void* raw) {
  ChildArgs& args = *static_cast<ChildArgs*>(raw);
  const ExecRequest& req = *args.req;
  // Handlers before the mask (all blocked since the clone): none may run here.
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  for (int i = 0; i < 3; ++i) {
    int done = args.stdio[i] == i ? ::fcntl(i, F_SETFD, 0) : ::dup2(args.stdio[i], i);
    if (done < 0) child_fail(args, 1);
  }
  if (req.pty) {  // own session, the pty as controlling terminal
    if (::setsid() < 0 || ::ioctl(STDIN_FILENO, TIOCSCTTY, 0) != 0) child_fail(args, 2);
  } else if (::setpgid(0, 0) != 0) {
    child_fail(args, 2);
  }
  // Orphans of the command (double forks, setsid) reparent to its leader,
  // not to us, so a kill of the exec can find its whole tree.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t none;
  sigemptyset(&none);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) child_fail(args, 3);
  for (const auto& r : req.rlimits) {
    rlimit value{r[1], r[2]};
    if (::setrlimit(int(r[0]), &value) != 0) child_fail(args, 4);
  }
  if (::chdir(req.cwd.c_str()) != 0) child_fail(args, 5);
  ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  int last_error = ENOENT;
  for (const auto& path : req.candidates) {
    ::execve(path.c_str(), args.argv, args.envp);
    // Keep the most telling error: EACCES beats ENOENT, as in execvp.
    if (errno != ENOENT && errno != ENOTDIR) last_error = errno;
  }
  errno = last_error;
  child_fail(args, 6);
}

// clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: no copy of our page
// tables, and we resume once the child has called execve (or failed). All
// signals are blocked around it so that none runs a handler in the child.
pid_t clone_child(ChildArgs& args) {
  constexpr size_t kStackBytes = 256 * 1024;
  static std::unique_ptr<char[]> stack(new char[kStackBytes]);  // the init is single-threaded
  sigset_t all, old;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::clone(run_child, stack.get() + kStackBytes, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  int saved = errno;
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return pid;
}

// Stops the leader and every process of its tree (setsid escapees included:
// the leader is their subreaper) until a walk finds nothing new, so nothing
// can fork its way out; returns them all.
std::vector<pid_t> freeze_tree(pid_t leader) {
  std::vector<pid_t> stopped{leader};
  ::kill(leader, SIGSTOP);
  for (int round = 0; round < 2000; ++round) {
    bool changed = false;
    for (pid_t pid : descendants_of(leader)) {
      if (std::find(stopped.begin(), stopped.end(), pid) != stopped.end()) continue;
      ::kill(pid, SIGSTOP);
      stopped.push_back(pid);
      changed = true;
    }
    // A stop is only sure once it took effect: until then the process may
    // still fork (its child does not inherit the pending stop).
    for (pid_t pid : stopped) {
      char state = process_state(pid);
      if (state != 'T' && state != 't' && state != 'Z' && state != 'X' && state != 0) changed = true;
    }
    if (!changed) break;
    ::usleep(200);
  }
  return stopped;
}

// Signals an exec: its whole tree, its process group and its leader. A
// SIGKILL freezes the tree first.
void signal_exec(pid_t leader, int signal) {
  if (signal == SIGKILL) {
    for (pid_t pid : freeze_tree(leader)) ::kill(pid, SIGKILL);
  } else {
    auto tree = descendants_of(leader);
    for (auto it = tree.rbegin(); it != tree.rend(); ++it) ::kill(*it, signal);
  }
  ::kill(-leader, signal);
  ::kill(leader, signal);
}

// A pseudo-terminal pair from the sandbox's own devpts: master, then slave.
std::optional<std::pair<base::UniqueFd, base::UniqueFd>> open_pty(const winsize& size) {
  base::UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return std::nullopt;
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) return std::nullopt;
  base::UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return std::nullopt;
  if (::ioctl(master.get(), TIOCSWINSZ, &size) != 0) return std::nullopt;
  return std::make_pair(std::move(master), std::move(slave));
}

class ExecServer {
 public:
  explicit ExecServer(int control) : control_(control) {}
  int run();

 private:
  void handle_message(ControlMessage message);
  void start(const json& body, std::vector<base::UniqueFd> fds);
  void file_op(uint64_t id, std::vector<base::UniqueFd> fds);
  void reap_children();
  void report_exit(pid_t pid, uint64_t id, int status, const rusage& ru);
  void send(const json& body) { (void)send_control(control_, body); }

  int control_;
  int signal_fd_ = -1;
  std::map<pid_t, uint64_t> leaders_;  // exec leader pid -> exec id
};

int ExecServer::run() {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  signal_fd_ = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) return 1;
  while (true) {
    pollfd fds[2] = {{control_, POLLIN, 0}, {signal_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info;
      while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
      }
      reap_children();
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      auto message = receive_control(control_);
      if (!message || !message->has_value()) return 0;  // agentd is gone: so are we
      handle_message(std::move(**message));
    }
  }
}

void ExecServer::handle_message(ControlMessage message) {
  const json& body = message.body;
  std::string op = body.value("op", "");
  if (op == "exec") return start(body, std::move(message.fds));
  if (op == "kill") {
    pid_t pid = body.value("pid", 0);
    if (pid > 1 && leaders_.count(pid)) signal_exec(pid, body.value("signal", SIGKILL));
    return;
  }
  if (op == "fs") return file_op(body.value("id", uint64_t(0)), std::move(message.fds));
  if (op == "killAll") {
    ::kill(-1, SIGKILL);  // every process of the namespace but us
    return;
  }
}

void ExecServer::start(const json& body, std::vector<base::UniqueFd> fds) {
  ExecRequest req;
  req.id = body.value("id", uint64_t(0));
  try {
    req.argv = body.at("argv").get<std::vector<std::string>>();
    req.env = body.at("env").get<std::vector<std::string>>();
    req.cwd = body.at("cwd").get<std::string>();
    req.rlimits = body.at("rlimits").get<std::vector<std::array<uint64_t, 3>>>();
    if (body.contains("pty")) {
      req.pty = true;
      req.size.ws_col = body["pty"].at("cols").get<uint16_t>();
      req.size.ws_row = body["pty"].at("rows").get<uint16_t>();
    }
  } catch (const json::exception& e) {
    return send({{"op", "execFailed"}, {"id", req.id}, {"message", std::string("bad request: ") + e.what()}});
  }
  base::UniqueFd pty_master;
  if (req.pty && fds.empty()) {
    auto pty = open_pty(req.size);
    if (!pty) {
      return send({{"op", "execFailed"}, {"id", req.id}, {"message", std::string("opening a pty: ") + std::strerror(errno)}});
    }
    pty_master = std::move(pty->first);
    for (int i = 0; i < 3; ++i) fds.emplace_back(::fcntl(pty->second.get(), F_DUPFD_CLOEXEC, 3));
  }
  if (fds.size() != 3 || req.argv.empty()) {
    return send({{"op", "execFailed"}, {"id", req.id}, {"message", "bad request: needs argv and 3 fds"}});
  }
  req.candidates = executable_candidates(req.argv[0], req.env);
  std::vector<char*> argv, envp;
  for (auto& a : req.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : req.env) envp.push_back(e.data());
  envp.push_back(nullptr);

  ChildArgs args{&req, {fds[0].get(), fds[1].get(), fds[2].get()}, argv.data(), envp.data()};
  pid_t pid = clone_child(args);
  if (pid < 0) {
    return send({{"op", "execFailed"}, {"id", req.id}, {"message", std::string("clone: ") + std::strerror(errno)}});
  }
  if (args.step != 0) {
    // The child has left already; reap it here, not in reap_children (it is no leader).
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    std::string what = args.step == 6 ? "execve(\"" + req.argv[0] + "\")" : child_step_name(args.step);
    if (args.step == 5) what += "(\"" + req.cwd + "\")";
    return send({{"op", "execFailed"}, {"id", req.id}, {"message", what + ": " + std::strerror(args.error)}});
  }
  leaders_[pid] = req.id;
  json started = {{"op", "started"}, {"id", req.id}, {"pid", pid}};
  if (pty_master) {
    (void)send_control(control_, started, {pty_master.get()});
  } else {
    send(started);
  }
}

// A file method, run here so it sees the sandbox's own root, mounts and
// Landlock rules: resolution with RESOLVE_IN_ROOT beneath "/" can never
// reach the host, and read-only mounts refuse writes (EROFS).
void ExecServer::file_op(uint64_t id, std::vector<base::UniqueFd> fds) {
  json reply = {{"op", "fsResult"}, {"id", id}};
  if (fds.size() != 1) return send(json{{"op", "fsResult"}, {"id", id}, {"message", "bad request: needs 1 fd"}});
  auto request = json_from_memfd(fds[0].get());
  FileReply result;
  if (!request) {
    result.error = FileError{FileError::Kind::kInvalid, EINVAL, "path", request.error().message()};
  } else {
    try {
      base::UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!root) throw std::runtime_error(std::string("open(\"/\"): ") + std::strerror(errno));
      result = run_file_op(root.get(), Resolve::kInRoot, file_request_from_json(*request));
    } catch (const std::exception& e) {
      result.error = FileError{FileError::Kind::kInvalid, EINVAL, "path", std::string("bad request: ") + e.what()};
    }
  }
  auto memfd = json_to_memfd(file_reply_to_json(result));
  if (!memfd) return send(json{{"op", "fsResult"}, {"id", id}, {"message", memfd.error().message()}});
  (void)send_control(control_, reply, {memfd->get()});
}

// Reaps every dead process (orphans are ours too). For an exec leader, the
// rest of its process group is killed while the leader is still a zombie,
// so its pid (the group id) cannot have been reused.
void ExecServer::reap_children() {
  while (true) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    pid_t pid = info.si_pid;
    auto leader = leaders_.find(pid);
    if (leader != leaders_.end()) ::kill(-pid, SIGKILL);
    int status = 0;
    rusage ru{};
    if (::wait4(pid, &status, 0, &ru) != pid) return;
    if (leader != leaders_.end()) {
      uint64_t id = leader->second;
      leaders_.erase(leader);
      report_exit(pid, id, status, ru);
    }
  }
}

void ExecServer::report_exit(pid_t pid, uint64_t id, int status, const rusage& ru) {
  auto ms = [](const timeval& tv) { return uint64_t(tv.tv_sec) * 1000 + uint64_t(tv.tv_usec) / 1000; };
  send({{"op", "exit"},
        {"id", id},
        {"pid", pid},
        {"signaled", WIFSIGNALED(status)},
        {"code", WIFEXITED(status) ? WEXITSTATUS(status) : 0},
        {"signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0},
        {"userMs", ms(ru.ru_utime)},
        {"systemMs", ms(ru.ru_stime)},
        {"maxRssBytes", uint64_t(ru.ru_maxrss) * 1024}});
}

}  // namespace

int serve_execs(int control_fd) { return ExecServer(control_fd).run(); }

}  // namespace agentd::sandbox::linuxns
