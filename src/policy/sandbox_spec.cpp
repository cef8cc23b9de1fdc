#include "policy/sandbox_spec.hpp"

namespace agentd::policy {

const char* isolation_name(Isolation isolation) {
  return isolation == Isolation::kNone ? "none" : "linux";
}

const char* network_name(NetworkMode mode) { return mode == NetworkMode::kNone ? "none" : "host"; }

}  // namespace agentd::policy
