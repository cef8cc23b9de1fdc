#pragma once

#include <algorithm>
#include <chrono>

namespace agentd::base {

// Admits a burst of `burst` events, then `per_second` on average: bounds
// work a sandbox can make agentd do (reports, /proc lookups) however fast it
// provokes it.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double burst, double per_second) : burst_(burst), rate_(per_second), tokens_(burst) {}

  bool admit(Clock::time_point now) {
    if (refilled_ != Clock::time_point{}) {
      double seconds = std::chrono::duration<double>(now - refilled_).count();
      tokens_ = std::min(burst_, tokens_ + std::max(0.0, seconds) * rate_);
    }
    refilled_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double burst_;
  double rate_;
  double tokens_;
  Clock::time_point refilled_{};
};

}  // namespace agentd::base
