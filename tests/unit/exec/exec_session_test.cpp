#include "exec/exec_session.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/exec_runner.hpp"

namespace agentd::exec {
namespace {

using test_support::ExecRun;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kChild = AGENTD_TEST_CHILD;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Makes this process the reaper of orphaned descendants, so a test can wait
// for a grandchild of an exec and see how it ended.
void become_subreaper() { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }

// Waits (bounded) for `pid`, which must have been reparented to this
// process, and returns its wait status; nullopt when it never ended.
std::optional<int> reap_orphan(pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + test_support::kExecBound;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) {
      ADD_FAILURE() << "waitpid(" << pid << "): " << std::strerror(errno);
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

// A sandbox of one backend per test, and ways to launch execs in it and to
// check on the processes they leave behind.
class ExecTestBase : public ::testing::Test {
 protected:
  // Creates the sandbox; skips the test when the backend cannot run here.
  void start(policy::Isolation isolation) {
    isolation_ = isolation;
    runner_ = std::make_unique<test_support::ExecRunner>(isolation);
    if (!runner_->backend_info().available) {
      GTEST_SKIP() << runner_->backend_info().name
                   << " unavailable: " << runner_->backend_info().reason;
    }
    ASSERT_TRUE(runner_->ready()) << runner_->not_ready_reason();
  }
  bool is_linux() const { return isolation_ == policy::Isolation::kLinux; }

  ExecRun run(const LaunchRequest& req, ExecSession::Options options = {},
              const test_support::ExecRunner::OnStart& on_start = {},
              const test_support::ExecRunner::OnOutput& on_output = {}) {
    ExecRun r = runner_->run(req, options, on_start, on_output);
    if (!r.launch_failure) {
      EXPECT_TRUE(r.finished) << "the exec did not finish";
      EXPECT_EQ(r.exit_calls, 1) << "on_exit must be called exactly once";
    }
    return r;
  }
  LaunchRequest request(std::vector<std::string> argv) { return runner_->request(std::move(argv)); }
  LaunchRequest sh(const std::string& script) { return request({"sh", "-c", script}); }

  // Expects that the process `pid` (as the sandbox sees it) that an exec
  // left behind was killed. Host-direct: this process is its subreaper
  // (become_subreaper before the exec) and reaps it. Linux: the pid lives in
  // the sandbox's pid namespace and its init reaps it, so a second exec
  // watches /proc there until the pid is gone.
  void expect_killed(const std::string& pid_file, const std::string& what) {
    pid_t pid = runner_->read_pid_file(pid_file);
    ASSERT_GT(pid, 0) << what << ": no pid in " << pid_file;
    if (is_linux()) {
      EXPECT_TRUE(runner_->wait_until_gone_in_sandbox(pid))
          << what << " " << pid << " outlived the exec";
      return;
    }
    auto status = reap_orphan(pid);
    ASSERT_TRUE(status.has_value()) << what << " " << pid << " outlived the exec";
    EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  }

  policy::Isolation isolation_ = policy::Isolation::kNone;
  std::unique_ptr<test_support::ExecRunner> runner_;
};

// The contract both backends share: every test runs on host-direct and on
// linux (skipped where the linux backend cannot run).
class ExecSessionTest : public ExecTestBase,
                        public ::testing::WithParamInterface<policy::Isolation> {
 protected:
  void SetUp() override { start(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Backends, ExecSessionTest,
                         ::testing::Values(policy::Isolation::kNone, policy::Isolation::kLinux),
                         [](const auto& info) {
                           return test_support::isolation_test_name(info.param);
                         });

// Details of host-direct alone: its launch runs in agentd's own process
// (fork of agentd, zombies, exit handlers), which a linux sandbox's init
// does instead, out of this process's sight.
class HostExecSessionTest : public ExecTestBase {
 protected:
  void SetUp() override { start(policy::Isolation::kNone); }
};

// --- exit status ---

TEST_P(ExecSessionTest, ReportsTheExitCodeAndSeparatesStdoutFromStderr) {
  ExecRun r = run(sh("echo out; echo err >&2; exit 3"));
  EXPECT_EQ(r.outcome.status, ExecStatus::kExited);
  EXPECT_EQ(r.outcome.exit_code, 3);
  EXPECT_FALSE(r.outcome.signal.has_value());
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.outcome.stdout_bytes, 4u);
  EXPECT_EQ(r.outcome.stderr_bytes, 4u);
  EXPECT_FALSE(r.outcome.truncated);
  EXPECT_TRUE(r.outcome.reason.empty());
  EXPECT_TRUE(r.outcome.usage.has_value());
}

TEST_P(ExecSessionTest, ExitZero) {
  ExecRun r = run(request({"true"}));
  EXPECT_EQ(r.outcome.status, ExecStatus::kExited);
  EXPECT_EQ(r.outcome.exit_code, 0);
  EXPECT_THAT(r.out, IsEmpty());
}

TEST_P(ExecSessionTest, InterleavedStreamsStayApart) {
  ExecRun r = run(sh("i=0; while [ $i -lt 300 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done"));
  std::string want_out, want_err;
  for (int i = 0; i < 300; ++i) {
    want_out += "o" + std::to_string(i) + "\n";
    want_err += "e" + std::to_string(i) + "\n";
  }
  EXPECT_EQ(r.out, want_out);
  EXPECT_EQ(r.err, want_err);
  EXPECT_EQ(r.outcome.stdout_bytes, want_out.size());
  EXPECT_EQ(r.outcome.stderr_bytes, want_err.size());
}

TEST_P(ExecSessionTest, ReportsTheSignalThatEndedTheLeader) {
  ExecRun r = run(sh("kill -TERM $$"));
  EXPECT_EQ(r.outcome.status, ExecStatus::kSignaled);
  EXPECT_EQ(r.outcome.signal, SIGTERM);
  EXPECT_FALSE(r.outcome.exit_code.has_value());
  EXPECT_THAT(r.outcome.reason, HasSubstr("signal"));
}

// --- stdin ---

TEST_P(ExecSessionTest, StdinPipeDeliversBytesAndEof) {
  LaunchRequest req = request({"cat"});
  req.stdin_pipe = true;
  std::vector<std::optional<std::string>> write_results;
  ExecRun r = run(req, {}, [&](ExecSession& session) {
    EXPECT_TRUE(session.accepts_stdin());
    session.write_stdin("hello\n", false, [&](auto error) { write_results.push_back(error); });
    session.write_stdin("world", true, [&](auto error) { write_results.push_back(error); });
    EXPECT_FALSE(session.accepts_stdin());
    session.write_stdin("too late", false, [&](auto error) { write_results.push_back(error); });
  });
  EXPECT_EQ(r.outcome.status, ExecStatus::kExited);
  EXPECT_EQ(r.outcome.exit_code, 0);
  EXPECT_EQ(r.out, "hello\nworld");
  ASSERT_EQ(write_results.size(), 3u);
  // The refused write answers at once; the two real ones in order after it.
  EXPECT_TRUE(write_results[0].has_value());
  EXPECT_EQ(write_results[1], std::nullopt);
  EXPECT_EQ(write_results[2], std::nullopt);
}

TEST_P(ExecSessionTest, LargeStdinIsWrittenWhileOutputIsRead) {
  // Far more than a pipe holds in both directions: needs concurrent pumping.
  std::string input;
  for (int i = 0; input.size() < (3u << 20); ++i) input += "line " + std::to_string(i) + "\n";
  LaunchRequest req = request({"cat"});
  req.stdin_pipe = true;
  std::optional<std::string> write_error = "not called";
  ExecRun r = run(req, {}, [&](ExecSession& session) {
    session.write_stdin(input, true, [&](auto error) { write_error = error; });
  });
  EXPECT_EQ(write_error, std::nullopt);
  EXPECT_EQ(r.outcome.exit_code, 0);
  EXPECT_EQ(r.out.size(), input.size());
  EXPECT_TRUE(r.out == input);
}

TEST_P(ExecSessionTest, WithoutAStdinPipeStdinIsEmptyAndWritesAreRefused) {
  std::optional<std::string> write_error;
  ExecRun r = run(request({"cat"}), {}, [&](ExecSession& session) {
    EXPECT_FALSE(session.accepts_stdin());
    session.write_stdin("x", false, [&](auto error) { write_error = error; });
  });
  EXPECT_EQ(r.outcome.status, ExecStatus::kExited);
  EXPECT_EQ(r.outcome.exit_code, 0);
  EXPECT_THAT(r.out, IsEmpty());
  ASSERT_TRUE(write_error.has_value());
  EXPECT_THAT(*write_error, HasSubstr("stdin"));
}

TEST_P(ExecSessionTest, WritesPendingWhenTheProcessExitsFail) {
  LaunchRequest req = sh("exit 0");  // never reads its stdin
  req.stdin_pipe = true;
  std::optional<std::string> write_error;
  bool called = false;
  run(req, {}, [&](ExecSession& session) {
    session.write_stdin(std::string(4 << 20, 'x'), false, [&](auto error) {
      called = true;
      write_error = error;
    });
  });
  EXPECT_TRUE(called);
  EXPECT_TRUE(write_error.has_value());
}

// --- back-pressure ---

TEST_P(ExecSessionTest, ReadsWaitForRoomAndLoseNothing) {
  // The consumer grants room later, from the event loop, one read at a time.
  int waits = 0;
  runner_->set_wait_for_room([&](std::function<void()> resume) {
    ++waits;
    boost::asio::post(runner_->io(), std::move(resume));
  });
  ExecRun r = run(sh("head -c 300000 /dev/zero | tr '\\0' a; echo done >&2"));
  EXPECT_EQ(r.outcome.exit_code, 0);
  EXPECT_EQ(r.out, std::string(300000, 'a'));
  EXPECT_EQ(r.err, "done\n");
  EXPECT_GE(waits, 3);  // at least the first read of each stream and one more
}

// --- limits ---

TEST_P(ExecSessionTest, WallTimeLimitEndsTheExecAsTimeout) {
  ExecRun r = run(request({"sleep", "1000"}), {.wall_time_ms = 200});
  EXPECT_EQ(r.outcome.status, ExecStatus::kTimeout);
  EXPECT_EQ(r.outcome.signal, SIGKILL);
  EXPECT_THAT(r.outcome.reason, HasSubstr("wall time"));
}

TEST_P(ExecSessionTest, OutputLimitStopsTheExecAtExactlyTheLimit) {
  ExecRun r = run(request({"yes"}), {.max_output_bytes = 100000});
  EXPECT_EQ(r.outcome.status, ExecStatus::kOutputLimit);
  EXPECT_TRUE(r.outcome.truncated);
  EXPECT_EQ(r.outcome.stdout_bytes, 100000u);
  EXPECT_EQ(r.out.size(), 100000u);
  EXPECT_EQ(r.out.substr(0, 4), "y\ny\n");
  EXPECT_THAT(r.outcome.reason, HasSubstr("maxOutputBytes"));
}

TEST_P(ExecSessionTest, OutputLimitCountsBothStreams) {
  // stderr first, so that its bytes are counted before stdout fills the limit
  // (two pipes are read in no guaranteed order).
  ExecRun r = run(sh("echo err >&2; sleep 0.3; while :; do echo out; echo err >&2; done"),
                  {.max_output_bytes = 5000});
  EXPECT_EQ(r.outcome.status, ExecStatus::kOutputLimit);
  EXPECT_TRUE(r.outcome.truncated);
  EXPECT_EQ(r.outcome.stdout_bytes + r.outcome.stderr_bytes, 5000u);
  EXPECT_EQ(r.out.size(), r.outcome.stdout_bytes);
  EXPECT_EQ(r.err.size(), r.outcome.stderr_bytes);
  EXPECT_GT(r.outcome.stdout_bytes, 0u);
  EXPECT_GT(r.outcome.stderr_bytes, 0u);
}

TEST_P(ExecSessionTest, OutputExactlyAtTheLimitIsNotTruncated) {
  ExecRun r = run(request({"head", "-c", "70000", "/dev/zero"}), {.max_output_bytes = 70000});
  EXPECT_EQ(r.outcome.status, ExecStatus::kExited);
  EXPECT_FALSE(r.outcome.truncated);
  EXPECT_EQ(r.outcome.stdout_bytes, 70000u);
  EXPECT_EQ(r.out, std::string(70000, '\0'));
}

TEST_P(ExecSessionTest, CpuTimeLimitEndsTheExecAsTimeout) {
  LaunchRequest req = request({kChild, "spin"});
  req.limits.cpu_time_ms = 1000;
  ExecRun r = run(req, {.wall_time_ms = 50000, .cpu_time_ms = 1000});
  EXPECT_EQ(r.outcome.status, ExecStatus::kTimeout);
  EXPECT_THAT(r.outcome.reason, HasSubstr("cpu time"));
  ASSERT_TRUE(r.outcome.signal.has_value());
  EXPECT_TRUE(*r.outcome.signal == SIGXCPU || *r.outcome.signal == SIGKILL) << *r.outcome.signal;
}

TEST_P(ExecSessionTest, RlimitsAreAppliedInTheChild) {
  LaunchRequest req = sh("ulimit -n; ulimit -c");
  req.limits.max_open_files = 77;
  ExecRun r = run(req);
  EXPECT_THAT(lines_of(r.out), ElementsAre("77", "0"));
}

// --- kill ---

TEST_P(ExecSessionTest, KillOnRequestEndsTheExecAsKilled) {
  ExecRun r = run(sh("echo ready; exec sleep 1000"), {}, {},
                  [](ExecSession& session, Stream, std::string_view) { session.kill(SIGTERM); });
  EXPECT_EQ(r.outcome.status, ExecStatus::kKilled);
  EXPECT_EQ(r.outcome.signal, SIGTERM);
  EXPECT_EQ(r.out, "ready\n");
}

TEST_P(ExecSessionTest, KillReachesTheWholeProcessGroup) {
  become_subreaper();
  ExecRun r = run(request({kChild, "grandchild", runner_->visible_path("grandchild.pid")}), {}, {},
                  [](ExecSession& session, Stream, std::string_view) { session.kill(SIGKILL); });
  EXPECT_EQ(r.outcome.status, ExecStatus::kKilled);
  EXPECT_EQ(r.out, "ready\n");
  expect_killed("grandchild.pid", "the grandchild");
}

TEST_P(ExecSessionTest, TimeoutKillsADoubleForkedGrandchild) {
  become_subreaper();
  // Long enough for the helper to get going on a loaded machine.
  ExecRun r = run(request({kChild, "grandchild", runner_->visible_path("grandchild.pid")}),
                  {.wall_time_ms = 3000});
  EXPECT_EQ(r.outcome.status, ExecStatus::kTimeout);
  ASSERT_EQ(r.out, "ready\n") << "the helper did not get ready before the timeout";
  expect_killed("grandchild.pid", "the grandchild");
}

TEST_P(ExecSessionTest, LeaderExitWhileABackgroundChildHoldsStdoutFinishes) {
  become_subreaper();
  ExecRun r = run(request({kChild, "orphan", runner_->visible_path("orphan.pid")}));
  EXPECT_EQ(r.outcome.status, ExecStatus::kExited);
  EXPECT_EQ(r.outcome.exit_code, 0);
  expect_killed("orphan.pid", "the background child");
}

// --- launch ---

// The exec never starts: a LaunchFailure without a field (not the caller's
// params at fault), which the API turns into a setupError outcome. The
// wording differs: host-direct searches PATH itself ("not found on PATH"),
// the linux init reports the failed execve.
TEST_P(ExecSessionTest, MissingExecutableIsASetupFailure) {
  ExecRun r = run(request({"agentd-no-such-command-xyz"}));
  ASSERT_TRUE(r.launch_failure.has_value());
  EXPECT_EQ(r.launch_failure->field, "");
  EXPECT_THAT(r.launch_failure->message, HasSubstr("\"agentd-no-such-command-xyz\""));
  ExecOutcome outcome = setup_error_outcome(r.launch_failure->message);
  EXPECT_EQ(outcome.status, ExecStatus::kSetupError);
  EXPECT_EQ(outcome.reason, r.launch_failure->message);
}

TEST_F(HostExecSessionTest, MissingExecutableIsNotFoundOnPath) {
  ExecRun r = run(request({"agentd-no-such-command-xyz"}));
  ASSERT_TRUE(r.launch_failure.has_value());
  EXPECT_THAT(r.launch_failure->message, HasSubstr("not found"));
}

TEST_P(ExecSessionTest, ExecveFailuresNameTheCall) {
  ExecRun missing = run(request({"/nonexistent/agentd/tool"}));
  ASSERT_TRUE(missing.launch_failure.has_value());
  EXPECT_EQ(missing.launch_failure->field, "");
  EXPECT_THAT(missing.launch_failure->message, HasSubstr("execve"));
  EXPECT_THAT(missing.launch_failure->message, HasSubstr("No such file"));

  std::ofstream(runner_->host_path("not-executable")) << "#!/bin/sh\necho hi\n";
  ::chmod(runner_->host_path("not-executable").c_str(), 0600);
  ExecRun denied = run(request({runner_->visible_path("not-executable")}));
  ASSERT_TRUE(denied.launch_failure.has_value());
  EXPECT_EQ(denied.launch_failure->field, "");
  EXPECT_THAT(denied.launch_failure->message, HasSubstr("Permission denied"));
}

TEST_P(ExecSessionTest, AChildSetupFailureNamesTheStep) {
  LaunchRequest req = request({"true"});
  req.limits.max_open_files = uint64_t(1) << 40;  // above fs.nr_open: EPERM even for root
  ExecRun r = run(req);
  ASSERT_TRUE(r.launch_failure.has_value());
  EXPECT_EQ(r.launch_failure->field, "");
  EXPECT_THAT(r.launch_failure->message, HasSubstr("setrlimit"));
}

// The pids of this process's children, alive or zombie, read from /proc.
std::set<pid_t> children_of_this_process() {
  std::set<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = read_file(entry.path() / "stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;  // gone meanwhile
    std::istringstream fields(stat.substr(paren + 2));
    std::string state;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (ppid == ::getpid()) out.insert(pid_t(std::stol(name)));
  }
  return out;
}

// Host-direct forks agentd itself: the child of a failed launch is agentd's
// to reap. (In a linux sandbox the init forks and reaps it; see
// LinuxExecTest.AFailedLaunchLeavesNoZombieInTheSandbox.)
TEST_F(HostExecSessionTest, AFailedLaunchLeavesNoZombie) {
  auto before = children_of_this_process();
  ExecRun r = run(request({"/nonexistent/agentd/tool"}));
  ASSERT_TRUE(r.launch_failure.has_value());
  // launch returned: the forked child must be reaped already, not left as a
  // zombie that nobody will ever wait for.
  auto after = children_of_this_process();
  for (pid_t pid : after) EXPECT_EQ(before.count(pid), 1u) << "child " << pid << " left behind";
}

TEST_F(HostExecSessionTest, AChildSetupFailureLeavesNoZombie) {
  auto before = children_of_this_process();
  LaunchRequest req = request({"true"});
  req.limits.max_open_files = uint64_t(1) << 40;  // above fs.nr_open: EPERM even for root
  ExecRun r = run(req);
  ASSERT_TRUE(r.launch_failure.has_value());
  for (pid_t pid : children_of_this_process()) {
    EXPECT_EQ(before.count(pid), 1u) << "child " << pid << " left behind";
  }
}

// Set by the next test; an atexit handler that leaves a mark when it runs in
// any process but the test's own.
std::string g_exit_marker;
pid_t g_test_pid = 0;
void mark_exit_in_child() {
  if (g_exit_marker.empty() || ::getpid() == g_test_pid) return;
  int fd = ::open(g_exit_marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}

// Host-direct only: there the forked child is a copy of this process. (A
// linux sandbox's children are forked by agentd-sandbox-init.)
TEST_F(HostExecSessionTest, AFailedExecveDoesNotRunTheParentsExitHandlers) {
  // The forked child is a copy of agentd: after a failed execve it must
  // _exit, not exit(), which would run agentd's atexit handlers and static
  // destructors (and flush its stdio buffers) in the child.
  g_test_pid = ::getpid();
  g_exit_marker = runner_->host_path("exit-handlers-ran");
  ASSERT_EQ(std::atexit(mark_exit_in_child), 0);
  ExecRun r = run(request({"/nonexistent/agentd/tool"}));
  ASSERT_TRUE(r.launch_failure.has_value());
  // A leaked child would still be running its handlers: wait for it.
  for (pid_t pid : children_of_this_process()) ::waitpid(pid, nullptr, 0);
  EXPECT_NE(::access(g_exit_marker.c_str(), F_OK), 0) << "atexit handlers ran in the child";
  g_exit_marker.clear();
}

// cwd is relative to the workdir or absolute under the workdir as the
// sandbox sees it (visible_workdir: the host path on host-direct,
// /workspace on linux).
TEST_P(ExecSessionTest, CwdIsResolvedInsideTheWorkdir) {
  ExecRun made = run(sh("mkdir sub"));
  ASSERT_EQ(made.outcome.exit_code, 0) << made.err;
  const std::string& visible = runner_->visible_workdir();
  for (const std::string& cwd : std::vector<std::string>{"sub", visible + "/sub", "sub/../sub"}) {
    LaunchRequest req = sh("pwd -P");
    req.cwd = cwd;
    ExecRun r = run(req);
    ASSERT_FALSE(r.launch_failure.has_value()) << cwd << ": " << r.launch_failure->message;
    EXPECT_EQ(r.out, visible + "/sub\n")
        << cwd << " stderr: " << r.err << " status: " << status_name(r.outcome.status)
        << " code: " << r.outcome.exit_code.value_or(-1)
        << " signal: " << r.outcome.signal.value_or(-1);
  }
  ExecRun r = run(sh("pwd -P"));
  EXPECT_EQ(r.out, visible + "\n");
}

TEST_P(ExecSessionTest, CwdOutsideTheWorkdirIsRefused) {
  ASSERT_EQ(::symlink("/etc", runner_->host_path("etc_link").c_str()), 0);
  for (const std::string& cwd :
       std::vector<std::string>{"../..", "/etc", "/", "etc_link", "sub/../../..", "no-such-dir"}) {
    LaunchRequest req = sh("pwd");
    req.cwd = cwd;
    ExecRun r = run(req);
    ASSERT_TRUE(r.launch_failure.has_value()) << cwd << " was accepted: " << r.out;
    EXPECT_EQ(r.launch_failure->field, "cwd") << cwd;
  }
}

// --- what the child sees ---

TEST_P(ExecSessionTest, ChildSeesOnlyStdioFds) {
  // An fd agentd holds without CLOEXEC must not leak into the child either.
  int leak = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leak, 3);
  ExecRun r = run(request({kChild, "fds"}));
  ::close(leak);
  auto fds = lines_of(r.out);
  std::sort(fds.begin(), fds.end());
  EXPECT_THAT(fds, ElementsAre("0", "1", "2"));
  EXPECT_EQ(r.outcome.exit_code, 0) << r.err;
}

TEST_P(ExecSessionTest, LsOfProcSelfFdShowsStdioAndItsOwnDirectory) {
  ExecRun r = run(request({"ls", "/proc/self/fd"}));
  // ls opens the directory it lists: that is fd 3, and nothing else.
  EXPECT_THAT(lines_of(r.out), ElementsAre("0", "1", "2", "3"));
}

TEST_P(ExecSessionTest, ChildGetsExactlyTheGivenEnvironment) {
  LaunchRequest req = request({"env"});
  req.env["AGENTD_TEST"] = "a b=c";
  ::setenv("AGENTD_LEAK_CHECK", "1", 1);
  ExecRun r = run(req);
  ::unsetenv("AGENTD_LEAK_CHECK");
  std::set<std::string> got;
  for (const auto& line : lines_of(r.out)) got.insert(line);
  std::set<std::string> want;
  for (const auto& [name, value] : req.env) want.insert(name + "=" + value);
  EXPECT_EQ(got, want);
}

TEST_P(ExecSessionTest, ChildIsAProcessGroupLeaderWithCleanSignalState) {
  // Ignore and block signals here: the child must not inherit either.
  ::signal(SIGUSR1, SIG_IGN);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  ::sigprocmask(SIG_BLOCK, &block, &old);
  ExecRun r = run(request({"cat", "/proc/self/stat", "/proc/self/status"}));
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  ::signal(SIGUSR1, SIG_DFL);

  // /proc/self/stat: pid (comm) state ppid pgrp ...
  std::string stat = lines_of(r.out).at(0);
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string state, ppid, pgrp;
  fields >> state >> ppid >> pgrp;
  EXPECT_EQ(pgrp, stat.substr(0, stat.find(' '))) << "not its own process group: " << stat;
  EXPECT_THAT(r.out, HasSubstr("SigBlk:\t0000000000000000"));
  EXPECT_THAT(r.out, HasSubstr("SigIgn:\t0000000000000000"));
}

}  // namespace
}  // namespace agentd::exec
