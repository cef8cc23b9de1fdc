#pragma once

#include <fcntl.h>
#include <signal.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

#include "base/unique_fd.hpp"
#include "exec/exec_session.hpp"
#include "sandbox/host_direct.hpp"
#include "sandbox/linux_backend.hpp"
#include "support/temp_dir.hpp"

namespace agentd::policy {
// So that gtest prints a parameter as "linux", not as its bytes.
inline void PrintTo(Isolation isolation, std::ostream* os) { *os << isolation_name(isolation); }
}  // namespace agentd::policy

namespace agentd::test_support {

// How long a test waits for an exec at most. Generous: the machine is noisy,
// and a test asserts outcomes, never durations.
inline constexpr std::chrono::seconds kExecBound{60};

// Everything one exec produced.
struct ExecRun {
  std::optional<exec::LaunchFailure> launch_failure;
  bool finished = false;
  int exit_calls = 0;
  exec::ExecOutcome outcome;
  std::string out;
  std::string err;
};

// The name a parameterised test shows for a backend ("HostDirect", "Linux").
inline std::string isolation_test_name(policy::Isolation isolation) {
  return isolation == policy::Isolation::kLinux ? "Linux" : "HostDirect";
}

// A sandbox of one backend (kNone: host-direct, kLinux: linux) in a temp
// dir, and an io_context to run execs in it with exec::ExecSession.
//
// Never throws: when the backend cannot run here or the sandbox cannot be
// created, ready() is false and backend_info() / create_error() say why, so
// that a test can skip or fail with the reason.
class ExecRunner {
 public:
  using OnStart = std::function<void(exec::ExecSession&)>;
  using OnOutput = std::function<void(exec::ExecSession&, exec::Stream, std::string_view)>;

  // `spec.isolation` is replaced by `isolation`. A linux sandbox also sees
  // the directory of the test helper program (AGENTD_TEST_CHILD), read-only
  // at the same path, so tests can run it in either backend.
  explicit ExecRunner(policy::Isolation isolation, policy::SandboxSpec spec = {}) {
    ::signal(SIGPIPE, SIG_IGN);  // as agentd does: a dead child's stdin gives EPIPE
    spec.isolation = isolation;
    if (isolation == policy::Isolation::kLinux) {
        backend_ = std::make_unique<sandbox::LinuxBackend>(io_, root_.path());
#ifdef AGENTD_TEST_CHILD
      std::string child = AGENTD_TEST_CHILD;
      spec.read_only_paths.push_back(child.substr(0, child.rfind('/')));
#endif
    } else {
      backend_ = std::make_unique<sandbox::HostDirectBackend>(io_, root_.path());
    }
    if (!backend_->info().available) return;
    // Unique per process: a linux sandbox's cgroup is named after it.
    static std::atomic<int> counter{0};
    auto created = backend_->create(spec, "test" + std::to_string(++counter));
    if (auto* error = std::get_if<sandbox::CreateError>(&created)) {
      create_error_ = *error;
      return;
    }
    sandbox_ = std::move(std::get<std::unique_ptr<sandbox::Sandbox>>(created));
  }
  ~ExecRunner() {
    if (sandbox_) sandbox_->destroy(false);
    io_.poll();  // handlers of the closed control channel, if any
  }
  ExecRunner(const ExecRunner&) = delete;
  ExecRunner& operator=(const ExecRunner&) = delete;

  bool ready() const { return sandbox_ != nullptr; }
  const sandbox::BackendInfo& backend_info() const { return backend_->info(); }
  const std::optional<sandbox::CreateError>& create_error() const { return create_error_; }
  // Why there is no sandbox: the backend's reason or the create error.
  std::string not_ready_reason() const {
    if (!backend_info().available) return backend_info().name + ": " + backend_info().reason;
    return create_error_ ? "sandbox/create failed: " + create_error_->message : "";
  }

  // Only when ready().
  sandbox::Sandbox& sandbox() { return *sandbox_; }
  // The workdir on the host, where the test reads and writes files.
  const std::string& workdir() const { return sandbox_->workdir(); }
  // The same directory as processes in the sandbox see it (cwd, HOME).
  const std::string& visible_workdir() const { return sandbox_->visible_workdir(); }
  std::string host_path(const std::string& name) const { return workdir() + "/" + name; }
  std::string visible_path(const std::string& name) const { return visible_workdir() + "/" + name; }

