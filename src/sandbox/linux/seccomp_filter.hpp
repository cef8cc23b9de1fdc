#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace agentd::sandbox::linuxns {

// What the seccomp-bpf filter of a linux sandbox allows beyond the base set.
struct SeccompOptions {
  // AF_INET/AF_INET6 sockets (network "host", or the loopback of "none").
  // AF_UNIX is always allowed; every other family is refused.
  bool allow_inet_sockets = true;
  // Denied syscalls go to a user-notification listener (SECCOMP_RET_USER_NOTIF)
  // whose supervisor answers each with the same errno and reports it. Taken
  // only when the kernel and libseccomp support it (see notify_supported()).
  bool report_violations = false;
};

struct SeccompInstalled {
  std::string description;   // one line for the capability report
  base::UniqueFd listener;   // the user-notification fd, when reporting
};

// Builds the filter with libseccomp (native architecture only; syscalls of
// other ABIs, such as x32 or i386 via int 0x80, kill the process) and loads it
// into the calling thread and its future children. Allows by default; denied
// syscalls fail with EPERM, clone3 with ENOSYS (glibc then falls back to
// clone, whose namespace flags are checked), refused socket families with
// EAFNOSUPPORT. Does not set no_new_privs itself: the caller sets it first
// (without it, or CAP_SYS_ADMIN, loading fails with EACCES). Single-threaded
// callers only (no TSYNC). Returns a one-line description of what was
// loaded, or an error naming the libseccomp step that failed.
base::Result<SeccompInstalled> install_seccomp_filter(const SeccompOptions& options);

// Whether denials can be reported through a user-notification listener: the
// kernel offers the action and libseccomp speaks its API (level >= 5).
bool notify_supported();

// The errno a denied syscall fails with: EAFNOSUPPORT for a refused socket
// family, EPERM otherwise. The supervisor answers notifications with it, so
// reporting changes nothing for the sandboxed process.
int denial_errno(int syscall_nr);

// The name of a syscall number of the native architecture ("syscall 451"
// when libseccomp does not know it).
std::string syscall_name(int syscall_nr);

// Names of the syscalls the filter denies outright on this architecture,
// whatever their arguments (for docs, reports and tests).
std::vector<std::string> denied_syscall_names();

}  // namespace agentd::sandbox::linuxns
