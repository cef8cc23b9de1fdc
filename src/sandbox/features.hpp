#pragma once

#include <string>
#include <vector>

#include "policy/limits.hpp"

namespace agentd::sandbox {

// What one isolation or limit feature is doing. Reported per sandbox (what is
// enforced) and per backend at probe time (what this machine could enforce).
// Only a kernel-confirmed feature is ever kEnforced or kAvailable.
struct FeatureState {
  enum class State { kEnforced, kAvailable, kUnavailable, kNotRequested };
  std::string name;       // e.g. "filesystem", "network", "limits.wallTimeMs"
  State state = State::kUnavailable;
  std::string mechanism;  // how it is enforced, e.g. "RLIMIT_CPU"
  std::string reason;     // why it is unavailable, and the fix when there is one
};

const char* state_name(FeatureState::State state);

inline FeatureState enforced(std::string name, std::string mechanism) {
  return {std::move(name), FeatureState::State::kEnforced, std::move(mechanism), ""};
}
inline FeatureState available(std::string name, std::string mechanism) {
  return {std::move(name), FeatureState::State::kAvailable, std::move(mechanism), ""};
}
inline FeatureState unavailable(std::string name, std::string reason) {
  return {std::move(name), FeatureState::State::kUnavailable, "", std::move(reason)};
}
inline FeatureState not_requested(std::string name) {
  return {std::move(name), FeatureState::State::kNotRequested, "", ""};
}

// A backend as `initialize` describes it.
struct BackendInfo {
  std::string name;       // "host-direct", "linux"
  std::string isolation;  // the value of sandbox/create's `isolation`
  bool available = false;
  std::string reason;     // when !available
  std::vector<FeatureState> features;
};

// The limits a sandbox really has: what was asked, minus those its
// capabilities report unavailable (accepted as optional by the caller).
policy::Limits enforced_limits(policy::Limits limits, const std::vector<FeatureState>& capabilities);

}  // namespace agentd::sandbox
