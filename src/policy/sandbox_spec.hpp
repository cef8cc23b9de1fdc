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
enum class NetworkMode { kNone, kHost };

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
  std::string profile;
  std::optional<std::string> workdir;  // an existing host directory to use
  bool keep_workdir = false;
  std::vector<std::string> read_only_paths;
  std::vector<std::string> read_write_paths;
  std::vector<BindMount> mounts;
  std::optional<NetworkMode> network;  // unset: the backend's default
  EnvMap env;
  Limits limits;
  std::map<std::string, std::string> labels;
  // Features the caller accepts not getting (e.g. "network", "limits.maxProcesses").
  std::set<std::string> optional_features;

  bool accepts_without(const std::string& feature) const {
    return optional_features.count(feature) > 0;
  }
};

}  // namespace agentd::policy
