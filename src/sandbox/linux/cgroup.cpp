// Chooses cgroup v1 or v2 and holds what both versions share. The versions
// themselves live in cgroup_v1.cpp and cgroup_v2.cpp.

#include "sandbox/linux/cgroup.hpp"

#include <dirent.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "sandbox/linux/cgroup_internal.hpp"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace agentd::sandbox::linuxns {

namespace cgroup_detail {

const char* const kDelegationFix =
    "run agentd as root, or delegate a cgroup v2 subtree with memory+pids+cpu controllers to "
    "agentd's user (systemd: Delegate=yes)";

CgroupError make_error(std::string feature, std::string reason, std::string fix) {
  return CgroupError{std::move(feature), std::move(reason), std::move(fix)};
}

std::optional<std::string> first_requested(const CgroupLimits& limits) {
  if (limits.memory_bytes) return "cgroups.memory";
  if (limits.max_processes) return "cgroups.pids";
  if (limits.cpu_millicores) return "cgroups.cpu";
  return std::nullopt;
}

std::string base_dir_name() { return "agentd-" + std::to_string(::getpid()); }

namespace {
int g_live_sandboxes = 0;  // guarded by lock_bases()
}  // namespace

std::unique_lock<std::mutex> lock_bases() {
  static std::mutex mutex;
  return std::unique_lock(mutex);
}

void register_sandbox() { ++g_live_sandboxes; }

void release_sandbox(const std::vector<std::string>& bases) {
  auto lock = lock_bases();
  if (--g_live_sandboxes > 0) return;
  for (const std::string& base : bases) ::rmdir(base.c_str());  // fails harmlessly if in use
}

namespace {

// The pid of an "agentd-<pid>" directory name other than ours, whose process is gone.
std::optional<pid_t> stale_pid(const std::string& name) {
  constexpr std::string_view kPrefix = "agentd-";
  if (name.size() <= kPrefix.size() || name.compare(0, kPrefix.size(), kPrefix) != 0) {
    return std::nullopt;
  }
  auto pid = parse_u64(std::string_view(name).substr(kPrefix.size()));
  if (!pid || *pid == 0 || *pid > 0x3fffffff) return std::nullopt;
  if (static_cast<pid_t>(*pid) == ::getpid()) return std::nullopt;
  if (::kill(static_cast<pid_t>(*pid), 0) == 0 || errno != ESRCH) return std::nullopt;
  return static_cast<pid_t>(*pid);
}

}  // namespace

void reap_stale_bases(const std::string& parent) {
  static std::mutex mutex;
  static std::set<std::string> reaped;
  {
    std::lock_guard lock(mutex);
    if (!reaped.insert(parent).second) return;
  }
  for (const std::string& name : child_dirs(parent)) {
    if (!stale_pid(name)) continue;
    std::string base = parent + "/" + name;
    // rmdir only succeeds on empty cgroups: leaked processes keep theirs.
    for (const std::string& sandbox : child_dirs(base)) ::rmdir((base + "/" + sandbox).c_str());
    ::rmdir(base.c_str());
  }
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<CpuQuota> cpu_quota(uint64_t millicores) {
  constexpr uint64_t kMinQuotaUs = 1000;  // the kernel refuses quotas below 1 ms
  if (millicores == 0 || millicores > (uint64_t{1} << 40)) return std::nullopt;
  CpuQuota quota{millicores * 100, 100000};
  if (quota.quota_us < kMinQuotaUs) quota = {millicores * 1000, 1000000};
  return quota;
}

bool memory_matches(uint64_t requested, uint64_t read_back) {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return read_back <= requested && requested - read_back < page;
}

base::Status write_confirmed(const std::string& path, const std::string& value,
                             const std::function<bool(std::string_view)>& confirms) {
  if (base::Status written = write_text(path, value); !written) return written;
  auto back = read_text(path);
  if (!back) return back.error();
  if (confirms(*back)) return {};
  std::string shown = *back;
  while (!shown.empty() && shown.back() == '\n') shown.pop_back();
  return base::plain_error(path + " reads \"" + shown + "\" after writing \"" + value + "\"");
}

base::Status write_confirmed_u64(const std::string& path, uint64_t value) {
  return write_confirmed(path, std::to_string(value),
                         [value](std::string_view text) { return parse_u64(text) == value; });
}

base::Status write_confirmed_memory(const std::string& path, uint64_t bytes) {
  return write_confirmed(path, std::to_string(bytes), [bytes](std::string_view text) {
    auto value = parse_u64(text);
    return value && memory_matches(bytes, *value);
  });
}

namespace {

struct Layout {
  enum class Kind { kNone, kV1, kV2 };
  Kind kind = Kind::kNone;
  CgroupMount v2;      // kV2: the cgroup2 mount to use
  std::string reason;  // kNone: why there is nothing to use
};

bool has_v1_controller(const CgroupMount& mount) {
  if (mount.fstype != "cgroup") return false;
  for (const std::string& option : mount.options) {
    for (const char* controller : {"memory", "pids", "cpu", "cpuacct", "freezer"}) {
      if (option == controller) return true;
    }
  }
  return false;
}

std::optional<CgroupMount> find_v2_mount(const std::vector<CgroupMount>& mounts,
                                         const std::string& mount_point) {
  for (const CgroupMount& mount : mounts) {
    if (mount.fstype == "cgroup2" && mount.mount_point == mount_point) return mount;
  }
  return std::nullopt;
}

// statfs decides: cgroup2 at /sys/fs/cgroup is pure v2; a tmpfs there holds
// v1 hierarchies, maybe with a hybrid cgroup2 at .../unified. That v2 mount
// is used only when no v1 hierarchy has our controllers (a controller lives
// in one hierarchy at a time).
Layout detect_layout() {
  struct statfs fs {};
  if (::statfs("/sys/fs/cgroup", &fs) != 0) {
    return {Layout::Kind::kNone,
            {},
            std::string("statfs(\"/sys/fs/cgroup\"): ") + std::strerror(errno)};
  }
  std::vector<CgroupMount> mounts = read_cgroup_mounts();
  if (fs.f_type == CGROUP2_SUPER_MAGIC) {
    auto mount = find_v2_mount(mounts, "/sys/fs/cgroup");
    return {Layout::Kind::kV2, mount.value_or(CgroupMount{"/", "/sys/fs/cgroup", "cgroup2", {}}),
            ""};
  }
  if (fs.f_type != TMPFS_MAGIC) {
    return {
        Layout::Kind::kNone, {}, "/sys/fs/cgroup is neither cgroup2 nor a tmpfs of v1 hierarchies"};
  }
  for (const CgroupMount& mount : mounts) {
    if (has_v1_controller(mount)) return {Layout::Kind::kV1, {}, ""};
  }
  auto unified = find_v2_mount(mounts, "/sys/fs/cgroup/unified");
  if (unified && !read_words(unified->mount_point + "/cgroup.controllers").empty()) {
    return {Layout::Kind::kV2, *unified, ""};
  }
  return {Layout::Kind::kNone,
          {},
          "no cgroup v1 hierarchy for memory, pids, cpu, cpuacct or freezer is mounted under "
          "/sys/fs/cgroup, and no cgroup2 mount there has controllers"};
}

constexpr const char* kMountFix =
    "mount cgroup2 at /sys/fs/cgroup (or the cgroup v1 memory, pids, cpu, cpuacct and freezer "
    "hierarchies under it)";

}  // namespace
}  // namespace cgroup_detail

std::variant<std::unique_ptr<Cgroup>, CgroupError> Cgroup::create(const std::string& name,
                                                                  const CgroupLimits& limits) {
  using namespace cgroup_detail;
  if (!valid_name(name)) {
    return make_error("cgroups", "invalid cgroup name \"" + name + "\"",
                      "use 1 to 128 characters from [A-Za-z0-9_-]");
  }
  if (limits.cpu_millicores && !cpu_quota(*limits.cpu_millicores)) {
    return make_error("cgroups.cpu",
                      std::to_string(*limits.cpu_millicores) + " millicores is not a cpu quota",
                      "request between 1 and 2^40 millicores");
  }
  Layout layout = detect_layout();
  switch (layout.kind) {
    case Layout::Kind::kV1:
      return create_v1(name, limits);
    case Layout::Kind::kV2:
      return create_v2(layout.v2, name, limits);
    case Layout::Kind::kNone:
      break;
  }
  return make_error(first_requested(limits).value_or("cgroups"), layout.reason, kMountFix);
}

std::vector<FeatureState> probe_cgroup_features() {
  using namespace cgroup_detail;
  Layout layout = detect_layout();
  if (layout.kind == Layout::Kind::kV1) return probe_v1();
  if (layout.kind == Layout::Kind::kV2) return probe_v2(layout.v2);
  std::vector<FeatureState> features;
  for (const char* name : kFeatureNames) {
    features.push_back(unavailable(name, layout.reason + "; fix: " + kMountFix));
  }
  return features;
}

}  // namespace agentd::sandbox::linuxns
