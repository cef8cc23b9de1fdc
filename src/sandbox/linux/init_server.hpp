#pragma once

namespace agentd::sandbox::linuxns {

// The sandbox init's loop after set-up: forks each command agentd asks for
// (stdio from passed descriptors, own process group, rlimits), reaps every
// process of the namespace (it is PID 1), reports exits, forwards kills.
// Returns when agentd closes the control channel; the kernel then kills
// everything left in the PID namespace.
int serve_execs(int control_fd);

}  // namespace agentd::sandbox::linuxns