  exec::LaunchRequest request(std::vector<std::string> argv) const {
    exec::LaunchRequest r;
    r.argv = std::move(argv);
    r.env = policy::base_environment(visible_workdir());
    return r;
  }

  // Launches `req` and runs the io_context until the outcome arrives (or
  // kExecBound passes), then lets the remaining handlers run.
  ExecRun run(const exec::LaunchRequest& req, exec::ExecSession::Options options = {},
              const OnStart& on_start = {}, const OnOutput& on_output = {}) {
    ExecRun result;
    auto launched = sandbox_->launch(req);
    if (auto* failure = std::get_if<exec::LaunchFailure>(&launched)) {
      result.launch_failure = *failure;
      return result;
    }
    std::shared_ptr<exec::ExecSession> session;
    exec::ExecSession::Callbacks callbacks;
    callbacks.on_output = [&](exec::Stream stream, std::string_view bytes) {
      (stream == exec::Stream::kStdout ? result.out : result.err).append(bytes);
      if (on_output) on_output(*session, stream, bytes);
    };
    callbacks.wait_for_room = wait_for_room_;
    callbacks.on_exit = [&](const exec::ExecOutcome& outcome) {
      ++result.exit_calls;
      result.finished = true;
      result.outcome = outcome;
    };
    session = exec::ExecSession::start(io_, std::move(std::get<exec::LaunchedChild>(launched)),
                                       options, std::move(callbacks));
    if (on_start) on_start(*session);
    run_until_finished(result);
    if (!result.finished) {
      // Leave nothing running that could call back into `result` later.
      session->kill(SIGKILL);
      run_until_finished(result);
      result.finished = false;
    }
    return result;
  }

  // The pid a helper wrote to `name` in the workdir (as the sandbox sees
  // pids), or -1 when the file is missing or empty.
  pid_t read_pid_file(const std::string& name) const {
    std::ifstream in(host_path(name));
    long pid = -1;
    return in >> pid ? pid_t(pid) : -1;
  }

  // Runs a second exec that waits (bounded) until `pid` is gone from the
  // /proc the sandbox sees; true when it is. Meant for linux sandboxes,
  // whose init reaps every orphan. (On the host a zombie stays in /proc
  // until its parent reaps it.)
  bool wait_until_gone_in_sandbox(pid_t pid) {
    exec::LaunchRequest req = request(
        {"sh", "-c",
         "i=0; while [ -e /proc/$1 ]; do i=$((i+1)); [ $i -lt 500 ] || exit 1; sleep 0.1; done",
         "sh", std::to_string(pid)});
    ExecRun r = run(req);
    return r.finished && r.outcome.status == exec::ExecStatus::kExited && r.outcome.exit_code == 0;
  }

  boost::asio::io_context& io() { return io_; }
  // Back-pressure hook given to every later exec (see ExecSession::Callbacks).
  void set_wait_for_room(std::function<void(std::function<void()>)> hook) {
    wait_for_room_ = std::move(hook);
  }

 private:
  void run_until_finished(const ExecRun& result) {
    auto deadline = std::chrono::steady_clock::now() + kExecBound;
    while (!result.finished && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(100));
    }
    io_.poll();  // the last handlers: cancelled timers, closed pipes
  }

  boost::asio::io_context io_;
  // The context never runs out of work, so it never stops: restarting a
  // stopped context can run reactor events queued for a descriptor that has
  // been closed since (and whose state asio has handed to a new descriptor).
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  TempDir root_;
  std::unique_ptr<sandbox::Backend> backend_;
  std::optional<sandbox::CreateError> create_error_;
  std::unique_ptr<sandbox::Sandbox> sandbox_;
  std::function<void(std::function<void()>)> wait_for_room_;
};

// A host-direct sandbox (isolation "none"); throws when it cannot be made.
class HostExecRunner : public ExecRunner {
 public:
  HostExecRunner() : ExecRunner(policy::Isolation::kNone) {
    if (!ready()) throw std::runtime_error("host-direct create failed: " + not_ready_reason());
  }
};

}  // namespace agentd::test_support
