#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "policy/sandbox_spec.hpp"
#include "sandbox/linux/setup_plan.hpp"

namespace agentd::sandbox::linuxns {

// A host path the sandbox sees, and where.
struct VisiblePath {
  std::string field;   // the request field that made it visible ("readOnlyPaths", ...)
  std::string source;  // host path
  std::string target;  // path inside the sandbox
  bool writable = false;
};

// Plans the steps that hide each protected path lying under a visible path
// (an empty read-only tmpfs over a directory, /dev/null over a file) and
// make every "*/x" entry (e.g. .git/hooks) read-only below writable paths.
// Runs after the visible paths are mounted. Fails, naming the field, when a
// visible path is itself protected or lies inside a protected path.
base::Result<std::vector<MountStep>> plan_protected_paths(
    const std::vector<std::string>& protected_paths, const std::vector<VisiblePath>& visible);

}  // namespace agentd::sandbox::linuxns
