// SECURITY-CASES 22 (one sandbox against another), the teardown of a
// sandbox (nothing of it remains on the host), and the robustness of the
// backend itself.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "host_side.hpp"
#include "security_fixture.hpp"

namespace agentd::security {
namespace {

namespace fs = std::filesystem;

// 22: B can neither read, write, see, signal nor connect to A.
TEST_F(SecurityTest, OneSandboxCannotReachAnother) {
  auto* a = create();
  if (!a) return;
  auto* b = create();
  if (!b) return;
  std::ofstream(a->workdir() + "/a-secret.txt") << "agentd-sandbox-a-secret\n";
  ::chown((a->workdir() + "/a-secret.txt").c_str(), 0, 0);
  const std::string comm = unique_comm("victimA");
  const std::string socket = "agentd-a-" + std::to_string(::getpid());
  Background victim = start_attack(*a, {"victim", comm, socket});
  ASSERT_TRUE(wait_for_output(victim, "READY")) << describe(*victim.run);
  // The checks would prove nothing if A could not do these itself.
  ASSERT_TRUE(has_verdict(attack(*a, {"find-procs", comm}), "escaped"));
  ASSERT_TRUE(has_verdict(attack(*a, {"read-file", "/workspace/a-secret.txt"}), "escaped"));
  std::vector<pid_t> host_pids = host_pids_with_comm(comm);
  ASSERT_EQ(host_pids.size(), 1u);

  EXPECT_TRUE(is_blocked(attack(*b, {"read-file", a->workdir() + "/a-secret.txt"}), {"ENOENT"}));
  EXPECT_TRUE(is_blocked(attack(*b, {"read-file", "/workspace/a-secret.txt"}), {"ENOENT"}));
  EXPECT_TRUE(
      is_blocked(attack(*b, {"list-dir", fs::path(a->workdir()).parent_path()}), {"ENOENT"}));
  EXPECT_TRUE(is_blocked(attack(*b, {"write-file", a->workdir() + "/from-b"}), {"ENOENT"}));
  EXPECT_FALSE(fs::exists(a->workdir() + "/from-b"));
  EXPECT_TRUE(is_blocked(attack(*b, {"find-procs", comm}), {"ESRCH"}));
  EXPECT_TRUE(is_blocked(attack(*b, {"kill-pid", std::to_string(host_pids[0])}), {"ESRCH"}));
  EXPECT_TRUE(is_blocked(attack(*b, {"connect-abstract", socket}), {"ECONNREFUSED", "EPERM"}));

  EXPECT_FALSE(victim.run->finished) << "A's process died: " << describe(*victim.run);
  EXPECT_TRUE(host_process_alive(host_pids[0]));
  expect_healthy(*a, "attacks from another sandbox");
  expect_healthy(*b, "its attacks on another sandbox");
}

// Destroy (after the running execs are killed, as agentd's API does) leaves
// nothing: no process (an exec's background leftover in its own session
// included), no cgroup directory, no mount, no workdir.
TEST_F(SecurityTest, DestroyLeavesNothingBehind) {
  auto mounts_before = own_mount_points();
  auto inits_before = sandbox_init_pids();
  auto spec = base_spec();
  spec.limits.max_processes = 64;  // so that the sandbox surely has a cgroup
  auto* sb = create(spec);
  if (!sb) return;
  const std::string seconds = std::to_string(900000 + ::getpid() % 99999);
  Background sleeper = driver_.start(*sb, request(*sb, {"sleep", seconds}));
  background_.push_back(sleeper);
  const std::string leftover = unique_comm("teardwn");
  EXPECT_TRUE(
      has_verdict(attack(*sb, {"escape-timeout", leftover, "--leader-exits", "--quiet"}), "done"));
  std::vector<pid_t> inits;
  for (pid_t pid : sandbox_init_pids()) {
    if (std::find(inits_before.begin(), inits_before.end(), pid) == inits_before.end())
      inits.push_back(pid);
  }
  ASSERT_EQ(inits.size(), 1u);
  std::vector<pid_t> sleepers;
  driver_.run_until(
      [&] {
        return !(sleepers = host_pids_with_argv({"sleep", seconds})).empty();
      },
      std::chrono::seconds(10));
  ASSERT_EQ(sleepers.size(), 1u) << "the background sleep is not visible on the host";
  ASSERT_TRUE(host_comm_seen(leftover));
  std::string sandbox_dir = fs::path(sb->workdir()).filename().string();
  std::string id = sandbox_dir.substr(0, sandbox_dir.rfind('-'));
  auto cgroups = cgroup_dirs_named(id);
  const auto* pids = sandbox_feature(*sb, "cgroups.pids");
  bool has_cgroup = pids && pids->state == sandbox::FeatureState::State::kEnforced;
  if (has_cgroup) {
    EXPECT_FALSE(cgroups.empty()) << "the cgroup scan does not find the sandbox's cgroup";
  }
  for (const auto& point : own_mount_points()) {
    EXPECT_EQ(point.find(sb->workdir()), std::string::npos)
        << "a sandbox mount is visible on the host";
  }
  std::string workdir = sb->workdir();

  destroy(*sb);

  EXPECT_FALSE(host_process_alive(inits[0])) << "the init survived";
  EXPECT_FALSE(host_process_alive(sleepers[0])) << "the background sleep survived";
  EXPECT_TRUE(host_comm_absent(leftover)) << "what an exec left behind survived";
  for (const auto& dir : cgroups) EXPECT_FALSE(fs::exists(dir)) << "cgroup left behind: " << dir;
  EXPECT_TRUE(cgroup_dirs_named(id).empty());
  EXPECT_EQ(own_mount_points(), mounts_before) << "the host's mount table changed";
  EXPECT_FALSE(fs::exists(workdir)) << "the workdir was not removed";
}

// Destroy removes the workdir with whatever the sandbox planted in it:
// symlinks out of it (to the host's root, to a host directory) must be
// removed, never followed.
TEST_F(SecurityTest, DestroyDoesNotFollowSymlinksPlantedInTheWorkdir) {
  HostSecrets secrets;
  auto* sb = create();
  if (!sb) return;
  for (const auto& [target, link] :
       {std::pair<std::string, std::string>{"/", "/workspace/root-link"},
        {secrets.dir.path(), "/workspace/host-dir-link"},
        {secrets.secret, "/workspace/deep/a/b/secret-link"}}) {
    std::string dir = link.substr(0, link.rfind('/'));
    ExecRun made = run(
        *sb, request(*sb, {"sh", "-c", "mkdir -p " + dir + " && ln -s " + target + " " + link}));
    ASSERT_EQ(made.outcome.exit_code, 0) << describe(made);
  }
  std::string workdir = sb->workdir();
  ASSERT_TRUE(fs::is_symlink(workdir + "/host-dir-link"));
  destroy(*sb);
  EXPECT_FALSE(fs::exists(workdir));
  EXPECT_TRUE(fs::exists(secrets.secret)) << "destroy followed a symlink out of the workdir";
  EXPECT_TRUE(fs::exists("/etc/passwd"));
}

// The init's control channel goes to fd 3 before the helper is exec'd by
// descriptor: a helper descriptor that is itself fd 3 (a backend made first
// thing in a process) must not be clobbered.
TEST_F(SecurityTest, BackendWhoseHelperIsFd3StillStartsSandboxes) {
  int saved = ::fcntl(3, F_DUPFD_CLOEXEC, 10);  // whatever holds fd 3 now (ctest's log, ...)
  ::close(3);
  {
    sandbox::LinuxBackend early(driver_.io(), root_.path() + "/early");
    std::error_code ec;
    EXPECT_EQ(fs::read_symlink("/proc/self/fd/3", ec).filename(), "agentd-sandbox-init");
    auto created = early.create(base_spec(), "fd3-" + std::to_string(::getpid()));
    auto* error = std::get_if<sandbox::CreateError>(&created);
    EXPECT_EQ(error, nullptr) << "sandbox/create failed: " << (error ? error->message : "");
    if (!error) {
      auto& sb = *std::get<std::unique_ptr<sandbox::Sandbox>>(created);
      AttackResult health = attack(sb, {"health"});
      EXPECT_TRUE(has_verdict(health, "ok"));
      sb.destroy(false);
    }
  }
  if (saved >= 0) {
    ::dup3(saved, 3, O_CLOEXEC);
    ::close(saved);
  }
}

}  // namespace
}  // namespace agentd::security
