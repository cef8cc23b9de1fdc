// cgroup v1: one hierarchy per controller (cpu and cpuacct maybe co-mounted).
// A sandbox gets <own cgroup>/agentd-<pid>/<name> in each hierarchy, where
// <own cgroup> is this process's path in that hierarchy (/proc/self/cgroup),
// so agentd works nested inside someone else's cgroup too.

#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "base/log.hpp"
#include "sandbox/janitor.hpp"
#include "sandbox/linux/cgroup_internal.hpp"

namespace agentd::sandbox::linuxns::cgroup_detail {

namespace {

using std::chrono::milliseconds;

constexpr const char* kV1Controllers[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};

// This process's directory in one controller's hierarchy, or why there is none.
struct V1Place {
  std::string own_dir;
  std::string reason;
};

V1Place locate(const char* controller, const std::vector<CgroupMount>& mounts,
               const std::map<std::string, std::string>& own) {
  const CgroupMount* found = nullptr;
  for (const CgroupMount& mount : mounts) {
    if (mount.fstype != "cgroup") continue;
    for (const std::string& option : mount.options) {
      if (option == controller && found == nullptr) found = &mount;
    }
  }
  std::string name = controller;
  if (found == nullptr)
    return {"", "no cgroup v1 hierarchy with the " + name + " controller is mounted"};
  auto path = own.find(name);
  if (path == own.end()) return {"", "/proc/self/cgroup lists no " + name + " hierarchy"};
  auto dir = own_dir_in(*found, path->second);
  if (!dir)
    return {"", "own " + name + " cgroup " + path->second + " is not below " + found->mount_point};
  return {*dir, ""};
}

std::map<std::string, V1Place> locate_all() {
  std::vector<CgroupMount> mounts = read_cgroup_mounts();
  std::map<std::string, std::string> own = read_own_cgroups();
  std::map<std::string, V1Place> places;
  for (const char* controller : kV1Controllers)
    places[controller] = locate(controller, mounts, own);
  return places;
}

// The sandbox's directories: controller -> directory (shared by co-mounted
// controllers), the reason for every controller without one, and each
// distinct directory once, in creation order.
struct V1Dirs {
  std::map<std::string, std::string> dir;
  std::map<std::string, std::string> reason;
  std::vector<std::string> created;
};

base::Result<std::string> make_sandbox_dir(const std::string& own_dir, const std::string& name) {
  reap_stale_bases(own_dir);
  std::string base = own_dir + "/" + base_dir_name();
  if (base::Status made = make_dir(base, true); !made) return made.error();
  std::string dir = base + "/" + name;
  if (base::Status made = make_dir(dir, false); !made) return made.error();
  return dir;
}

V1Dirs make_dirs(const std::string& name) {
  V1Dirs dirs;
  std::map<std::string, std::string> made_under;  // own_dir -> sandbox dir
  for (const auto& [controller, place] : locate_all()) {
    if (place.own_dir.empty()) {
      dirs.reason[controller] = place.reason;
    } else if (auto it = made_under.find(place.own_dir); it != made_under.end()) {
      dirs.dir[controller] = it->second;
    } else if (auto made = make_sandbox_dir(place.own_dir, name); !made) {
      dirs.reason[controller] = made.error().message();
    } else {
      dirs.dir[controller] = made_under[place.own_dir] = *made;
      dirs.created.push_back(*made);
      Janitor::track_cgroup(*made);  // removed even if agentd is SIGKILLed
    }
  }
  return dirs;
}

class CgroupV1 final : public Cgroup {
 public:
  // Call with lock_bases() held.
  explicit CgroupV1(V1Dirs dirs) : dirs_(std::move(dirs)) { register_sandbox(); }
  ~CgroupV1() override { destroy(); }

  // Writes the limits and records features_; an error names the feature.
  std::optional<CgroupError> apply(const CgroupLimits& limits);

  base::Status add_process(pid_t pid) override;
  CgroupUsage usage() const override;
  std::vector<pid_t> processes() const override;
  bool has_freezer() const override {
    return freezer_feature().state == FeatureState::State::kEnforced;
  }
  base::Status freeze() override { return set_freezer("FROZEN", milliseconds(1000)); }
  base::Status thaw() override { return set_freezer("THAWED", milliseconds(1000)); }
  void kill_all() override;
  void destroy() override;
  std::vector<FeatureState> features() const override { return features_; }

