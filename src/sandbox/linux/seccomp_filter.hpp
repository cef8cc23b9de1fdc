#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace agentd::sandbox::linuxns {

// What the seccomp-bpf filter of a linux sandbox allows beyond the base set.
struct SeccompOptions {
  // AF_INET/AF_INET6 sockets (network "host", or the loopback of "none").
  // AF_UNIX is always allowed; every other family is refused.
  bool allow_inet_sockets = true;
};

// Builds the filter with libseccomp (native architecture only; other
// architectures such as x32 or i386 are killed) and loads it into the calling
// process and its future children. Denied syscalls fail with EPERM.
// Requires no_new_privs (or CAP_SYS_ADMIN). Returns a one-line description
// of what was loaded, or an error naming the libseccomp step that failed.
base::Result<std::string> install_seccomp_filter(const SeccompOptions& options);

// Names of the syscalls the filter denies outright (for docs and reports).
std::vector<std::string> denied_syscall_names();

}  // namespace agentd::sandbox::linuxns
