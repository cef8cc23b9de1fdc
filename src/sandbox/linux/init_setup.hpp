#pragma once

#include <string>
#include <variant>
#include <vector>

#include "base/unique_fd.hpp"
#include "sandbox/linux/setup_plan.hpp"

namespace agentd::sandbox::linuxns {

// A feature the init confirmed by a successful syscall, for the capability
// report of sandbox/create.
struct ConfirmedFeature {
  std::string name;
  std::string mechanism;
};

// A built sandbox: what the kernel confirmed, and the descriptors the init
// hands to agentd (invalid when not asked for).
struct BuiltSandbox {
  std::vector<ConfirmedFeature> confirmed;
  base::UniqueFd seccomp_listener;  // user notifications of denied syscalls
  base::UniqueFd proxy_listener;    // 127.0.0.1:proxy_port inside the sandbox
};

// Why building the sandbox failed: the step, the errno and a readable text
// (`pivot_root("/newroot"): Invalid argument`).
struct SetupFailure {
  std::string step;
  int error = 0;
  std::string message;
};

// Runs in the sandbox init (PID 1 of fresh namespaces, root of its user
// namespace): builds the root from the plan, enters it with pivot_root, then
// drops privileges and applies Landlock and seccomp to itself so that every
// command it forks inherits them. Irreversible; on failure the init exits.
std::variant<BuiltSandbox, SetupFailure> build_sandbox(const SandboxSetup& setup);

}  // namespace agentd::sandbox::linuxns
