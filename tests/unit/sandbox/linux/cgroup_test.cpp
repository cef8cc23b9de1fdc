// Real cgroups: these tests create, limit, freeze and kill cgroups of forked
// children. They skip (with the reason) where the machine offers no cgroups
// to agentd, e.g. not root and no delegated cgroup v2 subtree.

#include "sandbox/linux/cgroup.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "sandbox/linux/cgroup_internal.hpp"

namespace agentd::sandbox::linuxns {
namespace {

namespace detail = cgroup_detail;
using ::testing::HasSubstr;
using CgroupPtr = std::unique_ptr<Cgroup>;
using State = FeatureState::State;
constexpr uint64_t kMiB = 1024 * 1024;

// A forked child that waits for release() (so the test can place it in a
// cgroup first), then runs `body` and _exits with its result.
class Child {
 public:
  explicit Child(const std::function<int()>& body) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[1]);
      char go = 0;
      ::_exit(::read(fds[0], &go, 1) == 1 ? body() : 120);
    }
    ::close(fds[0]);
    go_ = fds[1];
  }
  ~Child() {
    if (go_ >= 0) ::close(go_);
    if (pid_ > 0 && status_ < 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  pid_t pid() const { return pid_; }
  void release() {
    char go = 1;
    EXPECT_EQ(::write(go_, &go, 1), 1);
    ::close(go_);
    go_ = -1;
  }
  int wait() {
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  int status_ = -1;
};

std::string unique_name() {
  static int counter = 0;
  return "t" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

const FeatureState* find(const std::vector<FeatureState>& features, const std::string& name) {
  for (const FeatureState& feature : features) {
    if (feature.name == name) return &feature;
  }
  return nullptr;
}

// Where `pid` sits in the hierarchy holding `controller` ("" for cgroup v2).
std::string cgroup_dir_of(pid_t pid, const std::string& controller) {
  auto text = detail::read_text("/proc/" + std::to_string(pid) + "/cgroup");
  if (!text) return "";
  auto paths = detail::parse_proc_cgroup(*text);
  for (const detail::CgroupMount& mount : detail::read_cgroup_mounts()) {
    bool v1_match =
        mount.fstype == "cgroup" &&
        std::find(mount.options.begin(), mount.options.end(), controller) != mount.options.end();
    if (controller.empty() ? mount.fstype == "cgroup2" : v1_match) {
      return detail::own_dir_in(mount, paths[controller]).value_or("");
    }
  }
  return "";
}

std::string file_text(const std::string& path) {
  auto text = detail::read_text(path);
  return text ? std::string(detail::trim(*text)) : "<" + text.error().message() + ">";
}

bool eventually(const std::function<bool()>& done) {
  return detail::wait_until(done, std::chrono::milliseconds(3000));
}

void burn_cpu(std::chrono::nanoseconds amount) {
  timespec start{}, now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
  do {
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec) <
           amount.count());
}

class CgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);  // orphaned grandchildren come back to us
    probe_ = probe_cgroup_features();
  }
  void TearDown() override {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  // Why the machine lacks `feature`, or nullopt when it has it.
  std::optional<std::string> lacks(const std::string& feature) const {
    const FeatureState* state = find(probe_, feature);
    if (state == nullptr) return "probe did not report " + feature;
    if (state->state == State::kAvailable) return std::nullopt;
    return feature + " unavailable: " + state->reason;
  }
  // The cgroup of a create that must succeed (nullptr and a failure otherwise).
  CgroupPtr create(const CgroupLimits& limits) {
    auto result = Cgroup::create(unique_name(), limits);
    if (auto* error = std::get_if<CgroupError>(&result)) {
      ADD_FAILURE() << error->feature << ": " << error->reason << " (fix: " << error->fix << ")";
      return nullptr;
    }
    return std::move(std::get<CgroupPtr>(result));
  }

  std::vector<FeatureState> probe_;
};

#define REQUIRE(feature)                                 \
  do {                                                   \
    if (auto why = lacks(feature)) GTEST_SKIP() << *why; \
  } while (0)

