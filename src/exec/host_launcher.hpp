#pragma once

#include <boost/asio/io_context.hpp>
#include <variant>

#include "exec/child.hpp"

namespace agentd::exec {

// Everything a host launch needs, already resolved by the caller.
struct HostLaunchPlan {
  std::string executable;  // absolute path
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"
  int cwd_fd = -1;               // directory to fchdir into (borrowed)
  bool stdin_pipe = false;
  std::optional<PtySize> pty;
  policy::Limits limits;         // rlimits applied in the child
};

// Starts a process on the host with Boost.Process v2: its own process group,
// PDEATHSIG, clean signal state, rlimits, only fds 0-2 open.
std::variant<LaunchedChild, LaunchFailure> launch_on_host(boost::asio::io_context& io,
                                                          const HostLaunchPlan& plan);

// Finds `name` on `path_list` (colon-separated) the way execvp would.
std::optional<std::string> find_on_path(const std::string& name, const std::string& path_list);

}  // namespace agentd::exec
