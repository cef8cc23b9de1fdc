#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/sandbox_spec.hpp"
#include "sandbox/linux/landlock.hpp"

namespace agentd::sandbox::linuxns {

// One operation of building a sandbox's root, bubblewrap-style: planned by
// agentd, executed in order by the sandbox init. Targets are paths as the
// sandbox sees them; bind sources are host paths.
struct MountStep {
  enum class Kind { kBind, kTmpfs, kProc, kDevpts, kSymlink, kDir, kFile };
  Kind kind = Kind::kDir;
  std::string source;       // kBind: host path; kSymlink: link target; kFile: content
  std::string target;
  bool read_only = true;    // kBind, kTmpfs
  bool optional = false;    // kBind: skip when the source does not exist
  bool devices = false;     // kBind: keep device nodes usable (no MS_NODEV)
  uint64_t size_bytes = 0;  // kTmpfs
  int mode = 0755;          // kTmpfs, kDir, kFile
};

// Everything the init needs to build the sandbox, sent as its first message.
struct SandboxSetup {
  std::vector<MountStep> mounts;
  std::string hostname = "agentd";
  std::string workdir = "/workspace";  // as seen inside
  bool own_network = true;             // bring loopback up in the new net namespace
  bool seccomp = true;
  bool seccomp_allow_inet = true;
  bool seccomp_report = false;  // denials through a user-notification listener
  // Non-zero: a TCP listener on 127.0.0.1:proxy_port, made in the sandbox's
  // network namespace and handed to agentd, whose egress proxy serves it.
  uint16_t proxy_port = 0;
  bool cgroup_namespace = true;  // unshare(CLONE_NEWCGROUP) once in the sandbox's cgroup
  bool landlock = true;
  LandlockRules landlock_rules;
};

nlohmann::json to_json(const SandboxSetup& setup);
base::Result<SandboxSetup> setup_from_json(const nlohmann::json& json);

// Plans the root of a linux sandbox for `spec`, with `host_workdir` bound
// read-write at /workspace. Fails when a caller-given path is unusable.
base::Result<SandboxSetup> plan_sandbox_setup(const policy::SandboxSpec& spec,
                                              const std::string& host_workdir);

}  // namespace agentd::sandbox::linuxns
