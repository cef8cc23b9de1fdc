#pragma once

#include <string>
#include <variant>

#include "base/unique_fd.hpp"
#include "policy/sandbox_spec.hpp"
#include "sandbox/backend.hpp"

namespace agentd::sandbox {

// A sandbox's workdir on the host: made by agentd (and removed with the
// sandbox) or given by the caller (never removed).
struct Workdir {
  std::string path;
  base::UniqueFd fd;  // O_PATH directory, the root of every path resolution
  bool created = false;
};

// Creates `<root>/<sandbox_id>-XXXXXX` (0700), or opens spec.workdir.
std::variant<Workdir, CreateError> open_workdir(const policy::SandboxSpec& spec,
                                                const std::string& root,
                                                const std::string& sandbox_id);

// Removes a workdir agentd created; true when it is gone.
bool remove_workdir(const std::string& path);

// Default parent directory for workdirs: $XDG_STATE_HOME/agentd/sandboxes,
// else /tmp/agentd-<uid>.
std::string default_workdir_root();

}  // namespace agentd::sandbox
