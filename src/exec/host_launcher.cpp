#include "exec/host_launcher.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>
#include <cstring>

#include "base/log.hpp"

namespace agentd::exec {

namespace asio = boost::asio;
namespace bp = boost::process::v2;

namespace {

// Steps of the child set-up, reported back through a pipe on failure so the
// caller reads `setrlimit: Invalid argument` instead of a bare errno.
enum class ChildStep : uint8_t { kSetpgid = 1, kDeathSignal, kSignals, kChdir, kRlimit, kFds };

const char* step_name(uint8_t step) {
  switch (ChildStep(step)) {
    case ChildStep::kSetpgid:
      return "setpgid/setsid";
    case ChildStep::kDeathSignal:
      return "prctl(PR_SET_PDEATHSIG)";
    case ChildStep::kSignals:
      return "resetting signal state";
    case ChildStep::kChdir:
      return "fchdir to cwd";
    case ChildStep::kRlimit:
      return "setrlimit";
    case ChildStep::kFds:
      return "close_range";
  }
  return "execve";
}

struct RlimitSetting {
  int resource;
  rlim_t soft;
  rlim_t hard;
};

std::vector<RlimitSetting> plan_rlimits(const policy::Limits& limits) {
  std::vector<RlimitSetting> out{{RLIMIT_CORE, 0, 0}};
  if (limits.cpu_time_ms) {
    rlim_t seconds = (*limits.cpu_time_ms + 999) / 1000;
    if (seconds == 0) seconds = 1;
    out.push_back({RLIMIT_CPU, seconds, seconds + 1});  // SIGXCPU, then SIGKILL
  }
  if (limits.memory_bytes) out.push_back({RLIMIT_AS, *limits.memory_bytes, *limits.memory_bytes});
  if (limits.max_open_files) {
    out.push_back({RLIMIT_NOFILE, *limits.max_open_files, *limits.max_open_files});
  }
  if (limits.max_file_size_bytes) {
    out.push_back({RLIMIT_FSIZE, *limits.max_file_size_bytes, *limits.max_file_size_bytes});
  }
  return out;
}

// Boost.Process initializer run in the forked child before execve. Only
// async-signal-safe calls; everything was prepared in the parent.
struct ChildSetup {
  pid_t parent;
  int cwd_fd;
  int step_fd;  // write end of the step pipe (CLOEXEC)
  const std::vector<RlimitSetting>* rlimits;
  const char* const* env;
  bool pty;  // own session with the pty slave (stdin) as controlling terminal

  std::error_code fail(ChildStep step) const {
    int err = errno;
    uint8_t code = uint8_t(step);
    ssize_t ignored = ::write(step_fd, &code, 1);
    (void)ignored;
    errno = err;
    return std::error_code(err, std::system_category());
  }

  std::error_code on_setup(bp::posix::default_launcher& launcher, const bp::filesystem::path&,
                           const char* const*) {
    launcher.env = env;
    return {};
  }

  std::error_code on_exec_setup(bp::posix::default_launcher&, const bp::filesystem::path&,
                                const char* const*) {
    if (pty) {
      if (::setsid() < 0) return fail(ChildStep::kSetpgid);
      if (::ioctl(STDIN_FILENO, TIOCSCTTY, 0) != 0) return fail(ChildStep::kSetpgid);
    } else if (::setpgid(0, 0) != 0) {
      return fail(ChildStep::kSetpgid);
    }
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return fail(ChildStep::kDeathSignal);
    if (::getppid() != parent) ::_exit(127);  // agentd died before the prctl
    sigset_t none;
    sigemptyset(&none);
    if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) return fail(ChildStep::kSignals);
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);  // EINVAL for KILL/STOP: fine
    if (::fchdir(cwd_fd) != 0) return fail(ChildStep::kChdir);
    for (const auto& r : *rlimits) {
      rlimit value{r.soft, r.hard};
      if (::setrlimit(r.resource, &value) != 0) return fail(ChildStep::kRlimit);
    }
    if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0) return fail(ChildStep::kFds);
    return {};
  }

  // execve failed: leave without running atexit handlers of agentd.
  void on_exec_error(bp::posix::default_launcher&, const bp::filesystem::path&,
                     const char* const*, const std::error_code&) {
    ::_exit(127);
  }
  // Boost 1.81 tests for on_exec_error with this (mistaken) signature before
  // calling the one above; without it the hook is skipped and the child calls
  // exit(), running agentd's atexit handlers and static destructors. Never
  // defined: it only has to be found by decltype.
  void on_exec_error(bp::posix::default_launcher&, const bp::error_code&,
                     const bp::filesystem::path&, const char* const*, const bp::error_code&);
};

class HostChild final : public Child {
 public:
  HostChild(asio::io_context& io, pid_t pid, int pidfd) : pid_(pid), pidfd_(io, pidfd) {}

  int pid() const override { return pid_; }

