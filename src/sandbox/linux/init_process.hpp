#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "base/unique_fd.hpp"
#include "sandbox/linux/setup_plan.hpp"

namespace agentd::sandbox::linuxns {

// The uid/gid that root inside the sandbox is on the host. When agentd runs
// as root, sandboxes get a dedicated unprivileged id so nothing they create
// (a setuid file in the workdir, say) is owned by host root; otherwise the
// caller's own ids.
struct IdMapping {
  uid_t outside_uid;
  gid_t outside_gid;
  bool privileged;  // agentd is root: may map any id, setgroups stays allowed
};
inline constexpr uid_t kSandboxUid = 1000000000;
IdMapping default_id_mapping();

struct InitStartError {
  std::string step;
  std::string message;
};

// A running sandbox init: its host pid and agentd's end of the control channel.
struct InitProcess {
  pid_t pid = -1;
  base::UniqueFd control;
  std::vector<std::pair<std::string, std::string>> confirmed;  // feature, mechanism
  base::UniqueFd seccomp_listener;  // when the setup asked for seccomp_report
  base::UniqueFd proxy_listener;    // when the setup had a proxy_port
};

struct InitLaunch {
  int helper_fd = -1;         // O_PATH of agentd-sandbox-init
  int namespace_flags = 0;    // CLONE_NEW*
  IdMapping ids{};
  SandboxSetup setup;
  // Runs in agentd between clone and the init's start (e.g. cgroup placement).
  std::function<std::string(pid_t)> before_start;
};

// Clones a child into new namespaces, maps its ids, lets it exec the init,
// sends the setup and waits (bounded) for `ready`. On failure, the child is
// killed and reaped and the error names the step (`pivot_root("/tmp"): ...`).
std::variant<InitProcess, InitStartError> start_init(const InitLaunch& launch);

// Kills (SIGKILL) and reaps an init; its PID namespace dies with it.
void stop_init(pid_t pid);

}  // namespace agentd::sandbox::linuxns
