#pragma once

#include <sys/types.h>

#include <string>

namespace agentd::sandbox {

// Cleans up after agentd even when agentd is SIGKILLed. A small process,
// forked at start-up, is told over a socket what agentd creates (workdirs,
// cgroup directories, host-direct process groups) and forgets; when the
// socket closes because agentd died, it kills and removes what is left.
// With no janitor started, every call is a no-op.
class Janitor {
 public:
  // Forks the watcher. Call once, early, while agentd is single-threaded.
  static void start();

  static void track_path(const std::string& path) { send('P', '+', path); }
  static void forget_path(const std::string& path) { send('P', '-', path); }
  static void track_cgroup(const std::string& dir) { send('C', '+', dir); }
  static void forget_cgroup(const std::string& dir) { send('C', '-', dir); }
  static void track_process_group(pid_t pgid) { send('G', '+', std::to_string(pgid)); }
  static void forget_process_group(pid_t pgid) { send('G', '-', std::to_string(pgid)); }

 private:
  static void send(char kind, char op, const std::string& value);
};

}  // namespace agentd::sandbox
