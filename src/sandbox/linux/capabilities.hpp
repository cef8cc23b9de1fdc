#pragma once

#include "base/result.hpp"

namespace agentd::sandbox::linuxns {

// Sets no_new_privs, locks the securebits (so uid 0 regains nothing on
// execve, uid changes keep the sets as they are and ambient capabilities
// cannot be raised), then empties the ambient set, the bounding set and the
// effective/permitted/inheritable sets, and reads everything back.
// Irreversible for the calling process; calling it again succeeds.
// Needs CAP_SETPCAP when called (e.g. as uid 0 of the sandbox's user
// namespace); without it the securebits step fails and is named.
base::Status drop_all_privileges();

}  // namespace agentd::sandbox::linuxns
