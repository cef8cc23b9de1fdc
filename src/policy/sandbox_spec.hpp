#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "policy/environment.hpp"
#include "policy/limits.hpp"

namespace agentd::policy {

enum class Isolation { kNone, kLinux };
// kAllowlist: the sandbox's own empty network, egress only through agentd's
// proxy and only to the destinations the rules allow.
enum class NetworkMode { kNone, kHost, kAllowlist };

const char* isolation_name(Isolation isolation);
const char* network_name(NetworkMode mode);

// A host path made visible at another path inside a sandbox.
struct BindMount {
  std::string source;  // host path
  std::string target;  // path inside the sandbox
  bool read_only = true;
};

// What the caller asked for in sandbox/create, validated for shape but not
// yet against a backend.
struct SandboxSpec {
  Isolation isolation = Isolation::kLinux;
  bool isolation_explicit = true;  // false: implied by the profile (never "none")
  std::string profile;
  bool profile_resolved = false;  // set by policy::apply_profile
  std::optional<std::string> workdir;  // an existing host directory to use
  bool keep_workdir = false;
  std::optional<std::string> from_snapshot;  // a snapshotId: the workdir starts as its copy
  std::vector<std::string> read_only_paths;
  std::vector<std::string> read_write_paths;
  std::vector<BindMount> mounts;
  std::optional<NetworkMode> network;  // unset: the backend's default
  std::vector<std::string> network_allow;  // kAllowlist rules, as written
  std::vector<std::string> network_deny;
  EnvMap env;
  Limits limits;
  std::map<std::string, std::string> labels;
  // Features the caller accepts not getting (e.g. "network", "limits.maxProcesses").
  std::set<std::string> optional_features;
  // Host paths hidden or made read-only even under a visible parent (from
  // the profile, "~" expanded; "*/x" means x below every visible path).
  std::vector<std::string> protected_paths;

  bool accepts_without(const std::string& feature) const {
    return optional_features.count(feature) > 0;
  }
};

}  // namespace agentd::policy
