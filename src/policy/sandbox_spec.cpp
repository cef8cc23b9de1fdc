#include "policy/sandbox_spec.hpp"

namespace agentd::policy {

const char* isolation_name(Isolation isolation) {
  return isolation == Isolation::kNone ? "none" : "linux";
}

const char* network_name(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::kNone:
      return "none";
    case NetworkMode::kHost:
      return "host";
    case NetworkMode::kAllowlist:
      return "allowlist";
  }
  return "none";
}

}  // namespace agentd::policy
