#pragma once

#include <sys/types.h>

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

}  // namespace agentd::sandbox::linuxns
