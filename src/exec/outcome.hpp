#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "exec/child.hpp"

namespace agentd::exec {

// Final status of an exec: a status plus a reason, like sandbox2's Result.
enum class ExecStatus {
  kExited,
  kSignaled,
  kTimeout,
  kKilled,
  kOutputLimit,
  kMemoryLimit,
  kSetupError,
};

const char* status_name(ExecStatus status);

struct ExecOutcome {
  ExecStatus status = ExecStatus::kExited;
  std::string reason;  // human-readable detail, empty for a plain exit
  std::optional<int> exit_code;
  std::optional<int> signal;
  uint64_t duration_ms = 0;
  uint64_t stdout_bytes = 0;
  uint64_t stderr_bytes = 0;
  bool truncated = false;
  std::optional<Usage> usage;
};

}  // namespace agentd::exec
