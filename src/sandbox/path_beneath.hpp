#pragma once

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace agentd::sandbox {

// Maps a path as the caller gives it (relative to `root`, or absolute and
// under `root_path`) to a path relative to root. Rejects NUL bytes and paths
// outside root_path. Does no I/O; the kernel does the real confinement.
base::Result<std::string> relative_to_root(const std::string& root_path, const std::string& path);

// Opens `relative` beneath the directory `root_fd` with openat2
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, so `..`, absolute symlinks and
// symlinks swapped in meanwhile cannot lead outside. `flags` are open flags
// (O_CLOEXEC is always added).
base::Result<base::UniqueFd> open_beneath(int root_fd, const std::string& relative, int flags,
                                          int mode = 0);

}  // namespace agentd::sandbox
