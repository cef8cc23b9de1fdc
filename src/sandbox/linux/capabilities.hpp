#pragma once

#include "base/result.hpp"

namespace agentd::sandbox::linuxns {

// Sets no_new_privs, empties the capability bounding set, the ambient set
// and the effective/permitted/inheritable sets, and locks the securebits so
// uid 0 regains nothing on execve. Irreversible for the calling process.
base::Status drop_all_privileges();

}  // namespace agentd::sandbox::linuxns
