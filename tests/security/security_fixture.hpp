#pragma once

// The fixture of the security suite: a LinuxBackend on its own io_context,
// sandboxes owned by the test (destroyed after their execs are killed), the
// attack program visible inside at its own path, and the RESULT line of an
// attack parsed into a verdict.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "exec/exec_session.hpp"
#include "sandbox/linux_backend.hpp"
#include "support/exec_runner.hpp"
#include "support/temp_dir.hpp"

namespace agentd::security {

using test_support::ExecRun;

// The attack program (tests/helpers/attacks) on the host: $AGENTD_ATTACK,
// else where the build put it; and its directory.
const std::string& attack_program();
std::string attack_dir();
// The same inside a sandbox of SecurityTest::base_spec(): the directory is
// listed in readOnlyPaths (same path inside), or, when it lies where the
// sandbox builds its own tree (a build dir under /tmp), mounted read-only
// at /opt/agentd-attack.
std::string attack_dir_inside();
std::string attack_inside();

// What one attack printed, and how its exec ended.
struct AttackResult {
  ExecRun run;
  int result_lines = 0;  // RESULT lines seen; exactly one is expected
  std::string verdict;   // blocked, escaped, ok, done, broken, usage ("" if none)
  std::string err;       // errno name ("0": none)
  std::string detail;
};
AttackResult parse_attack(ExecRun run);
// For failure messages: the verdict, the outcome and the output.
std::string describe(const AttackResult& result);
std::string describe(const ExecRun& run);

// An exec running in the background of a test.
struct Background {
  std::shared_ptr<exec::ExecSession> session;
  std::shared_ptr<ExecRun> run = std::make_shared<ExecRun>();
  sandbox::Sandbox* owner = nullptr;
};

// Launches execs with ExecSession on one io_context, as agentd does.
class ExecDriver {
 public:
  ExecDriver();
  boost::asio::io_context& io() { return io_; }
  Background start(sandbox::Sandbox& sandbox, const exec::LaunchRequest& request,
                   exec::ExecSession::Options options = {});
  // Runs the event loop until `done` holds or `bound` passes; returns done().
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds bound = test_support::kExecBound);
  // Waits (bounded) for the exec to end; kills it if it does not.
  ExecRun finish(Background& background);

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
};

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The spec every sandbox of the suite starts from: default profile,
  // network none, the attack's directory read-only.
  static policy::SandboxSpec base_spec();
  // Creates a sandbox owned by the test. On a missing kernel feature the
  // test is skipped (GTEST_SKIP) and nullptr returned; on another error it
  // fails. Callers: `auto* sb = create(); if (!sb) return;`.
  sandbox::Sandbox* create(const policy::SandboxSpec& spec = base_spec());
  // Kills the sandbox's background execs, then destroys it (workdir too).
  void destroy(sandbox::Sandbox& sandbox);

  exec::LaunchRequest request(sandbox::Sandbox& sandbox, std::vector<std::string> argv) const;
  exec::LaunchRequest attack_request(sandbox::Sandbox& sandbox,
                                     std::vector<std::string> args) const;
  AttackResult attack(sandbox::Sandbox& sandbox, std::vector<std::string> args,
                      exec::ExecSession::Options options = {});
  Background start_attack(sandbox::Sandbox& sandbox, std::vector<std::string> args,
                          exec::ExecSession::Options options = {});
  // Runs until the background exec printed `marker` (bounded); returns whether it did.
  bool wait_for_output(Background& background, const std::string& marker);
  ExecRun run(sandbox::Sandbox& sandbox, const exec::LaunchRequest& request,
              exec::ExecSession::Options options = {});

  // The sandbox still serves a plain exec: `attack health` answers ok.
  void expect_healthy(sandbox::Sandbox& sandbox, const std::string& after);

  // The backend's probe of `name` (userNamespace, landlock, cgroups.pids, ...).
  const sandbox::FeatureState* backend_feature(const std::string& name) const;
  // The sandbox's report of `name`, or nullptr.
  static const sandbox::FeatureState* sandbox_feature(const sandbox::Sandbox& sandbox,
                                                      const std::string& name);

  ExecDriver driver_;
  test_support::TempDir root_;  // workdirs of the sandboxes
  std::unique_ptr<sandbox::LinuxBackend> backend_;
  std::vector<std::unique_ptr<sandbox::Sandbox>> sandboxes_;
  std::vector<Background> background_;
  int next_sandbox_ = 0;
};

// The blocked verdict, with an errno among `errnos` (any errno when empty),
// from an exec that exited 0 with exactly one RESULT line.
::testing::AssertionResult is_blocked(const AttackResult& result,
                                      const std::set<std::string>& errnos = {});
// The named verdict from an exec that exited normally with one RESULT line.
::testing::AssertionResult has_verdict(const AttackResult& result, const std::string& verdict);

}  // namespace agentd::security
