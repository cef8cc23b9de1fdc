#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace agentd::sandbox::linuxns {

// Process trees read from /proc (of whichever PID namespace it shows).

// The state letter of /proc/<pid>/stat (R, S, D, T, Z, ...); 0 when gone.
char process_state(pid_t pid);
bool is_zombie(pid_t pid);

// The children of `pid` (all its threads).
std::vector<pid_t> children_of(pid_t pid);

// Every live descendant of `leader`, parents before children.
std::vector<pid_t> descendants_of(pid_t leader);

// The pid a process has in its innermost PID namespace (the last NSpid of
// /proc/<pid>/status); 0 when unknown.
pid_t innermost_pid(pid_t pid);

// The parent of `pid` as this /proc shows it; 0 when gone or outside.
pid_t parent_of(pid_t pid);

// A process of a sandbox as the sandbox sees it: its pid in its innermost PID
// namespace, and its ancestors' (nearest first) up to, not including, the
// sandbox's init (`init_host_pid`).
struct SandboxView {
  pid_t pid = 0;
  std::vector<pid_t> ancestry;
};
SandboxView sandbox_view(pid_t host_pid, pid_t init_host_pid);

// The process among `candidates` (host pids) holding the TCP socket whose
// local port is `local_port` and remote port `remote_port` in the network
// namespace of `netns_pid`; 0 when there is none.
pid_t tcp_socket_owner(pid_t netns_pid, const std::vector<pid_t>& candidates, uint16_t local_port,
                       uint16_t remote_port);

}  // namespace agentd::sandbox::linuxns
