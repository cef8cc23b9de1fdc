#include "exec/outcome.hpp"

namespace agentd::exec {

const char* status_name(ExecStatus status) {
  switch (status) {
    case ExecStatus::kExited:
      return "exited";
    case ExecStatus::kSignaled:
      return "signaled";
    case ExecStatus::kTimeout:
      return "timeout";
    case ExecStatus::kKilled:
      return "killed";
    case ExecStatus::kOutputLimit:
      return "outputLimit";
    case ExecStatus::kMemoryLimit:
      return "memoryLimit";
    case ExecStatus::kSetupError:
      return "setupError";
  }
  return "exited";
}

}  // namespace agentd::exec