TEST_F(CgroupTest, ProbeReportsEveryFeatureWithoutLeavingDirectories) {
  std::vector<std::string> names;
  for (const FeatureState& feature : probe_) {
    names.push_back(feature.name);
    EXPECT_TRUE(feature.state == State::kAvailable || feature.state == State::kUnavailable);
    bool explained =
        feature.state == State::kAvailable ? !feature.mechanism.empty() : !feature.reason.empty();
    EXPECT_TRUE(explained) << feature.name;
  }
  EXPECT_THAT(names, ::testing::ElementsAre("cgroups.memory", "cgroups.swap", "cgroups.pids",
                                            "cgroups.cpu", "cgroups.freezer", "cgroups.usage"));
  for (const char* controller : {"memory", "pids", "cpu", "freezer", ""}) {
    std::string own = cgroup_dir_of(::getpid(), controller);
    for (const std::string& child : detail::child_dirs(own)) {
      EXPECT_THAT(child, ::testing::Not(::testing::StartsWith("agentd-probe"))) << own;
    }
  }
}

TEST_F(CgroupTest, LimitsAreWrittenToTheCgroupFiles) {
  REQUIRE("cgroups.memory");
  REQUIRE("cgroups.pids");
  REQUIRE("cgroups.cpu");
  CgroupPtr cgroup = create({64 * kMiB, 20, 500});
  ASSERT_TRUE(cgroup);
  Child child([] { return 0; });
  ASSERT_TRUE(cgroup->add_process(child.pid()).ok());
  std::vector<FeatureState> features = cgroup->features();
  const FeatureState* pids = find(features, "cgroups.pids");
  ASSERT_TRUE(pids);
  std::string suffix = "/agentd-" + std::to_string(::getpid()) + "/";
  if (pids->mechanism.find("v1") != std::string::npos) {
    std::string memory = cgroup_dir_of(child.pid(), "memory");
    EXPECT_THAT(memory, HasSubstr(suffix));
    EXPECT_EQ(file_text(memory + "/memory.limit_in_bytes"), std::to_string(64 * kMiB));
    if (find(features, "cgroups.swap")->state == State::kEnforced) {
      EXPECT_EQ(file_text(memory + "/memory.memsw.limit_in_bytes"), std::to_string(64 * kMiB));
    }
    EXPECT_EQ(file_text(cgroup_dir_of(child.pid(), "pids") + "/pids.max"), "20");
    EXPECT_EQ(file_text(cgroup_dir_of(child.pid(), "cpu") + "/cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(file_text(cgroup_dir_of(child.pid(), "cpu") + "/cpu.cfs_period_us"), "100000");
  } else {
    std::string dir = cgroup_dir_of(child.pid(), "");
    EXPECT_THAT(dir, HasSubstr(suffix));
    EXPECT_EQ(file_text(dir + "/memory.max"), std::to_string(64 * kMiB));
    EXPECT_EQ(file_text(dir + "/pids.max"), "20");
    EXPECT_EQ(file_text(dir + "/cpu.max"), "50000 100000");
  }
  child.release();
  EXPECT_TRUE(WIFEXITED(child.wait()));
}

TEST_F(CgroupTest, FeaturesAreHonest) {
  REQUIRE("cgroups.pids");
  CgroupPtr cgroup = create({std::nullopt, 10, std::nullopt});
  ASSERT_TRUE(cgroup);
  auto features = cgroup->features();
  ASSERT_EQ(features.size(), 6u);
  EXPECT_EQ(find(features, "cgroups.memory")->state, State::kNotRequested);
  EXPECT_EQ(find(features, "cgroups.swap")->state, State::kNotRequested);
  EXPECT_EQ(find(features, "cgroups.cpu")->state, State::kNotRequested);
  EXPECT_EQ(find(features, "cgroups.pids")->state, State::kEnforced);
  EXPECT_THAT(find(features, "cgroups.pids")->mechanism, HasSubstr("pids.max"));
  EXPECT_NE(find(features, "cgroups.usage")->state, State::kNotRequested);
  if (!lacks("cgroups.memory")) {
    CgroupPtr limited = create({32 * kMiB, std::nullopt, std::nullopt});
    ASSERT_TRUE(limited);
    std::vector<FeatureState> limited_features = limited->features();
    const FeatureState* memory = find(limited_features, "cgroups.memory");
    EXPECT_EQ(memory->state, State::kEnforced);
    EXPECT_THAT(memory->mechanism, HasSubstr("memory."));
    const FeatureState* swap = find(limited_features, "cgroups.swap");
    EXPECT_TRUE(swap->state == State::kEnforced || !swap->reason.empty());
  }
}

TEST_F(CgroupTest, RefusesBadNamesAndZeroCpu) {
  auto bad_name = Cgroup::create("../escape", {});
  ASSERT_TRUE(std::holds_alternative<CgroupError>(bad_name));
  EXPECT_EQ(std::get<CgroupError>(bad_name).feature, "cgroups");
  auto zero_cpu = Cgroup::create(unique_name(), {std::nullopt, std::nullopt, 0});
  ASSERT_TRUE(std::holds_alternative<CgroupError>(zero_cpu));
  EXPECT_EQ(std::get<CgroupError>(zero_cpu).feature, "cgroups.cpu");
}

TEST_F(CgroupTest, PidsLimitStopsForks) {
  REQUIRE("cgroups.pids");
  CgroupPtr cgroup = create({std::nullopt, 5, std::nullopt});
  ASSERT_TRUE(cgroup);
  // Exits with the number of forks that worked when one failed with EAGAIN.
  Child child([] {
    for (int forked = 0; forked < 50; ++forked) {
      pid_t pid = ::fork();
      if (pid == 0) {
        ::pause();
        ::_exit(0);
      }
      if (pid < 0) return errno == EAGAIN ? forked : 200;
    }
    return 201;
  });
  ASSERT_TRUE(cgroup->add_process(child.pid()).ok());
  child.release();
  int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4);  // the child and 4 more make pids.max = 5
  cgroup->kill_all();
}

TEST_F(CgroupTest, MemoryLimitOomKills) {
  REQUIRE("cgroups.memory");
  CgroupPtr cgroup = create({32 * kMiB, std::nullopt, std::nullopt});
  ASSERT_TRUE(cgroup);
  bool swap_on = file_text("/proc/swaps").find('\n') != std::string::npos;
  if (find(cgroup->features(), "cgroups.swap")->state != State::kEnforced && swap_on) {
    GTEST_SKIP() << "swap is on and cannot be limited: the child might swap instead of dying";
  }
  uint64_t kills_before = cgroup->usage().oom_kills;
  Child child([] {
    const size_t size = 4 * 32 * kMiB;
    auto* bytes = static_cast<char*>(
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (bytes == MAP_FAILED) return 3;
    for (size_t i = 0; i < size; i += 4096) bytes[i] = 1;
    return 0;
  });
  ASSERT_TRUE(cgroup->add_process(child.pid()).ok());
  child.release();
  int status = child.wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  CgroupUsage usage = cgroup->usage();
  EXPECT_GT(usage.oom_kills, kills_before);
  EXPECT_GT(usage.memory_peak_bytes, 16 * kMiB);
  EXPECT_LE(usage.memory_peak_bytes, 32 * kMiB);
}

TEST_F(CgroupTest, FreezeStopsAndThawResumes) {
  REQUIRE("cgroups.freezer");
  CgroupPtr cgroup = create({});
  ASSERT_TRUE(cgroup);
  auto* counter = static_cast<std::atomic<uint64_t>*>(::mmap(nullptr, sizeof(std::atomic<uint64_t>),
                                                             PROT_READ | PROT_WRITE,
                                                             MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(counter, MAP_FAILED);
  counter->store(0);
  Child child([counter] {
    for (;;) counter->fetch_add(1, std::memory_order_relaxed);
    return 0;
  });
  ASSERT_TRUE(cgroup->add_process(child.pid()).ok());
  child.release();
  ASSERT_TRUE(eventually([&] { return counter->load() > 0; }));
  base::Status frozen = cgroup->freeze();
  ASSERT_TRUE(frozen.ok()) << frozen.error().message();
  uint64_t at_freeze = counter->load();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(counter->load(), at_freeze);
  base::Status thawed = cgroup->thaw();
  ASSERT_TRUE(thawed.ok()) << thawed.error().message();
  EXPECT_TRUE(eventually([&] { return counter->load() > at_freeze; }));
  cgroup->kill_all();
  EXPECT_TRUE(WIFSIGNALED(child.wait()));
  ::munmap(counter, sizeof(std::atomic<uint64_t>));
}

TEST_F(CgroupTest, KillAllStopsAForkBomb) {
  REQUIRE("cgroups.pids");
  CgroupPtr cgroup = create({std::nullopt, 50, std::nullopt});
  ASSERT_TRUE(cgroup);
  Child child([] {
    for (;;) ::fork();
    return 0;
  });
  ASSERT_TRUE(cgroup->add_process(child.pid()).ok());
  std::string dir = cgroup_dir_of(child.pid(), "pids");
  if (dir.empty()) dir = cgroup_dir_of(child.pid(), "");
  child.release();
  EXPECT_TRUE(eventually([&] { return detail::read_pids_tree(dir).size() >= 40; }));
  cgroup->kill_all();
  EXPECT_TRUE(detail::read_pids_tree(dir).empty());
  EXPECT_TRUE(WIFSIGNALED(child.wait()));
}

TEST_F(CgroupTest, UsageReportsCpuTime) {
  REQUIRE("cgroups.usage");
  CgroupPtr cgroup = create({});
  ASSERT_TRUE(cgroup);
  Child child([] {
    burn_cpu(std::chrono::milliseconds(150));
    return 0;
  });
  ASSERT_TRUE(cgroup->add_process(child.pid()).ok());
  child.release();
  EXPECT_TRUE(WIFEXITED(child.wait()));
  EXPECT_GE(cgroup->usage().cpu_time_ns, 100'000'000u);
}

TEST_F(CgroupTest, DestroyKillsAndRemovesTheDirectories) {
  REQUIRE("cgroups.usage");  // any cgroup at all
  CgroupPtr cgroup = create({});
  ASSERT_TRUE(cgroup);
  Child child([] {
    ::pause();
    return 0;
  });
  ASSERT_TRUE(cgroup->add_process(child.pid()).ok());
  std::vector<std::string> dirs;
  for (const char* controller : {"memory", "pids", "cpu", "cpuacct", "freezer", ""}) {
    std::string dir = cgroup_dir_of(child.pid(), controller);
    if (dir.find("/agentd-" + std::to_string(::getpid()) + "/") != std::string::npos) {
      dirs.push_back(dir);
    }
  }
  ASSERT_FALSE(dirs.empty());
  cgroup->destroy();
  EXPECT_TRUE(WIFSIGNALED(child.wait()));
  for (const std::string& dir : dirs) EXPECT_FALSE(detail::exists(dir)) << dir;
  cgroup->destroy();  // twice is fine
}

// On a hybrid machine (v1 controllers, a cgroup2 mount without them at
// /sys/fs/cgroup/unified) the v2 code still works for what needs no
// controller: freeze, kill, cpu usage, and refusing limits.
class CgroupV2CoreTest : public CgroupTest {
 protected:
  void SetUp() override {
    CgroupTest::SetUp();
    for (const detail::CgroupMount& mount : detail::read_cgroup_mounts()) {
      if (mount.fstype == "cgroup2" && mount.mount_point != "/sys/fs/cgroup") unified_ = mount;
    }
  }
  std::optional<detail::CgroupMount> unified_;
};

TEST_F(CgroupV2CoreTest, RefusesLimitsWithoutDelegatedControllers) {
  if (!unified_) GTEST_SKIP() << "no hybrid cgroup2 mount";
  if (::access(unified_->mount_point.c_str(), W_OK) != 0) GTEST_SKIP() << "not writable to us";
  auto controllers = detail::read_words(unified_->mount_point + "/cgroup.controllers");
  if (std::find(controllers.begin(), controllers.end(), "memory") != controllers.end()) {
    GTEST_SKIP() << "the hybrid cgroup2 mount has the memory controller";
  }
  auto result =
      detail::create_v2(*unified_, unique_name(), {64 * kMiB, std::nullopt, std::nullopt});
  ASSERT_TRUE(std::holds_alternative<CgroupError>(result));
  const CgroupError& error = std::get<CgroupError>(result);
  EXPECT_EQ(error.feature, "cgroups.memory");
  EXPECT_THAT(error.reason, HasSubstr("cgroup.controllers"));
  EXPECT_THAT(error.fix, HasSubstr("Delegate=yes"));
}

TEST_F(CgroupV2CoreTest, FreezesKillsAndCountsCpu) {
  if (!unified_) GTEST_SKIP() << "no hybrid cgroup2 mount";
  auto result = detail::create_v2(*unified_, unique_name(), {});
  if (auto* error = std::get_if<CgroupError>(&result)) GTEST_SKIP() << error->reason;
  CgroupPtr cgroup = std::move(std::get<CgroupPtr>(result));
  EXPECT_EQ(find(cgroup->features(), "cgroups.freezer")->state, State::kEnforced);
  Child child([] {
    for (int i = 0; i < 5; ++i) {
      if (::fork() == 0) ::pause();
    }
    burn_cpu(std::chrono::milliseconds(100));
    ::pause();
    return 0;
  });
  ASSERT_TRUE(cgroup->add_process(child.pid()).ok());
  std::string dir = cgroup_dir_of(child.pid(), "");
  child.release();
  EXPECT_TRUE(eventually([&] { return cgroup->usage().cpu_time_ns >= 50'000'000u; }));
  ASSERT_TRUE(cgroup->freeze().ok());
  EXPECT_EQ(file_text(dir + "/cgroup.freeze"), "1");
  ASSERT_TRUE(cgroup->thaw().ok());
  EXPECT_EQ(detail::read_pids_tree(dir).size(), 6u);
  cgroup->destroy();
  EXPECT_TRUE(WIFSIGNALED(child.wait()));
  EXPECT_FALSE(detail::exists(dir));
}

TEST(CgroupParsing, ProcSelfCgroup) {
  auto paths = detail::parse_proc_cgroup("4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/d:e\n");
  EXPECT_EQ(paths["memory"], "/a/b");
  EXPECT_EQ(paths["cpu"], "/c");
  EXPECT_EQ(paths["cpuacct"], "/c");
  EXPECT_EQ(paths[""], "/d:e");
}

TEST(CgroupParsing, MountinfoAndOwnDir) {
  auto mounts = detail::parse_mountinfo(
      "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
      "31 25 0:27 /nested /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory\n"
      "32 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
      "33 25 0:29 / /tmp rw - tmpfs tmpfs rw\n");
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_THAT(mounts[0].options, ::testing::ElementsAre("rw", "cpu", "cpuacct"));
  EXPECT_EQ(mounts[1].mount_point, "/sys/fs/cgroup/my memory");
  EXPECT_EQ(mounts[2].fstype, "cgroup2");
  EXPECT_EQ(detail::own_dir_in(mounts[1], "/nested/x"), "/sys/fs/cgroup/my memory/x");
  EXPECT_EQ(detail::own_dir_in(mounts[1], "/other"), std::nullopt);
  EXPECT_EQ(detail::own_dir_in(mounts[0], "/"), "/sys/fs/cgroup/cpu,cpuacct");
}

TEST(CgroupParsing, NumbersAndQuotas) {
  EXPECT_EQ(detail::keyed_u64("usage_usec 12\nuser_usec 3\n", "usage_usec"), 12u);
  EXPECT_EQ(detail::keyed_u64("oom_kill_disable 0\noom_kill 2\n", "oom_kill"), 2u);
  EXPECT_EQ(detail::parse_u64("max\n"), std::nullopt);
  EXPECT_EQ(detail::cpu_quota(500)->quota_us, 50000u);
  EXPECT_EQ(detail::cpu_quota(2000)->quota_us, 200000u);
  EXPECT_EQ(detail::cpu_quota(5)->period_us, 1000000u);
  EXPECT_EQ(detail::cpu_quota(5)->quota_us, 5000u);
  EXPECT_EQ(detail::cpu_quota(0), std::nullopt);
  EXPECT_TRUE(detail::memory_matches(10000, 8192));
  EXPECT_FALSE(detail::memory_matches(8192, 10000));
}

}  // namespace
}  // namespace agentd::sandbox::linuxns
