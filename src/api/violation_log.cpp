#include "api/violation_log.hpp"


namespace agentd::api {

bool ViolationLog::admit(const std::string& kind, Clock::time_point now) {
  ++counts_[kind];
  if (sent_.admit(now)) return true;
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
