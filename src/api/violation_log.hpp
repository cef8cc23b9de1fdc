#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "base/token_bucket.hpp"

namespace agentd::api {

// Counts a sandbox's violations by kind and decides which are sent as
// sandbox/violation: a burst of kBurst, then kPerSecond. A process looping on
// a denied syscall must not flood the client; the counts stay exact.
class ViolationLog {
 public:
  static constexpr double kBurst = 50;
  static constexpr double kPerSecond = 20;
  using Clock = base::TokenBucket::Clock;

  // Counts one; true when it should be sent.
  bool admit(const std::string& kind, Clock::time_point now);
  // How many were only counted since the last one sent, and resets it.
  uint64_t take_suppressed();
  const std::map<std::string, uint64_t>& counts() const { return counts_; }
  uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  std::map<std::string, uint64_t> counts_;
  base::TokenBucket sent_{kBurst, kPerSecond};
  uint64_t suppressed_since_sent_ = 0;
  uint64_t suppressed_total_ = 0;
};

}  // namespace agentd::api
