#include "sandbox/features.hpp"

namespace agentd::sandbox {

const char* state_name(FeatureState::State state) {
  switch (state) {
    case FeatureState::State::kEnforced:
      return "enforced";
    case FeatureState::State::kAvailable:
      return "available";
    case FeatureState::State::kUnavailable:
      return "unavailable";
    case FeatureState::State::kNotRequested:
      return "notRequested";
  }
  return "unavailable";
}

policy::Limits enforced_limits(policy::Limits limits, const std::vector<FeatureState>& capabilities) {
  for (const auto& field : policy::kLimitFields) {
    for (const auto& f : capabilities) {
      if (f.name == std::string("limits.") + field.wire_name &&
          f.state == FeatureState::State::kUnavailable) {
        limits.*field.member = std::nullopt;
      }
    }
  }
  return limits;
}

}  // namespace agentd::sandbox
