#pragma once

#include <signal.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

#include "exec/exec_session.hpp"
#include "sandbox/host_direct.hpp"
#include "support/temp_dir.hpp"

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

// A host-direct sandbox (isolation "none") in a temp dir, and an io_context
// to run execs in it with exec::ExecSession.
class HostExecRunner {
 public:
  using OnStart = std::function<void(exec::ExecSession&)>;
  using OnOutput = std::function<void(exec::ExecSession&, exec::Stream, std::string_view)>;

  HostExecRunner() {
    ::signal(SIGPIPE, SIG_IGN);  // as agentd does: a dead child's stdin gives EPIPE
    policy::SandboxSpec spec;
    spec.isolation = policy::Isolation::kNone;
    auto created = backend_.create(spec, "test");
    if (auto* error = std::get_if<sandbox::CreateError>(&created)) {
      throw std::runtime_error("host-direct create failed: " + error->message);
    }
    sandbox_ = std::move(std::get<std::unique_ptr<sandbox::Sandbox>>(created));
  }
  ~HostExecRunner() { sandbox_->destroy(false); }

  const std::string& workdir() const { return sandbox_->workdir(); }

  exec::LaunchRequest request(std::vector<std::string> argv) const {
    exec::LaunchRequest r;
    r.argv = std::move(argv);
    r.env = policy::base_environment(workdir());
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
  sandbox::HostDirectBackend backend_{io_, root_.path()};
  std::unique_ptr<sandbox::Sandbox> sandbox_;
  std::function<void(std::function<void()>)> wait_for_room_;
};

}  // namespace agentd::test_support
