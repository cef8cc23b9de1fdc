// SECURITY-CASES 14-19: fork bomb, memory bomb, CPU spin, output flood,
// disk fill, and escaping the timeout. The status of each exec must name
// the limit that fired, and the sandbox must serve the next exec.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>

#include "host_side.hpp"
#include "security_fixture.hpp"

namespace agentd::security {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;

// The number after "key=" in `text`, or -1.
long long number_after(const std::string& text, const std::string& key) {
  size_t at = text.find(key + "=");
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + key.size() + 1));
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A process that keeps replacing itself can slip through one scan of /proc:
// look several times, and report the first sighting.
class FindProcs : public SecurityTest {
 protected:
  AttackResult find_procs(sandbox::Sandbox& sb, const std::string& comm, int scans = 5) {
    AttackResult result;
    for (int i = 0; i < scans; ++i) {
      result = attack(sb, {"find-procs", comm});
      if (result.verdict != "blocked") return result;
    }
    return result;
  }
};

// 14: held by the sandbox's pids limit; agentd and the sandbox stay usable.
TEST_F(SecurityTest, ForkBombIsHeldByThePidsLimit) {
  auto spec = base_spec();
  spec.limits.max_processes = 64;
  auto* sb = create(spec);
  if (!sb) return;
  AttackResult result = attack(*sb, {"fork-bomb"});
  EXPECT_TRUE(is_blocked(result, {"EAGAIN"}));
  long long forked = number_after(result.detail, "forked");
  EXPECT_GE(forked, 0) << result.detail;
  EXPECT_LT(forked, 64) << "more processes than the sandbox's maxProcesses";
  expect_healthy(*sb, "a fork bomb");
}

// 14, 19: every process forks forever; the wall time ends the exec, its
// whole tree dies, and the pids are free again for the next exec.
TEST_F(SecurityTest, WildForkBombEndsAtTheWallTimeAndTheSandboxRecovers) {
  auto spec = base_spec();
  spec.limits.max_processes = 64;
  auto* sb = create(spec);
  if (!sb) return;
  ExecRun run = attack(*sb, {"fork-bomb", "--wild"}, {.wall_time_ms = 2000}).run;
  EXPECT_EQ(run.outcome.status, exec::ExecStatus::kTimeout) << describe(run);
  expect_healthy(*sb, "a wild fork bomb");
}

// 15
TEST_F(SecurityTest, MemoryBombEndsWithStatusMemoryLimit) {
  auto spec = base_spec();
  spec.limits.memory_bytes = 64 * kMiB;
  auto* sb = create(spec);
  if (!sb) return;
  ExecRun run = attack(*sb, {"memory-bomb"}).run;
  EXPECT_EQ(run.outcome.status, exec::ExecStatus::kMemoryLimit) << describe(run);
  EXPECT_TRUE(has(run.out, "RESULT") == false) << "the bomb was not stopped: " << describe(run);
  expect_healthy(*sb, "a memory bomb");
}

// 16: RLIMIT_CPU, whether the spinner dies of SIGXCPU or ignores it.
class CpuSpin : public SecurityTest, public ::testing::WithParamInterface<bool> {};

TEST_P(CpuSpin, IsStoppedByTheCpuTimeLimit) {
  auto* sb = create();
  if (!sb) return;
  exec::LaunchRequest req = attack_request(*sb, {"cpu-spin"});
  if (GetParam()) req.argv.push_back("--ignore-xcpu");
  req.limits.cpu_time_ms = 1000;
  ExecRun run = this->run(*sb, req, {.cpu_time_ms = 1000});
  EXPECT_EQ(run.outcome.status, exec::ExecStatus::kTimeout) << describe(run);
  EXPECT_TRUE(has(run.outcome.reason, "cpu"))
      << "the reason must name the cpu limit: " << run.outcome.reason;
  expect_healthy(*sb, "a cpu spin");
}

INSTANTIATE_TEST_SUITE_P(Cases, CpuSpin, ::testing::Bool(), [](const auto& info) {
  return info.param ? std::string("IgnoringSigxcpu") : std::string("Plain");
});