 private:
  std::string dir(const std::string& controller) const {
    auto it = dirs_.dir.find(controller);
    return it == dirs_.dir.end() ? "" : it->second;
  }
  std::string reason(const std::string& controller) const {
    auto it = dirs_.reason.find(controller);
    return it == dirs_.reason.end() ? "" : it->second;
  }
  std::string procs_dir() const;  // a directory whose cgroup.procs lists all
  std::optional<CgroupError> missing_controller(const CgroupLimits& limits) const;
  std::optional<CgroupError> limit_memory(uint64_t bytes);
  FeatureState limit_swap(uint64_t bytes);
  std::optional<CgroupError> limit_pids(uint64_t max);
  std::optional<CgroupError> limit_cpu(uint64_t millicores);
  FeatureState freezer_feature() const;
  FeatureState usage_feature() const;
  base::Status set_freezer(const std::string& state, milliseconds limit);

  V1Dirs dirs_;
  std::vector<FeatureState> features_;
  bool destroyed_ = false;
};

std::optional<CgroupError> CgroupV1::apply(const CgroupLimits& limits) {
  if (auto missing = missing_controller(limits)) return missing;
  if (dirs_.created.empty()) {
    std::string why;
    for (const auto& [controller, text] : dirs_.reason) why += (why.empty() ? "" : "; ") + text;
    return make_error("cgroups", "no cgroup v1 directory could be created: " + why);
  }
  if (limits.memory_bytes) {
    if (auto error = limit_memory(*limits.memory_bytes)) return error;
  } else {
    features_.push_back(not_requested("cgroups.memory"));
    features_.push_back(not_requested("cgroups.swap"));
  }
  if (limits.max_processes) {
    if (auto error = limit_pids(*limits.max_processes)) return error;
  } else {
    features_.push_back(not_requested("cgroups.pids"));
  }
  if (limits.cpu_millicores) {
    if (auto error = limit_cpu(*limits.cpu_millicores)) return error;
  } else {
    features_.push_back(not_requested("cgroups.cpu"));
  }
  features_.push_back(freezer_feature());
  features_.push_back(usage_feature());
  return std::nullopt;
}

std::optional<CgroupError> CgroupV1::missing_controller(const CgroupLimits& limits) const {
  const std::pair<bool, const char*> wanted[] = {{limits.memory_bytes.has_value(), "memory"},
                                                 {limits.max_processes.has_value(), "pids"},
                                                 {limits.cpu_millicores.has_value(), "cpu"}};
  for (const auto& [requested, controller] : wanted) {
    if (!requested || !dir(controller).empty()) continue;
    return make_error(std::string("cgroups.") + controller,
                      std::string("cgroup v1 ") + controller + ": " + reason(controller));
  }
  return std::nullopt;
}

std::optional<CgroupError> CgroupV1::limit_memory(uint64_t bytes) {
  base::Status set = write_confirmed_memory(dir("memory") + "/memory.limit_in_bytes", bytes);
  if (!set) return make_error("cgroups.memory", set.error().message());
  features_.push_back(enforced("cgroups.memory", "cgroup v1 memory.limit_in_bytes"));
  features_.push_back(limit_swap(bytes));
  return std::nullopt;
}

// memsw limits memory + swap; setting it to the memory limit forbids swap.
FeatureState CgroupV1::limit_swap(uint64_t bytes) {
  const std::string kUnlimited = ": the sandbox may use swap beyond its memory limit";
  std::string path = dir("memory") + "/memory.memsw.limit_in_bytes";
  if (!exists(path)) {
    return unavailable("cgroups.swap", path +
                                           " does not exist (kernel without swap accounting; "
                                           "boot with swapaccount=1)" +
                                           kUnlimited);
  }
  base::Status set = write_confirmed_memory(path, bytes);
  if (!set) return unavailable("cgroups.swap", set.error().message() + kUnlimited);
  return enforced("cgroups.swap",
                  "cgroup v1 memory.memsw.limit_in_bytes (= memory limit: no swap)");
}

std::optional<CgroupError> CgroupV1::limit_pids(uint64_t max) {
  base::Status set = write_confirmed_u64(dir("pids") + "/pids.max", max);
  if (!set) return make_error("cgroups.pids", set.error().message());
  features_.push_back(enforced("cgroups.pids", "cgroup v1 pids.max"));
  return std::nullopt;
}

std::optional<CgroupError> CgroupV1::limit_cpu(uint64_t millicores) {
  CpuQuota quota = *cpu_quota(millicores);  // validated by Cgroup::create
  std::string cpu = dir("cpu");
  base::Status set = write_confirmed_u64(cpu + "/cpu.cfs_period_us", quota.period_us);
  if (set) set = write_confirmed_u64(cpu + "/cpu.cfs_quota_us", quota.quota_us);
  if (!set) return make_error("cgroups.cpu", set.error().message());
  features_.push_back(
      enforced("cgroups.cpu", "cgroup v1 cpu.cfs_quota_us=" + std::to_string(quota.quota_us) +
                                  " cpu.cfs_period_us=" + std::to_string(quota.period_us)));
  return std::nullopt;
}

FeatureState CgroupV1::freezer_feature() const {
  if (dir("freezer").empty()) return unavailable("cgroups.freezer", reason("freezer"));
  auto state = read_text(dir("freezer") + "/freezer.state");
  if (!state) return unavailable("cgroups.freezer", state.error().message());
  return enforced("cgroups.freezer", "cgroup v1 freezer.state");
}

FeatureState CgroupV1::usage_feature() const {
  std::vector<std::string> found, missing;
  auto check = [&](const std::string& controller, const std::string& file) {
    bool ok = !dir(controller).empty() && exists(dir(controller) + "/" + file);
    (ok ? found : missing).push_back(file);
  };
  check("cpuacct", "cpuacct.usage");
  check("memory", "memory.max_usage_in_bytes");
  check("memory", "memory.oom_control");
  if (found.empty()) return unavailable("cgroups.usage", "no cpuacct or memory hierarchy");
  std::string mechanism = "cgroup v1";
  for (const std::string& file : found) mechanism += " " + file;
  for (const std::string& file : missing) mechanism += " (no " + file + ": reported as 0)";
  return enforced("cgroups.usage", mechanism);
}

base::Status CgroupV1::add_process(pid_t pid) {
  for (const std::string& directory : dirs_.created) {
    base::Status moved = write_text(directory + "/cgroup.procs", std::to_string(pid));
    if (!moved) return moved;
  }
  return {};
}

CgroupUsage CgroupV1::usage() const {
  CgroupUsage usage;
  if (std::string cpuacct = dir("cpuacct"); !cpuacct.empty()) {
    usage.cpu_time_ns = read_u64(cpuacct + "/cpuacct.usage").value_or(0);
  }
  if (std::string memory = dir("memory"); !memory.empty()) {
    usage.memory_peak_bytes = read_u64(memory + "/memory.max_usage_in_bytes").value_or(0);
    usage.oom_kills = read_u64(memory + "/memory.oom_control", "oom_kill").value_or(0);
  }
  return usage;
}

// Writes `state` until freezer.state reads it back: a task busy in the
// kernel leaves the cgroup FREEZING, and writing FROZEN again retries it.
base::Status CgroupV1::set_freezer(const std::string& state, milliseconds limit) {
  if (dir("freezer").empty()) {
    return base::plain_error("cgroup v1 freezer unavailable: " + reason("freezer"));
  }
  std::string path = dir("freezer") + "/freezer.state";
  base::Status written;
  bool reached = wait_until(
      [&] {
        written = write_text(path, state);
        auto now = read_text(path);
        return !written || (now && trim(*now) == state);
      },
      limit);
  if (!written) return written;
  if (!reached) return base::plain_error(path + " did not read " + state + " in time");
  return {};
}

std::string CgroupV1::procs_dir() const {
  for (const char* controller : {"freezer", "pids", "memory", "cpu", "cpuacct"}) {
    if (!dir(controller).empty()) return dir(controller);
  }
  return "";
}

std::vector<pid_t> CgroupV1::processes() const {
  std::string procs = procs_dir();
  return procs.empty() ? std::vector<pid_t>{} : read_pids_tree(procs);
}

// Freeze (no new forks), SIGKILL everything listed, thaw (frozen tasks die
// only when thawed), until the cgroup is empty or 2 s have passed.
void CgroupV1::kill_all() {
  std::string procs_dir = this->procs_dir();
  if (procs_dir.empty()) return;
  bool freezer = !dir("freezer").empty();
  bool emptied = wait_until(
      [&] {
        if (freezer) (void)set_freezer("FROZEN", milliseconds(200));
        std::vector<pid_t> pids = read_pids_tree(procs_dir);
        for (pid_t pid : pids) ::kill(pid, SIGKILL);
        if (freezer) (void)set_freezer("THAWED", milliseconds(200));
        return pids.empty();
      },
      milliseconds(2000));
  if (!emptied) base::log_warn("cgroup: processes survive in " + procs_dir + " after SIGKILL");
}

void CgroupV1::destroy() {
  if (destroyed_) return;
  destroyed_ = true;
  kill_all();
  for (auto it = dirs_.created.rbegin(); it != dirs_.created.rend(); ++it) {
    base::Status removed = remove_tree(*it);
    if (removed) Janitor::forget_cgroup(*it);
    if (!removed) base::log_warn("cgroup: " + removed.error().message());
  }
  std::vector<std::string> bases;
  for (const std::string& dir : dirs_.created) bases.push_back(dir.substr(0, dir.rfind('/')));
  release_sandbox(bases);
}

// ---- probe -----------------------------------------------------------------------

// Makes and removes a probe directory below `own_dir`: confirms write access
// and that the kernel offers `file` there.
base::Status probe_file(const std::string& own_dir, const std::string& file) {
  static std::atomic<int> counter = 0;
  std::string dir =
      own_dir + "/agentd-probe-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  if (base::Status made = make_dir(dir, false); !made) return made;
  bool present = exists(dir + "/" + file);
  ::rmdir(dir.c_str());
  if (!present) return base::plain_error(dir + "/" + file + " does not exist");
  return {};
}

FeatureState probe_one(const std::string& feature, const V1Place& place, const std::string& file,
                       const std::string& fix) {
  if (place.own_dir.empty()) return unavailable(feature, place.reason);
  base::Status probed = probe_file(place.own_dir, file);
  if (!probed) return unavailable(feature, probed.error().message() + "; fix: " + fix);
  return available(feature, "cgroup v1 " + file);
}

}  // namespace

CreateResult create_v1(const std::string& name, const CgroupLimits& limits) {
  std::unique_ptr<CgroupV1> cgroup;
  {
    auto lock = lock_bases();
    cgroup = std::make_unique<CgroupV1>(make_dirs(name));
  }
  if (auto error = cgroup->apply(limits)) return *error;  // the destructor removes the dirs
  return std::unique_ptr<Cgroup>(std::move(cgroup));
}

std::vector<FeatureState> probe_v1() {
  std::map<std::string, V1Place> places = locate_all();
  const std::string kSwapFix = "boot the kernel with swapaccount=1";
  FeatureState cpu = probe_one("cgroups.usage", places["cpuacct"], "cpuacct.usage", kDelegationFix);
  FeatureState memory =
      probe_one("cgroups.usage", places["memory"], "memory.max_usage_in_bytes", kDelegationFix);
  FeatureState usage = cpu;
  if (memory.state == FeatureState::State::kAvailable) {
    usage = available("cgroups.usage", "cgroup v1 memory.max_usage_in_bytes memory.oom_control");
    if (cpu.state == FeatureState::State::kAvailable) usage.mechanism += " cpuacct.usage";
  }
  return {probe_one("cgroups.memory", places["memory"], "memory.limit_in_bytes", kDelegationFix),
          probe_one("cgroups.swap", places["memory"], "memory.memsw.limit_in_bytes", kSwapFix),
          probe_one("cgroups.pids", places["pids"], "pids.max", kDelegationFix),
          probe_one("cgroups.cpu", places["cpu"], "cpu.cfs_quota_us", kDelegationFix),
          probe_one("cgroups.freezer", places["freezer"], "freezer.state", kDelegationFix),
          usage};
}

}  // namespace agentd::sandbox::linuxns::cgroup_detail
