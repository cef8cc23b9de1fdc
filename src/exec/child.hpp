#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"
#include "policy/environment.hpp"
#include "policy/limits.hpp"

namespace agentd::exec {

struct Usage {
  uint64_t user_time_ms = 0;
  uint64_t system_time_ms = 0;
  uint64_t peak_memory_bytes = 0;
};

// How the leader process of an exec ended.
struct ExitInfo {
  bool signaled = false;
  int exit_code = 0;  // when !signaled
  int signal = 0;     // when signaled
  bool memory_limit_hit = false;  // the OOM killer of its cgroup fired meanwhile
  std::optional<Usage> usage;
};

// A process a backend started for one exec. An exec ends when its leader
// ends; whatever the leader left running in its process group is killed
// then, so no pipe stays open and nothing outlives the exec.
class Child {
 public:
  virtual ~Child() = default;
  virtual int pid() const = 0;
  // Calls `done` once, after the leader ended and its group was killed.
  virtual void on_exit(std::function<void(ExitInfo)> done) = 0;
  // Sends `signal` to every process of the exec (its whole process group).
  virtual void signal_group(int signal) = 0;
};

// What a backend hands back from a launch: the process and agentd's ends of
// its stdio pipes (stdin may be empty when the exec asked for /dev/null).
// On a pseudo-terminal, stdout_reader and stdin_writer are the master side,
// stderr_reader is empty and pty_master is kept for resizing.
struct LaunchedChild {
  std::unique_ptr<Child> child;
  base::UniqueFd stdin_writer;
  base::UniqueFd stdout_reader;
  base::UniqueFd stderr_reader;
  base::UniqueFd pty_master;
};

struct PtySize {
  uint16_t cols = 80;
  uint16_t rows = 24;
};

// A launch request, in the sandbox's own terms (cwd as the sandbox sees it).
struct LaunchRequest {
  std::vector<std::string> argv;
  std::optional<std::string> cwd;
  policy::EnvMap env;
  bool stdin_pipe = false;
  std::optional<PtySize> pty;  // run on a pseudo-terminal: own session, controlling tty
  policy::Limits limits;
};

// Why a launch did not happen. `field` is set when the request itself is at
// fault (a bad cwd): the caller answers InvalidParams. Otherwise the exec
// ends with status setupError and this message as its reason.
struct LaunchFailure {
  std::string field;
  std::string message;
};

}  // namespace agentd::exec
