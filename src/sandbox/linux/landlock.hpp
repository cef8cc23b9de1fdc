#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace agentd::sandbox::linuxns {

// Paths (as the sandboxed process sees them) and what may be done beneath.
struct LandlockRules {
  std::vector<std::string> read_only;   // read files, list dirs, execute
  std::vector<std::string> read_write;  // every filesystem right
  std::vector<std::string> devices;     // read, write, truncate, ioctl on device files
  bool scope_abstract_unix_sockets = true;  // ABI >= 6: no connecting out of the domain
  bool scope_signals = true;                // ABI >= 6: no signals out of the domain
};

struct LandlockReport {
  int abi = 0;
  uint64_t handled_fs = 0;   // every fs right the ABI knows
  uint64_t handled_net = 0;  // network rights handled (0: left to the net namespace)
  uint64_t scoped = 0;
  std::string summary;       // e.g. "Landlock ABI 7: 16 fs rights, scopes: abstract-unix, signal"
};

// The Landlock ABI of the running kernel, 0 when Landlock is unavailable.
int landlock_abi();

// Creates a ruleset that handles every filesystem right of the kernel's ABI
// (so nothing is silently unrestricted), adds the rules and restricts the
// calling thread (and its future children). Rule paths are resolved when
// called (symlinks followed); a path that is not a directory gets only the
// file rights of its list. Network rights are not handled: the network
// namespace confines the network, and loopback TCP inside must keep working.
// Requires no_new_privs (set by the caller; not set here). A missing path in
// the rules is skipped; any other failure is an error naming the step and
// path, e.g. `landlock_add_rule("/workspace"): Invalid argument`.
base::Result<LandlockReport> apply_landlock(const LandlockRules& rules);

}  // namespace agentd::sandbox::linuxns
