#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "sandbox/features.hpp"

namespace agentd::sandbox::linuxns {

struct CgroupLimits {
  std::optional<uint64_t> memory_bytes;   // memory (and swap, where the kernel offers it)
  std::optional<uint64_t> max_processes;  // pids
  std::optional<uint64_t> cpu_millicores; // cpu quota, 1000 = one core
};

struct CgroupUsage {
  uint64_t cpu_time_ns = 0;
  uint64_t memory_peak_bytes = 0;
  uint64_t oom_kills = 0;  // how often the OOM killer fired in this cgroup
};

// Why a cgroup could not be had, in the terms sandbox/create reports.
struct CgroupError {
  std::string feature;  // e.g. "cgroups.memory"
  std::string reason;   // what failed, with the path and errno
  std::string fix;      // what the operator can do
};

// The cgroup(s) of one sandbox: one directory per v1 controller (memory,
// pids, cpu(+cpuacct), freezer) or one directory in a delegated v2 subtree.
class Cgroup {
 public:
  virtual ~Cgroup() = default;
  // Creates `name` under agentd's own parent (e.g. .../agentd/<name>) and
  // writes the limits. Fails, naming the controller, when a requested limit
  // cannot be enforced.
  static std::variant<std::unique_ptr<Cgroup>, CgroupError> create(const std::string& name,
                                                                    const CgroupLimits& limits);

  virtual base::Status add_process(pid_t pid) = 0;
  virtual CgroupUsage usage() const = 0;
  // Host pids of every process in the cgroup (and cgroups below it).
  virtual std::vector<pid_t> processes() const = 0;
  virtual bool has_freezer() const = 0;
  virtual base::Status freeze() = 0;
  virtual base::Status thaw() = 0;
  // Kills every process in the cgroup (cgroup.kill on v2, a freeze + kill
  // loop on v1) and waits until it is empty, bounded.
  virtual void kill_all() = 0;
  // kill_all(), then removes the directories. Safe to call twice.
  virtual void destroy() = 0;
  // What this cgroup enforces, per limit and for freeze/usage.
  virtual std::vector<FeatureState> features() const = 0;
};

// What cgroup support this machine offers to agentd (for initialize).
std::vector<FeatureState> probe_cgroup_features();

}  // namespace agentd::sandbox::linuxns
