// Exec behaviour only a linux sandbox provides, so host-direct cannot pass
// these: the init kills an exec's whole tree (setsid escapees included),
// and the sandbox's cgroup bounds memory and processes. The contract both
// backends share is in exec_session_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <sstream>
#include <string>

#include "support/exec_runner.hpp"

namespace agentd::exec {
namespace {

using test_support::ExecRun;
using ::testing::HasSubstr;

constexpr const char* kChild = AGENTD_TEST_CHILD;

class LinuxExecTest : public ::testing::Test {
 protected:
  // Creates a linux sandbox with `spec`; skips when the backend, or a
  // feature the spec needs (a cgroup controller), is unavailable here.
  void start(policy::SandboxSpec spec = {}) {
    runner_ = std::make_unique<test_support::ExecRunner>(policy::Isolation::kLinux, spec);
    const auto& info = runner_->backend_info();
    if (!info.available) GTEST_SKIP() << "linux backend unavailable: " << info.reason;
    const auto& error = runner_->create_error();
    if (error && error->kind == sandbox::CreateError::Kind::kFeatureUnavailable) {
      GTEST_SKIP() << error->feature << " unavailable: " << error->message;
    }
    ASSERT_TRUE(runner_->ready()) << runner_->not_ready_reason();
  }

  ExecRun run(const LaunchRequest& req, ExecSession::Options options = {},
              const test_support::ExecRunner::OnOutput& on_output = {}) {
    ExecRun r = runner_->run(req, options, {}, on_output);
    EXPECT_FALSE(r.launch_failure.has_value()) << r.launch_failure->message;
    EXPECT_TRUE(r.finished) << "the exec did not finish";
    EXPECT_EQ(r.exit_calls, 1) << "on_exit must be called exactly once";
    return r;
  }

  std::unique_ptr<test_support::ExecRunner> runner_;
};

// --- the whole tree of an exec ---

// The escapee leaves the exec's session and process group and ignores
// SIGTERM: killpg cannot reach it. The init finds it as a descendant of the
// exec's leader (a subreaper) and SIGKILLs it with the rest.
TEST_F(LinuxExecTest, TimeoutKillsASetsidGrandchildThatIgnoresSigterm) {
  start();
  LaunchRequest req = runner_->request({kChild, "escapee", runner_->visible_path("escapee.pid")});
  // Long enough for the helper to get going on a loaded machine.
  ExecRun r = run(req, {.wall_time_ms = 3000});
  EXPECT_EQ(r.outcome.status, ExecStatus::kTimeout);
  ASSERT_EQ(r.out, "ready\n") << "the helper did not get ready before the timeout";
  pid_t escapee = runner_->read_pid_file("escapee.pid");
  ASSERT_GT(escapee, 0);
  EXPECT_TRUE(runner_->wait_until_gone_in_sandbox(escapee))
      << "the setsid grandchild " << escapee << " outlived the exec";
}

TEST_F(LinuxExecTest, KillReachesASetsidGrandchildThatIgnoresSigterm) {
  start();
  LaunchRequest req = runner_->request({kChild, "escapee", runner_->visible_path("escapee.pid")});
  ExecRun r =
      run(req, {}, [](ExecSession& session, Stream, std::string_view) { session.kill(SIGKILL); });
  EXPECT_EQ(r.outcome.status, ExecStatus::kKilled);
  ASSERT_EQ(r.out, "ready\n");
  pid_t escapee = runner_->read_pid_file("escapee.pid");
  ASSERT_GT(escapee, 0);
  EXPECT_TRUE(runner_->wait_until_gone_in_sandbox(escapee))
      << "the setsid grandchild " << escapee << " outlived the exec";
}

// The init forks every exec and reaps a child whose execve failed.
TEST_F(LinuxExecTest, AFailedLaunchLeavesNoZombieInTheSandbox) {
  start();
  ExecRun failed = runner_->run(runner_->request({"/nonexistent/agentd/tool"}));
  ASSERT_TRUE(failed.launch_failure.has_value());
  // /proc/<pid>/stat of every process of the sandbox: "pid (comm) state ...".
  ExecRun r = run(runner_->request({"sh", "-c", "cat /proc/[0-9]*/stat"}));
  EXPECT_EQ(r.outcome.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  int processes = 0;
  for (std::string line; std::getline(lines, line); ++processes) {
    size_t paren = line.rfind(')');
    ASSERT_NE(paren, std::string::npos) << line;
    EXPECT_NE(line.substr(paren + 2, 1), "Z") << "a zombie: " << line;
  }
  EXPECT_GE(processes, 2) << r.out;  // the init and this exec at least
}

// --- what the sandbox sees ---

TEST_F(LinuxExecTest, TheHostPathOfTheWorkdirIsNoCwd) {
  start();
  LaunchRequest req = runner_->request({"pwd"});
  req.cwd = runner_->workdir();
  ExecRun r = runner_->run(req);
  ASSERT_TRUE(r.launch_failure.has_value()) << runner_->workdir() << " was accepted: " << r.out;
  EXPECT_EQ(r.launch_failure->field, "cwd");
}

TEST_F(LinuxExecTest, HomeAndDefaultCwdAreTheWorkspace) {
  start();
  EXPECT_EQ(runner_->visible_workdir(), "/workspace");
  ExecRun r = run(runner_->request({"sh", "-c", "pwd -P; echo \"$HOME\""}));
  EXPECT_EQ(r.out, "/workspace\n/workspace\n") << r.err;
}

// --- cgroup limits of the whole sandbox ---

TEST_F(LinuxExecTest, MemoryLimitEndsTheExecAsMemoryLimit) {
  policy::SandboxSpec spec;
  spec.limits.memory_bytes = uint64_t(64) << 20;
  start(spec);
  ExecRun r = run(runner_->request({kChild, "alloc", "512"}));
  EXPECT_EQ(r.outcome.status, ExecStatus::kMemoryLimit)
      << status_name(r.outcome.status) << ": " << r.outcome.reason << " " << r.out << r.err;
  EXPECT_EQ(r.outcome.signal, SIGKILL);
  EXPECT_THAT(r.outcome.reason, HasSubstr("memory"));
  EXPECT_EQ(r.out, "") << "512 MiB fit under a 64 MiB limit";
  // The sandbox lives on: the next exec runs.
  ExecRun after = run(runner_->request({"true"}));
  EXPECT_EQ(after.outcome.status, ExecStatus::kExited);
}

TEST_F(LinuxExecTest, PidsLimitHolds) {
  constexpr int kMaxProcesses = 16;
  policy::SandboxSpec spec;
  spec.limits.max_processes = kMaxProcesses;
  start(spec);
  ExecRun r = run(runner_->request({kChild, "forks", "64"}));
  ASSERT_EQ(r.outcome.exit_code, 0) << r.err;
  int forked = -1, error = -1;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "forked %d errno %d", &forked, &error), 2) << r.out;
  // The init and the helper count too.
  EXPECT_LE(forked, kMaxProcesses - 2) << r.out;
  EXPECT_EQ(error, EAGAIN) << r.out;
  // The forks are gone with the helper: the sandbox can start processes again.
  ExecRun after = run(runner_->request({kChild, "forks", "4"}));
  EXPECT_EQ(after.out, "forked 4 errno 0\n");
}

}  // namespace
}  // namespace agentd::exec
