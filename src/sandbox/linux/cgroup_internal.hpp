#pragma once

// Shared by cgroup.cpp, cgroup_files.cpp, cgroup_v1.cpp and cgroup_v2.cpp;
// not part of the sandbox API (tests may use the pure parsers).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "sandbox/linux/cgroup.hpp"

namespace agentd::sandbox::linuxns::cgroup_detail {

using CreateResult = std::variant<std::unique_ptr<Cgroup>, CgroupError>;

// ---- files (cgroup_files.cpp) ----------------------------------------------

base::Result<std::string> read_text(const std::string& path);
// One write(2) of `text`; cgroup files take a whole value per write.
base::Status write_text(const std::string& path, std::string_view text);
bool exists(const std::string& path);
// `text` without surrounding whitespace (cgroup files end in a newline).
std::string_view trim(std::string_view text);
// The first whitespace-separated token as a number ("max" and junk: nullopt).
std::optional<uint64_t> parse_u64(std::string_view text);
// The value of a "key N" line (cpu.stat, memory.events, memory.oom_control).
std::optional<uint64_t> keyed_u64(std::string_view text, std::string_view key);
// Reads a number from `path`, or a "key N" line of it when `key` is given.
std::optional<uint64_t> read_u64(const std::string& path, std::string_view key = {});
// The words of a list file (cgroup.controllers, cgroup.subtree_control).
std::vector<std::string> read_words(const std::string& path);
// The processes in `dir`/cgroup.procs; with _tree, also in every cgroup below.
std::vector<pid_t> read_pids(const std::string& dir);
std::vector<pid_t> read_pids_tree(const std::string& dir);
// The names of the child cgroups (subdirectories) of `dir`.
std::vector<std::string> child_dirs(const std::string& dir);
// mkdir 0755; an existing directory is fine when `exist_ok`.
base::Status make_dir(const std::string& path, bool exist_ok);
// Removes `dir` and every cgroup below it (deepest first), retrying EBUSY
// for up to ~1 s (the kernel frees a cgroup shortly after its last task
// exits). A missing directory is fine.
base::Status remove_tree(const std::string& dir);
// Polls `done` every few ms until it holds or `limit` passes.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit);

// ---- /proc parsing ----------------------------------------------------------

struct CgroupMount {
  std::string root;                  // the hierarchy path mounted (usually "/")
  std::string mount_point;           // e.g. "/sys/fs/cgroup/memory"
  std::string fstype;                // "cgroup" or "cgroup2"
  std::vector<std::string> options;  // super options: "rw", "memory", ...
};

// cgroup and cgroup2 mounts of /proc/self/mountinfo text.
std::vector<CgroupMount> parse_mountinfo(std::string_view text);
// /proc/self/cgroup text: controller -> path ("" -> the v2 path; a line
// "2:cpu,cpuacct:/x" gives both "cpu" and "cpuacct").
std::map<std::string, std::string> parse_proc_cgroup(std::string_view text);
std::vector<CgroupMount> read_cgroup_mounts();
std::map<std::string, std::string> read_own_cgroups();
// Where `own_path` (from /proc/self/cgroup) lives in the filesystem of
// `mount`, or nullopt when the mount does not show it.
std::optional<std::string> own_dir_in(const CgroupMount& mount, const std::string& own_path);

// ---- shared policy (cgroup.cpp) ---------------------------------------------

// "agentd-<pid>": this process's parent directory for its sandboxes.
std::string base_dir_name();
// Serializes making sandbox directories (and their agentd-<pid> parents)
// with removing those parents: hold it from mkdir to register_sandbox().
std::unique_lock<std::mutex> lock_bases();
// Counts this process's sandbox cgroups (call with lock_bases() held).
void register_sandbox();
// After a sandbox's directories are gone: when it was the last one, removes
// the (now empty) agentd-<pid> directories `bases`.
void release_sandbox(const std::vector<std::string>& bases);
// Under `parent`, removes empty agentd-<pid> directories left by processes
// that no longer exist. Once per parent per process; failures are ignored.
void reap_stale_bases(const std::string& parent);
// [A-Za-z0-9_-]{1,128}: safe as a directory name beside interface files.
bool valid_name(const std::string& name);

struct CpuQuota {
  uint64_t quota_us = 0;
  uint64_t period_us = 0;
};
// 1000 millicores = one full period. Periods of 100 ms, or 1 s for shares
// below 10 millicores (the kernel's minimum quota is 1 ms). 0: nullopt.
std::optional<CpuQuota> cpu_quota(uint64_t millicores);
// The kernel rounds memory limits down to whole pages.
bool memory_matches(uint64_t requested, uint64_t read_back);
// Writes `value` to `path` and confirms it by reading back.
base::Status write_confirmed(const std::string& path, const std::string& value,
                             const std::function<bool(std::string_view)>& confirms);
base::Status write_confirmed_u64(const std::string& path, uint64_t value);
base::Status write_confirmed_memory(const std::string& path, uint64_t bytes);

// The per-sandbox features, in the order features() lists them.
inline constexpr const char* kFeatureNames[] = {"cgroups.memory",  "cgroups.swap",
                                                "cgroups.pids",    "cgroups.cpu",
                                                "cgroups.freezer", "cgroups.usage"};

extern const char* const kDelegationFix;
CgroupError make_error(std::string feature, std::string reason, std::string fix = kDelegationFix);
// The feature name ("cgroups.memory", ...) of the first requested limit.
std::optional<std::string> first_requested(const CgroupLimits& limits);

// ---- per version -------------------------------------------------------------

CreateResult create_v1(const std::string& name, const CgroupLimits& limits);
std::vector<FeatureState> probe_v1();
CreateResult create_v2(const CgroupMount& mount, const std::string& name,
                       const CgroupLimits& limits);
std::vector<FeatureState> probe_v2(const CgroupMount& mount);

}  // namespace agentd::sandbox::linuxns::cgroup_detail