// 16: RLIMIT_CPU is per process: a spinner that hands the work to a new
// child every 0.3 s of CPU never meets it. Only the wall time stops it.
TEST_F(SecurityTest, CpuSpinSpreadOverChildrenIsStoppedByTheWallTime) {
  auto* sb = create();
  if (!sb) return;
  exec::LaunchRequest req = attack_request(*sb, {"cpu-spin", "--fork"});
  req.limits.cpu_time_ms = 1000;
  ExecRun run = this->run(*sb, req, {.wall_time_ms = 2500, .cpu_time_ms = 1000});
  EXPECT_EQ(run.outcome.status, exec::ExecStatus::kTimeout) << describe(run);
  EXPECT_TRUE(has(run.outcome.reason, "wall")) << run.outcome.reason;
  expect_healthy(*sb, "a forking cpu spin");
}

// 16: a sleeping process is stopped by the wall time.
TEST_F(SecurityTest, SleepIsStoppedByTheWallTime) {
  auto* sb = create();
  if (!sb) return;
  ExecRun run = this->run(*sb, request(*sb, {"sleep", "100"}), {.wall_time_ms = 500});
  EXPECT_EQ(run.outcome.status, exec::ExecStatus::kTimeout) << describe(run);
  EXPECT_TRUE(has(run.outcome.reason, "wall")) << run.outcome.reason;
  expect_healthy(*sb, "a sleep past the wall time");
}

// 17: gigabytes to stdout end at maxOutputBytes exactly, truncated.
TEST_F(SecurityTest, OutputFloodIsCappedAtMaxOutputBytes) {
  auto* sb = create();
  if (!sb) return;
  ExecRun run =
      this->run(*sb, request(*sb, {"head", "-c", "10G", "/dev/zero"}), {.max_output_bytes = kMiB});
  EXPECT_EQ(run.outcome.status, exec::ExecStatus::kOutputLimit) << describe(run);
  EXPECT_TRUE(run.outcome.truncated);
  EXPECT_EQ(run.outcome.stdout_bytes + run.outcome.stderr_bytes, kMiB);
  EXPECT_EQ(run.out.size() + run.err.size(), kMiB) << "agentd delivered more than the limit";
  expect_healthy(*sb, "an output flood");
}

TEST_F(SecurityTest, OutputFloodOnBothStreamsIsCappedTogether) {
  auto* sb = create();
  if (!sb) return;
  ExecRun run = attack(*sb, {"output-flood", "--both"}, {.max_output_bytes = kMiB}).run;
  EXPECT_EQ(run.outcome.status, exec::ExecStatus::kOutputLimit) << describe(run);
  EXPECT_TRUE(run.outcome.truncated);
  EXPECT_EQ(run.outcome.stdout_bytes + run.outcome.stderr_bytes, kMiB);
  EXPECT_EQ(run.out.size() + run.err.size(), kMiB);
  expect_healthy(*sb, "an output flood on both streams");
}

// 18: RLIMIT_FSIZE in the workdir: EFBIG when SIGXFSZ is ignored, else the
// signal ends the exec. The host file never grows past the limit.
TEST_F(SecurityTest, DiskFillStopsAtTheFileSizeLimit) {
  auto* sb = create();
  if (!sb) return;
  exec::LaunchRequest ignoring =
      attack_request(*sb, {"disk-fill", "/workspace/big", "--ignore-sigxfsz"});
  ignoring.limits.max_file_size_bytes = kMiB;
  AttackResult result = parse_attack(run(*sb, ignoring));
  EXPECT_TRUE(is_blocked(result, {"EFBIG"}));
  EXPECT_EQ(number_after(result.detail, "written"), (long long)kMiB) << result.detail;

  exec::LaunchRequest plain = attack_request(*sb, {"disk-fill", "/workspace/big"});
  plain.limits.max_file_size_bytes = kMiB;
  ExecRun killed = run(*sb, plain);
  EXPECT_EQ(killed.outcome.status, exec::ExecStatus::kSignaled) << describe(killed);
  EXPECT_EQ(killed.outcome.signal, SIGXFSZ);
  std::error_code ec;
  EXPECT_LE(fs::file_size(sb->workdir() + "/big", ec), kMiB);
  expect_healthy(*sb, "filling the workdir");
}

