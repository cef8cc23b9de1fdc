#include "api/violation_log.hpp"

#include <algorithm>

namespace agentd::api {

bool ViolationLog::admit(const std::string& kind, Clock::time_point now) {
  ++counts_[kind];
  if (refilled_ != Clock::time_point{}) {
    double seconds = std::chrono::duration<double>(now - refilled_).count();
    tokens_ = std::min(kBurst, tokens_ + std::max(0.0, seconds) * kPerSecond);
  }
  refilled_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return true;
  }
  ++suppressed_since_sent_;
  ++suppressed_total_;
  return false;
}

uint64_t ViolationLog::take_suppressed() {
  uint64_t n = suppressed_since_sent_;
  suppressed_since_sent_ = 0;
  return n;
}

}  // namespace agentd::api
