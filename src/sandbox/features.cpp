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

}  // namespace agentd::sandbox