// 18: the sandbox's tmpfs mounts have a size; writes end with ENOSPC.
class TmpfsFill : public SecurityTest,
                  public ::testing::WithParamInterface<std::pair<std::string, uint64_t>> {};

TEST_P(TmpfsFill, StopsAtTheTmpfsSize) {
  const auto& [path, size] = GetParam();
  auto* sb = create();
  if (!sb) return;
  AttackResult result = attack(*sb, {"disk-fill", path, "--cap-mib", "1024"});
  EXPECT_TRUE(is_blocked(result, {"ENOSPC"}));
  long long written = number_after(result.detail, "written");
  EXPECT_GE(written, 0) << result.detail;
  EXPECT_LE(uint64_t(written), size) << "wrote more than the tmpfs holds";
  expect_healthy(*sb, "filling " + path);
}

INSTANTIATE_TEST_SUITE_P(Cases, TmpfsFill,
                         ::testing::Values(std::make_pair(std::string("/tmp/fill"), 256 * kMiB),
                                           std::make_pair(std::string("/dev/shm/fill"), 64 * kMiB)),
                         [](const auto& info) {
                           return info.param.first == "/tmp/fill" ? std::string("Tmp")
                                                                  : std::string("DevShm");
                         });

// An exec cannot lift the limits agentd set on it.
TEST_F(SecurityTest, ExecsCannotRaiseTheirLimits) {
  auto* sb = create();
  if (!sb) return;
  exec::LaunchRequest req = attack_request(*sb, {"raise-rlimits"});
  req.limits.cpu_time_ms = 5000;
  req.limits.max_file_size_bytes = kMiB;
  req.limits.max_open_files = 64;
  EXPECT_TRUE(is_blocked(parse_attack(run(*sb, req)), {"EPERM"}));
}

// 19: a double fork + setsid + ignored SIGTERM, killed when its exec times
// out. With `hop`, the escapee forks a successor in a new session every
// millisecond and exits, racing the kill.
class TimeoutEscape : public FindProcs, public ::testing::WithParamInterface<bool> {};

TEST_P(TimeoutEscape, TheWholeTreeDiesWithTheExec) {
  auto* sb = create();
  if (!sb) return;
  const std::string comm = unique_comm("escapee");
  std::vector<std::string> args = {"escape-timeout", comm};
  if (GetParam()) args.push_back("--hop");
  Background escape = start_attack(*sb, args, {.wall_time_ms = 3000});
  ASSERT_TRUE(wait_for_output(escape, "STARTED")) << describe(*escape.run);
  EXPECT_TRUE(has_verdict(find_procs(*sb, comm), "escaped"))
      << "the escapee is not running: the test would prove nothing";
  ExecRun run = driver_.finish(escape);
  EXPECT_EQ(run.outcome.status, exec::ExecStatus::kTimeout) << describe(run);
  AttackResult after = find_procs(*sb, comm);
  EXPECT_TRUE(is_blocked(after, {"ESRCH"})) << "a process of the timed-out exec survived it";
  EXPECT_TRUE(host_comm_absent(comm));
  expect_healthy(*sb, "escaping a timeout");
}

INSTANTIATE_TEST_SUITE_P(Cases, TimeoutEscape, ::testing::Bool(), [](const auto& info) {
  return info.param ? std::string("Hopping") : std::string("DoubleForkSetsid");
});

// 19: what an exec leaves behind when its leader exits (a setsid escapee
// outlives its exec by design) dies with the sandbox.
TEST_P(TimeoutEscape, LeftoversDieWithTheSandbox) {
  auto* sb = create();
  if (!sb) return;
  const std::string comm = unique_comm("leftovr");
  std::vector<std::string> args = {"escape-timeout", comm, "--leader-exits", "--quiet"};
  if (GetParam()) args.push_back("--hop");
  EXPECT_TRUE(has_verdict(attack(*sb, args), "done"));
  EXPECT_TRUE(has_verdict(find_procs(*sb, comm), "escaped"))
      << "nothing was left behind: the test would prove nothing";
  EXPECT_TRUE(host_comm_seen(comm)) << "the host scan does not see the leftover";
  destroy(*sb);
  EXPECT_TRUE(host_comm_absent(comm)) << "a process survived its sandbox";
}

}  // namespace
}  // namespace agentd::security
