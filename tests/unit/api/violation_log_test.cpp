#include "api/violation_log.hpp"

#include <gtest/gtest.h>

namespace agentd::api {
namespace {

using namespace std::chrono_literals;

TEST(ViolationLog, SendsABurstThenOnlyCountsUntilTimeRefillsIt) {
  ViolationLog log;
  auto t0 = ViolationLog::Clock::time_point{} + 1h;
  int sent = 0;
  for (int i = 0; i < 80; ++i) sent += log.admit("syscall", t0);
  EXPECT_EQ(sent, int(ViolationLog::kBurst));
  EXPECT_EQ(log.counts().at("syscall"), 80u);
  EXPECT_EQ(log.suppressed_total(), 80u - uint64_t(ViolationLog::kBurst));
  // A second later, kPerSecond more go out; the first says how many it skipped.
  auto t1 = t0 + 1s;
  EXPECT_TRUE(log.admit("network", t1));
  EXPECT_EQ(log.take_suppressed(), 80u - uint64_t(ViolationLog::kBurst));
  EXPECT_EQ(log.take_suppressed(), 0u);
  int later = 1;
  for (int i = 0; i < 100; ++i) later += log.admit("network", t1);
  EXPECT_EQ(later, int(ViolationLog::kPerSecond));
  EXPECT_EQ(log.counts().at("network"), 101u);
}

TEST(ViolationLog, ClockGoingBackwardsGrantsNothing) {
  ViolationLog log;
  auto t0 = ViolationLog::Clock::time_point{} + 1h;
  for (int i = 0; i < int(ViolationLog::kBurst); ++i) ASSERT_TRUE(log.admit("syscall", t0));
  EXPECT_FALSE(log.admit("syscall", t0 - 10s));
}

}  // namespace
}  // namespace agentd::api
