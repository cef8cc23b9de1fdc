#include "policy/limits.hpp"

namespace agentd::policy {

Limits default_limits() {
  Limits limits;
  limits.max_output_bytes = 64ull << 20;
  limits.max_open_files = 1024;
  return limits;
}

Limits overlay(const Limits& base, const Limits& overrides) {
  Limits out = base;
  for (const auto& field : kLimitFields) {
    if (overrides.*field.member) out.*field.member = overrides.*field.member;
  }
  return out;
}

base::Result<Limits> lower_limits(const Limits& sandbox, const Limits& exec) {
  for (const auto& field : kLimitFields) {
    const auto& asked = exec.*field.member;
    const auto& ceiling = sandbox.*field.member;
    if (asked && ceiling && *asked > *ceiling) {
      return base::plain_error(std::string(field.wire_name) + ": " + std::to_string(*asked) +
                               " exceeds the sandbox's limit of " + std::to_string(*ceiling) +
                               "; an exec may lower its sandbox's limits, never raise them");
    }
  }
  return overlay(sandbox, exec);
}

}  // namespace agentd::policy
