// cgroup v2. Layout, under the cgroup C that /proc/self/cgroup ("0::/path")
// names for agentd at its first use:
//
//   C/                     agentd's (delegated) cgroup: +memory +pids +cpu in
//                          cgroup.subtree_control
//   C/agentd-leaf/         where C's processes (agentd first of all) move when
//                          C must enable controllers: v2 lets only leaves hold
//                          processes ("no internal processes"; the root is exempt)
//   C/agentd-<pid>/        this agentd's sandboxes: +memory +pids +cpu again
//   C/agentd-<pid>/<name>  one sandbox: memory.max, memory.swap.max, pids.max, cpu.max
//
// With systemd, Delegate=yes on agentd's unit hands C to agentd: everything
// stays inside C and no write outside it is needed. C's limits still cover
// agentd and all its sandboxes.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>

#include "base/log.hpp"
#include "sandbox/janitor.hpp"
#include "sandbox/linux/cgroup_internal.hpp"

namespace agentd::sandbox::linuxns::cgroup_detail {

namespace {

using std::chrono::milliseconds;

constexpr const char* kV2Controllers[] = {"memory", "pids", "cpu"};
constexpr const char* kLeafName = "agentd-leaf";

bool contains(const std::vector<std::string>& words, const std::string& word) {
  for (const std::string& candidate : words) {
    if (candidate == word) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

// C, as /proc/self/cgroup named it the first time: agentd may move itself
// into C/agentd-leaf afterwards.
base::Result<std::string> own_dir(const CgroupMount& mount) {
  static std::mutex mutex;
  static std::optional<std::string> cached;
  std::lock_guard lock(mutex);
  if (cached) return *cached;
  auto own = read_own_cgroups();
  auto path = own.find("");
  if (path == own.end()) return base::plain_error("/proc/self/cgroup has no cgroup v2 (0::) line");
  auto dir = own_dir_in(mount, path->second);
  if (!dir) {
    return base::plain_error("own cgroup " + path->second + " is not below " + mount.mount_point);
  }
  cached = *dir;
  return *dir;
}

base::Status enable(const std::string& dir, const std::string& controller) {
  if (contains(read_words(dir + "/cgroup.subtree_control"), controller)) return {};
  return write_text(dir + "/cgroup.subtree_control", "+" + controller);
}

// Moves every process of `dir` into dir/agentd-leaf, a few rounds in case
// one forks meanwhile.
base::Status move_into_leaf(const std::string& dir) {
  std::string leaf = dir + "/" + kLeafName;
  if (base::Status made = make_dir(leaf, true); !made) return made;
  for (int round = 0; round < 3; ++round) {
    std::vector<pid_t> pids = read_pids(dir);
    if (pids.empty()) return {};
    for (pid_t pid : pids) {
      base::Status moved = write_text(leaf + "/cgroup.procs", std::to_string(pid));
      if (!moved && moved.error().code.value() != ESRCH) return moved;
    }
  }
  return {};
}

base::Status enable_in_own(const std::string& own, const std::string& controller) {
  base::Status enabled = enable(own, controller);
  if (enabled || enabled.error().code.value() != EBUSY) return enabled;
  // EBUSY: C holds processes, so it may not pass controllers to children.
  if (base::Status moved = move_into_leaf(own); !moved) return moved;
  base::log_info("cgroup: moved the processes of " + own + " into " + kLeafName);
  return enable(own, controller);
}

struct V2Base {
  std::string dir;                            // C/agentd-<pid>
  std::map<std::string, std::string> reason;  // controller -> why sandboxes lack it
};

// Creates C/agentd-<pid> and passes memory, pids and cpu down to it where
// C has them. Idempotent; call with lock_bases() held (it may move agentd).
base::Result<V2Base> ensure_base(const CgroupMount& mount) {
  auto own = own_dir(mount);
  if (!own) return own.error();
  reap_stale_bases(*own);
  V2Base base{*own + "/" + base_dir_name(), {}};
  if (base::Status made = make_dir(base.dir, true); !made) return made.error();
  std::vector<std::string> offered = read_words(*own + "/cgroup.controllers");
  for (const char* controller : kV2Controllers) {
    base::Status enabled = base::plain_error(
        "the " + std::string(controller) + " controller is not delegated: " + *own +
        "/cgroup.controllers lists \"" + joined(offered) + "\"");
    if (contains(offered, controller)) enabled = enable_in_own(*own, controller);
    if (enabled) enabled = enable(base.dir, controller);
    if (!enabled) base.reason[controller] = enabled.error().message();
  }
  return base;
}

class CgroupV2 final : public Cgroup {
 public:
  // Call with lock_bases() held.
  CgroupV2(std::string dir, std::map<std::string, std::string> reason)
      : dir_(std::move(dir)), reason_(std::move(reason)) {
    register_sandbox();
  }
  ~CgroupV2() override { destroy(); }

  // Writes the limits and records features_; an error names the feature.
  std::optional<CgroupError> apply(const CgroupLimits& limits);

  base::Status add_process(pid_t pid) override {
    return write_text(dir_ + "/cgroup.procs", std::to_string(pid));
  }
  CgroupUsage usage() const override;
  std::vector<pid_t> processes() const override { return read_pids_tree(dir_); }
  bool has_freezer() const override {
    return freezer_feature().state == FeatureState::State::kEnforced;
  }
  base::Status freeze() override { return set_frozen(true, milliseconds(1000)); }
  base::Status thaw() override { return set_frozen(false, milliseconds(1000)); }
  void kill_all() override;
  void destroy() override;
  std::vector<FeatureState> features() const override { return features_; }

 private:
  bool has(const std::string& controller) const { return reason_.count(controller) == 0; }
  std::optional<CgroupError> missing_controller(const CgroupLimits& limits) const;
  std::optional<CgroupError> limit(const std::string& feature, const std::string& file,
                                   base::Status set);
  std::optional<CgroupError> limit_cpu(uint64_t millicores);
  FeatureState limit_swap();
  FeatureState freezer_feature() const;
  FeatureState usage_feature() const;
  base::Status set_frozen(bool frozen, milliseconds limit);
  bool kill_loop(milliseconds limit);

  std::string dir_;
  std::map<std::string, std::string> reason_;
  std::vector<FeatureState> features_;
  bool destroyed_ = false;
};

std::optional<CgroupError> CgroupV2::apply(const CgroupLimits& limits) {
  if (auto missing = missing_controller(limits)) return missing;
  if (limits.memory_bytes) {
    base::Status set = write_confirmed_memory(dir_ + "/memory.max", *limits.memory_bytes);
    if (auto error = limit("cgroups.memory", "memory.max", set)) return error;
    features_.push_back(limit_swap());
  } else {
    features_.push_back(not_requested("cgroups.memory"));
    features_.push_back(not_requested("cgroups.swap"));
  }
  if (limits.max_processes) {
    base::Status set = write_confirmed_u64(dir_ + "/pids.max", *limits.max_processes);
    if (auto error = limit("cgroups.pids", "pids.max", set)) return error;
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

std::optional<CgroupError> CgroupV2::limit_cpu(uint64_t millicores) {
  CpuQuota quota = *cpu_quota(millicores);  // validated by Cgroup::create
  std::string value = std::to_string(quota.quota_us) + " " + std::to_string(quota.period_us);
  base::Status set = write_confirmed(dir_ + "/cpu.max", value,
                                     [&](std::string_view text) { return trim(text) == value; });
  return limit("cgroups.cpu", "cpu.max \"" + value + "\"", set);
}

std::optional<CgroupError> CgroupV2::missing_controller(const CgroupLimits& limits) const {
  const std::pair<bool, const char*> wanted[] = {{limits.memory_bytes.has_value(), "memory"},
                                                 {limits.max_processes.has_value(), "pids"},
                                                 {limits.cpu_millicores.has_value(), "cpu"}};
  for (const auto& [requested, controller] : wanted) {
    if (!requested || has(controller)) continue;
    return make_error(std::string("cgroups.") + controller,
                      "cgroup v2 " + std::string(controller) + ": " + reason_.at(controller));
  }
  return std::nullopt;
}

std::optional<CgroupError> CgroupV2::limit(const std::string& feature, const std::string& file,
                                           base::Status set) {
  if (!set) return make_error(feature, set.error().message());
  features_.push_back(enforced(feature, "cgroup v2 " + file));
  return std::nullopt;
}

// swap.max = 0 rather than = memory.max: memory.max is then a hard limit on
// what the sandbox holds, and it cannot page out to dodge the OOM killer.
FeatureState CgroupV2::limit_swap() {
  const std::string kUnlimited = ": the sandbox may use swap beyond memory.max";
  std::string path = dir_ + "/memory.swap.max";
  if (!exists(path)) {
    return unavailable("cgroups.swap", path +
                                           " does not exist (kernel without swap accounting; "
                                           "boot with swapaccount=1)" +
                                           kUnlimited);
  }
  base::Status set = write_confirmed_u64(path, 0);
  if (!set) return unavailable("cgroups.swap", set.error().message() + kUnlimited);
  return enforced("cgroups.swap", "cgroup v2 memory.swap.max = 0 (memory.max is a hard limit)");
}

FeatureState CgroupV2::freezer_feature() const {
  if (!exists(dir_ + "/cgroup.freeze")) {
    return unavailable("cgroups.freezer", "no cgroup.freeze (needs Linux >= 5.2)");
  }
  return enforced("cgroups.freezer", "cgroup v2 cgroup.freeze");
}

FeatureState CgroupV2::usage_feature() const {
  std::string mechanism = "cgroup v2 cpu.stat";
  if (has("memory")) {
    mechanism += exists(dir_ + "/memory.peak") ? " memory.peak" : " memory.current";
    mechanism += " memory.events";
  } else {
    mechanism += " (no memory controller: memory peak and OOM kills reported as 0)";
  }
  return enforced("cgroups.usage", mechanism);
}

CgroupUsage CgroupV2::usage() const {
  CgroupUsage usage;
  usage.cpu_time_ns = read_u64(dir_ + "/cpu.stat", "usage_usec").value_or(0) * 1000;
  if (has("memory")) {
    // memory.peak needs Linux >= 5.19; memory.current is a lower bound.
    auto peak = read_u64(dir_ + "/memory.peak");
    usage.memory_peak_bytes = peak ? *peak : read_u64(dir_ + "/memory.current").value_or(0);
    usage.oom_kills = read_u64(dir_ + "/memory.events", "oom_kill").value_or(0);
  }
  return usage;
}

base::Status CgroupV2::set_frozen(bool frozen, milliseconds limit) {
  if (base::Status written = write_text(dir_ + "/cgroup.freeze", frozen ? "1" : "0"); !written) {
    return written;
  }
  uint64_t want = frozen ? 1 : 0;
  bool reached =
      wait_until([&] { return read_u64(dir_ + "/cgroup.events", "frozen") == want; }, limit);
  if (!reached) {
    return base::plain_error(dir_ + "/cgroup.events did not show \"frozen " + std::to_string(want) +
                             "\" in time");
  }
  return {};
}

// Without cgroup.kill: freeze, SIGKILL everything listed, thaw, repeat.
bool CgroupV2::kill_loop(milliseconds limit) {
  return wait_until(
      [&] {
        (void)set_frozen(true, milliseconds(200));
        std::vector<pid_t> pids = read_pids_tree(dir_);
        for (pid_t pid : pids) ::kill(pid, SIGKILL);
        (void)set_frozen(false, milliseconds(200));
        return pids.empty();
      },
      limit);
}

void CgroupV2::kill_all() {
  auto empty = [&] { return read_u64(dir_ + "/cgroup.events", "populated").value_or(0) == 0; };
  // cgroup.kill (Linux >= 5.14) kills the whole subtree at once, forks included.
  if (exists(dir_ + "/cgroup.kill") && write_text(dir_ + "/cgroup.kill", "1") &&
      wait_until(empty, milliseconds(2000))) {
    return;
  }
  if (!kill_loop(milliseconds(2000))) {
    base::log_warn("cgroup: processes survive in " + dir_ + " after SIGKILL");
  }
}

void CgroupV2::destroy() {
  if (destroyed_) return;
  destroyed_ = true;
  kill_all();
  base::Status removed = remove_tree(dir_);
  if (removed) Janitor::forget_cgroup(dir_);
  if (!removed) base::log_warn("cgroup: " + removed.error().message());
  release_sandbox({dir_.substr(0, dir_.rfind('/'))});
}

}  // namespace

CreateResult create_v2(const CgroupMount& mount, const std::string& name,
                       const CgroupLimits& limits) {
  std::string feature = first_requested(limits).value_or("cgroups");
  std::unique_ptr<CgroupV2> cgroup;
  {
    auto lock = lock_bases();
    auto base = ensure_base(mount);
    if (!base) return make_error(feature, base.error().message());
    std::string dir = base->dir + "/" + name;
    if (base::Status made = make_dir(dir, false); !made) {
      return make_error(feature, made.error().message());
    }
    Janitor::track_cgroup(dir);  // removed even if agentd is SIGKILLed
    cgroup = std::make_unique<CgroupV2>(dir, base->reason);
  }
  if (auto error = cgroup->apply(limits)) return *error;  // the destructor removes the dir
  return std::unique_ptr<Cgroup>(std::move(cgroup));
}

namespace {

// The interface files of C and of a probe directory made (and removed) below
// it: proves write access without enabling anything.
base::Result<std::set<std::string>> probe_files(const std::string& own) {
  static std::atomic<int> counter = 0;
  std::string probe =
      own + "/agentd-probe-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  if (base::Status made = make_dir(probe, false); !made) return made.error();
  std::set<std::string> files;
  for (const char* file : {"memory.max", "memory.swap.max", "pids.max", "cpu.max", "cgroup.freeze",
                           "cgroup.kill", "cpu.stat"}) {
    if (exists(own + "/" + file) || exists(probe + "/" + file)) files.insert(file);
  }
  ::rmdir(probe.c_str());
  return files;
}

FeatureState probe_controller(const std::string& feature, const std::string& controller,
                              const std::string& file, const std::vector<std::string>& offered,
                              const std::string& own) {
  if (!contains(offered, controller)) {
    return unavailable(feature, "the " + controller + " controller is not delegated: " + own +
                                    "/cgroup.controllers lists \"" + joined(offered) +
                                    "\"; fix: " + kDelegationFix);
  }
  return available(feature, "cgroup v2 " + file);
}

}  // namespace

std::vector<FeatureState> probe_v2(const CgroupMount& mount) {
  auto own = own_dir(mount);
  auto files = own ? probe_files(*own) : base::Result<std::set<std::string>>(own.error());
  if (!files) {
    std::vector<FeatureState> features;
    for (const char* name : kFeatureNames) {
      features.push_back(unavailable(name, files.error().message() + "; fix: " + kDelegationFix));
    }
    return features;
  }
  std::vector<std::string> offered = read_words(*own + "/cgroup.controllers");
  FeatureState memory = probe_controller("cgroups.memory", "memory", "memory.max", offered, *own);
  FeatureState swap = memory;
  swap.name = "cgroups.swap";
  if (memory.state == FeatureState::State::kAvailable) {
    swap = files->count("memory.swap.max")
               ? available("cgroups.swap", "cgroup v2 memory.swap.max = 0")
               : unavailable("cgroups.swap",
                             "no memory.swap.max (kernel without swap "
                             "accounting; boot with swapaccount=1)");
  }
  FeatureState freezer =
      files->count("cgroup.freeze")
          ? available("cgroups.freezer", "cgroup v2 cgroup.freeze")
          : unavailable("cgroups.freezer", "no cgroup.freeze (needs Linux >= 5.2)");
  std::string usage = "cgroup v2 cpu.stat";
  if (memory.state == FeatureState::State::kAvailable) usage += " memory.peak memory.events";
  return {memory,
          swap,
          probe_controller("cgroups.pids", "pids", "pids.max", offered, *own),
          probe_controller("cgroups.cpu", "cpu", "cpu.max", offered, *own),
          freezer,
          available("cgroups.usage", usage)};
}

}  // namespace agentd::sandbox::linuxns::cgroup_detail