  void on_exit(std::function<void(ExitInfo)> done) override {
    pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [this, done = std::move(done)](boost::system::error_code ec) mutable {
                        if (ec == asio::error::operation_aborted) return;
                        if (!leader_exited()) return on_exit(std::move(done));  // spurious
                        // The leader is a zombie now, so its pid (the group id)
                        // cannot be reused yet: kill the rest of the group first.
                        ::kill(-pid_, SIGKILL);
                        done(reap());
                      });
  }

  void signal_group(int signal) override {
    if (!reaped_) ::kill(-pid_, signal);
  }

  ~HostChild() override {
    if (!reaped_) {
      ::kill(-pid_, SIGKILL);
      reap();
    }
  }

 private:
  bool leader_exited() const {
    siginfo_t info{};
    return ::waitid(P_PID, id_t(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_;
  }

  ExitInfo reap() {
    int status = 0;
    rusage ru{};
    pid_t r;
    do {
      r = ::wait4(pid_, &status, 0, &ru);
    } while (r < 0 && errno == EINTR);
    reaped_ = true;
    ExitInfo info;
    if (r != pid_) {
      base::log_error("wait4(" + std::to_string(pid_) + "): " + std::strerror(errno));
      return info;
    }
    info.signaled = WIFSIGNALED(status);
    info.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    info.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    auto ms = [](const timeval& tv) { return uint64_t(tv.tv_sec) * 1000 + tv.tv_usec / 1000; };
    info.usage = Usage{ms(ru.ru_utime), ms(ru.ru_stime), uint64_t(ru.ru_maxrss) * 1024};
    return info;
  }

  pid_t pid_;
  asio::posix::stream_descriptor pidfd_;
  bool reaped_ = false;
};

std::optional<base::Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  return base::Pipe{base::UniqueFd(fds[0]), base::UniqueFd(fds[1])};
}

}  // namespace

std::optional<std::string> find_on_path(const std::string& name, const std::string& path_list) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return name;
  size_t start = 0;
  while (start <= path_list.size()) {
    size_t end = path_list.find(':', start);
    if (end == std::string::npos) end = path_list.size();
    std::string dir = path_list.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

namespace {

// The child's three stdio descriptors and agentd's ends of them: pipes, or
// one pseudo-terminal whose slave is all three.
struct StdioPlan {
  base::UniqueFd child[3];
  LaunchedChild parent_ends;
};

std::optional<StdioPlan> plan_stdio(const HostLaunchPlan& plan) {
  StdioPlan stdio;
  if (plan.pty) {
    int master = -1, slave = -1;
    winsize ws{plan.pty->rows, plan.pty->cols, 0, 0};
    if (::openpty(&master, &slave, nullptr, nullptr, &ws) != 0) return std::nullopt;
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    ::fcntl(slave, F_SETFD, FD_CLOEXEC);
    stdio.parent_ends.pty_master.reset(master);
    stdio.parent_ends.stdout_reader.reset(::fcntl(master, F_DUPFD_CLOEXEC, 3));
    stdio.parent_ends.stdin_writer.reset(::fcntl(master, F_DUPFD_CLOEXEC, 3));
    stdio.child[0].reset(slave);
    stdio.child[1].reset(::fcntl(slave, F_DUPFD_CLOEXEC, 3));
    stdio.child[2].reset(::fcntl(slave, F_DUPFD_CLOEXEC, 3));
    return stdio;
  }
  auto out = make_pipe(), err = make_pipe();
  if (!out || !err) return std::nullopt;
  if (plan.stdin_pipe) {
    auto in = make_pipe();
    if (!in) return std::nullopt;
    stdio.child[0] = std::move(in->read_end);
    stdio.parent_ends.stdin_writer = std::move(in->write_end);
  } else {
    stdio.child[0].reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
  stdio.child[1] = std::move(out->write_end);
  stdio.child[2] = std::move(err->write_end);
  stdio.parent_ends.stdout_reader = std::move(out->read_end);
  stdio.parent_ends.stderr_reader = std::move(err->read_end);
  return stdio;
}

}  // namespace

std::variant<LaunchedChild, LaunchFailure> launch_on_host(asio::io_context& io,
                                                          const HostLaunchPlan& plan) {
  auto stdio = plan_stdio(plan);
  auto steps = make_pipe();
  if (!stdio || !steps) {
    return LaunchFailure{"", std::string(plan.pty ? "openpty: " : "pipe2: ") + std::strerror(errno)};
  }
  std::vector<const char*> env;
  for (const auto& kv : plan.env) env.push_back(kv.c_str());
  env.push_back(nullptr);
  auto rlimits = plan_rlimits(plan.limits);
  ChildSetup setup{::getpid(), plan.cwd_fd, steps->write_end.get(), &rlimits, env.data(),
                   plan.pty.has_value()};

  boost::system::error_code ec;
  std::vector<std::string> args(plan.argv.begin() + 1, plan.argv.end());
  bp::posix::default_launcher launcher;
  // Boost.Process calls notify_fork() on the launch executor's context in the
  // child; on agentd's own io_context that re-registers every descriptor and
  // can throw in the child. A private, empty context makes it a no-op.
  static asio::io_context launch_context;
  auto proc = launcher(launch_context.get_executor(), ec, plan.executable, args,
                       bp::process_stdio{stdio->child[0].get(), stdio->child[1].get(),
                                         stdio->child[2].get()},
                       setup);
  steps->write_end.reset();
  if (ec) {
    // A child that was forked has reported its error and is leaving
    // (on_exec_error): reap it, or it stays a zombie for agentd's lifetime.
    if (launcher.pid > 0) ::waitpid(launcher.pid, nullptr, 0);
    uint8_t step = 0;
    int flags = ::fcntl(steps->read_end.get(), F_GETFL);
    ::fcntl(steps->read_end.get(), F_SETFL, flags | O_NONBLOCK);
    if (::read(steps->read_end.get(), &step, 1) != 1) step = 0;
    std::string what = step ? step_name(step) : "execve(\"" + plan.executable + "\")";
    return LaunchFailure{"", what + ": " + ec.message()};
  }
  pid_t pid = proc.id();
  proc.detach();
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return LaunchFailure{"", std::string("pidfd_open: ") + std::strerror(errno)};
  }
  ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  LaunchedChild launched = std::move(stdio->parent_ends);
  launched.child = std::make_unique<HostChild>(io, pid, pidfd);
  return launched;
}

}  // namespace agentd::exec
